"""Credentials the agent could take: secrets in its environment and credential files it can read.

Values are looked at only to classify them (the shape of a key, whether a file holds a token);
nothing read here leaves this module except the kind of secret and where it is.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from corral.audit.checks.base import (
    NotAFile,
    Out,
    dangling,
    expand,
    read_head,
)
from corral.audit.config import AuditConfig
from corral.sinks.redact import default_redactor, secret_name_kind, secret_variable

# Variables whose names say "payment" or "billing": a key there can spend money directly.
_PAYMENT_NAME = re.compile(
    r"(?i)stripe|paypal|braintree|square|adyen|paddle|razorpay|plaid|checkout|mollie|"
    r"billing|payment|coinbase|wise_api"
)
_LIVE_PAYMENT = re.compile(r"^(?:sk|rk)_live_")


# ---------------------------------------------------------------------------------------------
# Environment variables
# ---------------------------------------------------------------------------------------------


def check_env_secrets(cfg: AuditConfig, out: Out) -> None:
    for name in sorted(cfg.env):
        classify_variable(name, cfg.env[name], out)


def classify_variable(name: str, value: str, out: Out) -> None:
    """Report ``name`` if its name or value marks it as a secret; the value is never kept."""
    secret = secret_variable(name, value)
    if secret is None:
        return
    shapes, named = list(secret.shapes), secret.named
    evidence = f"env:{name}"
    if "stripe-key" in shapes or _PAYMENT_NAME.search(name):
        live = bool(_LIVE_PAYMENT.match(value))
        out.add(
            "CR-AUD-053",
            evidence,
            severity="critical" if live else "high",
            detail=f"payment credential ({', '.join(shapes) or named}; "
            f"{'live mode' if live else 'mode unknown or test'})",
        )
    elif shapes:
        out.add("CR-AUD-002", evidence, detail=f"value has the shape of: {', '.join(shapes)}")
    else:
        out.add("CR-AUD-001", evidence, detail=f"variable name marks a {named}")


# ---------------------------------------------------------------------------------------------
# Credential files
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CredFile:
    """Where a credential lives (relative to the home, or a system path) and how to tell."""

    kind: str
    pattern: str
    label: str
    marker: re.Pattern[str] | None = None
    system: bool = False
    directory: bool = False


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.MULTILINE)


_PASSWORD_LINE = _re(r"^\s*password\s*[=:]")
_URL_WITH_PASSWORD = _re(r"://[^/\s:@]+:[^@\s/]+@")

CRED_FILES: tuple[CredFile, ...] = (
    # cloud CLIs
    CredFile("CR-AUD-003", ".aws/credentials", "AWS CLI credentials"),
    CredFile(
        "CR-AUD-003",
        ".aws/config",
        "AWS CLI config with credentials or role settings",
        _re(r"^\s*(aws_secret_access_key|aws_session_token|credential_process|role_arn)\s*="),
    ),
    CredFile("CR-AUD-003", ".aws/sso/cache/*.json", "AWS SSO token cache"),
    CredFile("CR-AUD-003", ".aws/cli/cache/*.json", "AWS CLI session cache"),
    CredFile("CR-AUD-003", ".config/gcloud/credentials.db", "gcloud credential store"),
    CredFile("CR-AUD-003", ".config/gcloud/access_tokens.db", "gcloud access tokens"),
    CredFile(
        "CR-AUD-003",
        ".config/gcloud/application_default_credentials.json",
        "Google application default credentials",
    ),
    CredFile(
        "CR-AUD-003", ".config/gcloud/legacy_credentials/*/adc.json", "gcloud legacy credentials"
    ),
    CredFile("CR-AUD-003", ".azure/accessTokens.json", "Azure CLI access tokens"),
    CredFile("CR-AUD-003", ".azure/msal_token_cache.json", "Azure CLI token cache"),
    CredFile("CR-AUD-003", ".azure/msal_token_cache.bin", "Azure CLI token cache"),
    CredFile("CR-AUD-003", ".azure/service_principal_entries.json", "Azure service principal"),
    CredFile("CR-AUD-003", ".oci/config", "Oracle Cloud CLI config"),
    CredFile("CR-AUD-003", ".config/doctl/config.yaml", "DigitalOcean CLI token"),
    CredFile("CR-AUD-003", ".config/hcloud/cli.toml", "Hetzner Cloud CLI token"),
    CredFile("CR-AUD-003", ".terraform.d/credentials.tfrc.json", "Terraform Cloud token"),
    CredFile("CR-AUD-003", ".vault-token", "HashiCorp Vault token"),
    CredFile("CR-AUD-003", ".boto", "boto / gsutil credentials"),
    CredFile("CR-AUD-003", ".s3cfg", "s3cmd credentials"),
    CredFile("CR-AUD-003", ".config/rclone/rclone.conf", "rclone remotes"),
    CredFile("CR-AUD-003", ".databrickscfg", "Databricks CLI token"),
    # Kubernetes
    # (kubeconfigs are parsed separately: ~/.kube/config and every file in $KUBECONFIG)
    CredFile(
        "CR-AUD-005",
        "var/run/secrets/kubernetes.io/serviceaccount/token",
        "Kubernetes service-account token",
        system=True,
    ),
    CredFile(
        "CR-AUD-005",
        "run/secrets/kubernetes.io/serviceaccount/token",
        "Kubernetes service-account token",
        system=True,
    ),
    CredFile(
        "CR-AUD-005",
        "var/run/secrets/eks.amazonaws.com/serviceaccount/token",
        "EKS web-identity token",
        system=True,
    ),
    CredFile("CR-AUD-005", "var/run/secrets/tokens/*", "projected token", system=True),
    # git and netrc
    CredFile("CR-AUD-007", ".netrc", "netrc with passwords", _re(r"\bpassword\b")),
    CredFile("CR-AUD-007", "_netrc", "netrc with passwords", _re(r"\bpassword\b")),
    CredFile("CR-AUD-007", ".git-credentials", "git credential store"),
    CredFile("CR-AUD-007", ".config/git/credentials", "git credential store"),
    CredFile("CR-AUD-007", ".config/gh/hosts.yml", "GitHub CLI token", _re(r"oauth_token")),
    CredFile("CR-AUD-007", ".config/hub", "hub CLI token", _re(r"oauth_token")),
    # container registries (docker's config.json is parsed separately)
    CredFile("CR-AUD-008", ".config/containers/auth.json", "podman/skopeo registry auth"),
    # package registries
    CredFile("CR-AUD-009", ".npmrc", "npm token", _re(r"(_authToken|_auth|_password)\s*=")),
    CredFile("CR-AUD-009", ".yarnrc.yml", "yarn token", _re(r"npmAuthToken")),
    CredFile("CR-AUD-009", ".pypirc", "PyPI upload credentials", _PASSWORD_LINE),
    CredFile("CR-AUD-009", ".config/pip/pip.conf", "pip index with password", _URL_WITH_PASSWORD),
    CredFile("CR-AUD-009", ".pip/pip.conf", "pip index with password", _URL_WITH_PASSWORD),
    CredFile("CR-AUD-009", ".config/pypoetry/auth.toml", "Poetry repository credentials"),
    CredFile("CR-AUD-009", ".cargo/credentials", "crates.io token"),
    CredFile("CR-AUD-009", ".cargo/credentials.toml", "crates.io token"),
    CredFile("CR-AUD-009", ".gem/credentials", "RubyGems API key"),
    CredFile("CR-AUD-009", ".m2/settings.xml", "Maven server passwords", _re(r"<password>")),
    CredFile(
        "CR-AUD-009",
        ".gradle/gradle.properties",
        "Gradle repository credentials",
        _re(r"^\s*\S*(password|token|secret)\S*\s*[=:]"),
    ),
    CredFile(
        "CR-AUD-009",
        ".nuget/NuGet/NuGet.Config",
        "NuGet feed passwords",
        _re(r"ClearTextPassword|\"Password\""),
    ),
    CredFile("CR-AUD-009", ".config/composer/auth.json", "Composer auth"),
    CredFile("CR-AUD-009", ".composer/auth.json", "Composer auth"),
    CredFile("CR-AUD-009", ".cache/huggingface/token", "Hugging Face token"),
    CredFile("CR-AUD-009", ".huggingface/token", "Hugging Face token"),
    # browsers and keyrings
    CredFile("CR-AUD-010", ".mozilla/firefox/*/logins.json", "Firefox saved logins"),
    CredFile("CR-AUD-010", ".mozilla/firefox/*/key4.db", "Firefox key store"),
    CredFile("CR-AUD-010", ".mozilla/firefox/*/cookies.sqlite", "Firefox cookies"),
    CredFile("CR-AUD-010", ".config/google-chrome/*/Login Data", "Chrome saved logins"),
    CredFile("CR-AUD-010", ".config/google-chrome/*/Cookies", "Chrome cookies"),
    CredFile("CR-AUD-010", ".config/chromium/*/Login Data", "Chromium saved logins"),
    CredFile("CR-AUD-010", ".config/chromium/*/Cookies", "Chromium cookies"),
    CredFile(
        "CR-AUD-010", ".config/BraveSoftware/Brave-Browser/*/Login Data", "Brave saved logins"
    ),
    CredFile("CR-AUD-010", ".config/microsoft-edge/*/Login Data", "Edge saved logins"),
    CredFile("CR-AUD-010", ".local/share/keyrings/*.keyring", "GNOME keyring"),
    CredFile("CR-AUD-010", ".local/share/kwalletd/*.kwl", "KDE wallet"),
    CredFile("CR-AUD-010", ".password-store", "pass password store", directory=True),
    CredFile("CR-AUD-010", ".gnupg/private-keys-v1.d", "GnuPG private keys", directory=True),
    # other secrets
    CredFile("CR-AUD-012", "etc/shadow", "password hashes", system=True),
    CredFile("CR-AUD-012", "etc/gshadow", "group password hashes", system=True),
    CredFile("CR-AUD-013", ".pgpass", "PostgreSQL passwords"),
    CredFile("CR-AUD-013", ".my.cnf", "MySQL client password", _PASSWORD_LINE),
    CredFile("CR-AUD-053", ".config/stripe/config.toml", "Stripe CLI keys", _re(r"_key\s*=")),
)

# Variables that name a credential file somewhere else.
_ENV_FILES: tuple[tuple[str, str, str], ...] = (
    (
        "AWS_SHARED_CREDENTIALS_FILE",
        "CR-AUD-003",
        "AWS credentials (from $AWS_SHARED_CREDENTIALS_FILE)",
    ),
    (
        "GOOGLE_APPLICATION_CREDENTIALS",
        "CR-AUD-003",
        "Google credentials (from $GOOGLE_APPLICATION_CREDENTIALS)",
    ),
    (
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "CR-AUD-005",
        "web-identity token (from $AWS_WEB_IDENTITY_TOKEN_FILE)",
    ),
    (
        "AZURE_FEDERATED_TOKEN_FILE",
        "CR-AUD-005",
        "federated token (from $AZURE_FEDERATED_TOKEN_FILE)",
    ),
    ("REGISTRY_AUTH_FILE", "CR-AUD-008", "registry auth (from $REGISTRY_AUTH_FILE)"),
)


def check_credential_files(cfg: AuditConfig, out: Out) -> None:
    home = cfg.home_dir
    for spec in CRED_FILES:
        base = cfg.root if spec.system else home
        for path in expand(base, spec.pattern, out):
            probe_credential(
                path, spec.kind, spec.label, spec.marker, out, directory=spec.directory
            )
    for variable, kind, label in _ENV_FILES:
        value = cfg.env.get(variable)
        if value:
            probe_credential(Path(value).expanduser(), kind, label, None, out)
    for path in kubeconfig_paths(cfg):
        _probe_kubeconfig(path, out)
    _probe_docker_config(cfg, out)
    _probe_dotenv_files(cfg, out)


def probe_credential(
    path: Path,
    kind: str,
    label: str,
    marker: re.Pattern[str] | None,
    out: Out,
    *,
    directory: bool = False,
) -> None:
    """Report ``path`` when the agent can read it (and it holds ``marker``, when given)."""
    if directory:
        _probe_store_dir(path, kind, label, out)
        return
    text = _readable_text(path, out)
    if text is None:
        return
    content, truncated, size = text
    if marker is not None and not marker.search(content):
        if truncated:
            out.could_not(str(path), f"{_size(size)} file; only the first 64 KiB were examined")
        return
    out.add(kind, str(path), detail=label)


def _readable_text(path: Path, out: Out) -> tuple[str, bool, int] | None:
    """The head of ``path`` if the agent can read it; None when absent or unreadable to it."""
    target = dangling(path)
    if target is not None:
        out.could_not(str(path), f"broken symbolic link to {target}")
        return None
    try:
        head = read_head(path)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None  # absent, or the agent cannot read it: nothing to take
    except NotAFile as exc:
        out.could_not(str(path), exc.strerror or "not a regular file")
        return None
    except OSError as exc:
        out.could_not(str(path), exc)
        return None
    return head.text, head.truncated, head.size


def _probe_store_dir(path: Path, kind: str, label: str, out: Out) -> None:
    try:
        entries = [p.name for p in path.iterdir()]
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return
    except OSError as exc:
        out.could_not(str(path), exc)
        return
    if entries:
        out.add(kind, str(path), detail=f"{label} ({len(entries)} entries)")


def _size(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB" if size >= 1024 * 1024 else f"{size} B"


# ---------------------------------------------------------------------------------------------
# SSH keys
# ---------------------------------------------------------------------------------------------

_DEFAULT_KEYS = ("id_rsa", "id_ecdsa", "id_ed25519", "id_dsa", "id_ecdsa_sk", "id_ed25519_sk")
_NOT_KEYS = {"known_hosts", "known_hosts.old", "config", "authorized_keys", "authorized_keys2"}
_OPENSSH_BODY = re.compile(
    r"-----BEGIN OPENSSH PRIVATE KEY-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END", re.S
)


def check_ssh_keys(cfg: AuditConfig, out: Out) -> None:
    folder = cfg.home_dir / ".ssh"
    names = set(_DEFAULT_KEYS)
    names.update(p.name for p in expand(folder, "*", out))
    for name in sorted(names):
        if name in _NOT_KEYS or name.endswith(".pub"):
            continue
        _probe_key(folder / name, out)
    for path in expand(cfg.sys_path("/etc/ssh"), "ssh_host_*_key", out):
        _probe_key(path, out, host_key=True)


def _probe_key(path: Path, out: Out, host_key: bool = False) -> None:
    if not os.path.exists(path) and dangling(path) is None:
        return
    text = _readable_text(path, out)
    if text is None or "PRIVATE KEY-----" not in text[0]:
        return
    encrypted = key_is_encrypted(text[0])
    what = "host key" if host_key else "key"
    out.add(
        "CR-AUD-006",
        str(path),
        severity="medium" if encrypted else "high",
        detail=f"{'passphrase-protected' if encrypted else 'unencrypted'} private {what}",
    )


def key_is_encrypted(text: str) -> bool:
    """Whether a PEM or OpenSSH private key needs a passphrase (from its header only)."""
    if "ENCRYPTED" in text.split("-----END", 1)[0][:400]:
        return True
    body = _OPENSSH_BODY.search(text)
    if body is None:
        return False
    try:
        raw = base64.b64decode("".join(body.group(1).split())[:200] + "==", validate=False)
    except (binascii.Error, ValueError):
        return False
    prefix = b"openssh-key-v1\0"
    if not raw.startswith(prefix) or len(raw) < len(prefix) + 4:
        return False
    length = int.from_bytes(raw[len(prefix) : len(prefix) + 4], "big")
    cipher = raw[len(prefix) + 4 : len(prefix) + 4 + length]
    return cipher not in (b"none", b"")


# ---------------------------------------------------------------------------------------------
# Structured credential files: kubeconfig, docker config, .env
# ---------------------------------------------------------------------------------------------


def kubeconfig_paths(cfg: AuditConfig) -> list[Path]:
    paths = [Path(p).expanduser() for p in cfg.env.get("KUBECONFIG", "").split(":") if p]
    default = cfg.home_dir / ".kube" / "config"
    return list(dict.fromkeys([*paths, default]))


def parse_kubeconfig(text: str) -> tuple[list[str], list[str]]:
    """(kinds of credentials, API server URLs) named in a kubeconfig; empty when unparseable."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return [], []
    if not isinstance(data, dict):
        return [], []
    kinds: set[str] = set()
    for user in _items(data.get("users")):
        entry = user.get("user")
        fields: dict[str, Any] = entry if isinstance(entry, dict) else {}
        for key, label in (
            ("token", "bearer token"),
            ("token-file", "token file"),
            ("client-key-data", "client key"),
            ("client-key", "client key"),
            ("password", "password"),
            ("exec", "exec plugin"),
            ("auth-provider", "auth provider"),
        ):
            if fields.get(key):
                kinds.add(label)
    servers = [
        str(c["cluster"]["server"])
        for c in _items(data.get("clusters"))
        if isinstance(c.get("cluster"), dict) and c["cluster"].get("server")
    ]
    return sorted(kinds), servers


def _items(value: Any) -> Iterable[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _probe_kubeconfig(path: Path, out: Out) -> None:
    text = _readable_text(path, out)
    if text is None:
        return
    kinds, servers = parse_kubeconfig(text[0])
    detail = "kubeconfig"
    if kinds:
        detail += f" with {', '.join(kinds)}"
    if servers:
        detail += f"; clusters: {', '.join(servers[:5])}"
    out.add("CR-AUD-004", str(path), detail=detail)


def _probe_docker_config(cfg: AuditConfig, out: Out) -> None:
    folder = cfg.env.get("DOCKER_CONFIG")
    path = (Path(folder).expanduser() if folder else cfg.home_dir / ".docker") / "config.json"
    runtime = cfg.env.get("XDG_RUNTIME_DIR")
    candidates = [path] + ([Path(runtime) / "containers" / "auth.json"] if runtime else [])
    for candidate in candidates:
        text = _readable_text(candidate, out)
        if text is not None:
            _classify_docker_config(candidate, text[0], out)


def _classify_docker_config(path: Path, text: str, out: Out) -> None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        out.could_not(str(path), f"not valid JSON (line {exc.lineno}): {exc.msg}")
        return
    if not isinstance(data, dict):
        return
    raw_auths = data.get("auths")
    auths: dict[str, Any] = raw_auths if isinstance(raw_auths, dict) else {}
    stored = sorted(
        str(registry)
        for registry, entry in auths.items()
        if isinstance(entry, dict) and (entry.get("auth") or entry.get("identitytoken"))
    )
    if stored:
        out.add(
            "CR-AUD-008",
            str(path),
            detail=f"stored credentials for {len(stored)} registr"
            f"{'y' if len(stored) == 1 else 'ies'}: {', '.join(stored[:5])}",
        )
    helpers = []
    if isinstance(data.get("credsStore"), str):
        helpers.append(str(data["credsStore"]))
    if isinstance(data.get("credHelpers"), dict):
        helpers.extend(str(h) for h in data["credHelpers"].values())
    if helpers:
        names = ", ".join(sorted({f"docker-credential-{h}" for h in helpers}))
        out.add(
            "CR-AUD-008",
            str(path),
            severity="medium",
            detail=f"credential helpers the agent can call: {names}",
        )


_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*[=:]\s*(\S.*)$")


def _probe_dotenv_files(cfg: AuditConfig, out: Out) -> None:
    for path in expand(cfg.workdir, ".env*", out):
        text = _readable_text(path, out)
        if text is None:
            continue
        names = []
        for number, line in enumerate(text[0].splitlines(), 1):
            match = _ASSIGNMENT.match(line)
            if match is None:
                continue
            name, value = match.group(1), match.group(2).strip().strip("\"'")
            if secret_name_kind(name) or default_redactor().redact_text(value)[1]:
                names.append(f"{name} (line {number})")
        if names:
            out.add(
                "CR-AUD-013",
                str(path),
                *names[:10],
                detail=f"dotenv file with {len(names)} secret-named or secret-shaped entries",
            )
