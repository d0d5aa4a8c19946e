"""`corral audit` inside `corral run`: what the audit finds outside the fence (credential files,
credential variables, Corral's state directory) is gone inside it, and no secret is printed."""

from __future__ import annotations

import base64
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from supervision_support import needs_root

pytestmark = needs_root

# AWS's documented example key pair (not a live key), in the credentials file.
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_FILE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
# Distinct values for the variables, so that a leak names its source.
AWS_ENV_SECRET = "Zm9vYmFyYmF6cXV4plantedAWSsecretInTheEnv1"
GITHUB_TOKEN = "ghp_" + "plantedGitHubTokenInTheEnv0123456789"
SSH_MARKER = "plantedSshKeyBodyInsideTest"
VISIBLE = "an ordinary file in the agent's home\n"
SECRETS = (AWS_FILE_SECRET, AWS_ENV_SECRET, GITHUB_TOKEN, SSH_MARKER, AWS_KEY_ID)

# The agent: shows what it sees of its home and of Corral's state directory, then audits from
# inside the fence.
AGENT = """\
cat "$HOME/visible.txt" > seen.txt
ls -A "$CORRAL_STATE_DIR" > state-listing.txt
{corral} audit --inside-sandbox --json --compare outside.json > inside.json
"""


def _openssh_key() -> str:
    """The shape of an unencrypted OpenSSH private key ("none" cipher), no key material."""
    body = b"openssh-key-v1\0" + struct.pack(">I", 4) + b"none" + SSH_MARKER.encode() * 4
    encoded = base64.b64encode(body).decode()
    lines = [encoded[i : i + 70] for i in range(0, len(encoded), 70)]
    return "\n".join(
        ["-----BEGIN OPENSSH PRIVATE KEY-----", *lines, "-----END OPENSSH PRIVATE KEY-----", ""]
    )


def _corral() -> str:
    script = shutil.which("corral", path=os.path.dirname(sys.executable))
    assert script, "the corral console script is installed in the test's environment"
    return script


@dataclass
class Audited:
    home: Path
    state: Path
    workspace: Path
    outside: dict[str, Any]
    inside: dict[str, Any]
    outputs: dict[str, str]  # every output, by where it was written

    def evidence(self, report: dict[str, Any], finding_id: str) -> set[str]:
        return {item for f in report["findings"] if f["id"] == finding_id for item in f["evidence"]}


@pytest.fixture(scope="module")
def planted_base() -> Iterator[Path]:
    """The home and the state directory live outside /tmp: the fence gives the agent a private
    /tmp, which would hide anything planted there whether the fence hid it or not."""
    parent = next(p for p in ("/home", "/srv", "/var/lib") if os.path.isdir(p))
    base = Path(tempfile.mkdtemp(prefix="corral-audit-test-", dir=parent))
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _plant(base: Path) -> tuple[Path, Path]:
    home = base / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(
        f"[default]\naws_access_key_id = {AWS_KEY_ID}\naws_secret_access_key = {AWS_FILE_SECRET}\n"
    )
    (home / ".ssh").mkdir(mode=0o700)
    key = home / ".ssh" / "id_ed25519"
    key.write_text(_openssh_key())
    key.chmod(0o600)
    (home / "visible.txt").write_text(VISIBLE)
    state = base / "state"
    state.mkdir(mode=0o700)
    (state / "evidence.jsonl").write_text("{}\n")
    return home, state


@pytest.fixture(scope="module")
def audited(planted_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Audited:
    home, state = _plant(planted_base)
    workspace = tmp_path_factory.mktemp("audit-inside") / "ws"
    workspace.mkdir()
    corral = _corral()
    (workspace / "agent.sh").write_text(AGENT.format(corral=corral))
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(
        HOME=str(home),
        CORRAL_STATE_DIR=str(state),
        AWS_ACCESS_KEY_ID=AWS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=AWS_ENV_SECRET,
        GITHUB_TOKEN=GITHUB_TOKEN,
    )
    outside = _run([corral, "audit", "--json"], workspace, env)
    (workspace / "outside.json").write_text(outside.stdout)
    log = workspace.parent / "decisions.jsonl"
    startup = workspace.parent / "startup-audit.json"
    run = _run(
        [
            corral,
            "run",
            "-w",
            str(workspace),
            "--log",
            str(log),
            "--audit-report",
            str(startup),
            # the inside audit must look at the same state directory the supervisor hid
            "--pass-env",
            "CORRAL_STATE_DIR",
            "--",
            "sh",
            "agent.sh",
        ],
        workspace,
        env,
    )
    assert run.returncode == 0, run.stderr
    inside = workspace / "inside.json"
    outputs = {
        "outside audit": outside.stdout + outside.stderr,
        "corral run": run.stdout + run.stderr,
        "inside audit": inside.read_text(),
        "start-up audit report": startup.read_text(),
        "decision log": log.read_text(),
    }
    return Audited(
        home,
        state,
        workspace,
        json.loads(outside.stdout),
        json.loads(outputs["inside audit"]),
        outputs,
    )


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_outside_audit_finds_what_was_planted(audited: Audited) -> None:
    # Without this, "not found inside" would prove nothing.
    home, outside = audited.home, audited.outside
    assert str(home / ".aws" / "credentials") in audited.evidence(outside, "CR-AUD-003")
    assert str(home / ".ssh" / "id_ed25519") in audited.evidence(outside, "CR-AUD-006")
    secret_vars = audited.evidence(outside, "CR-AUD-001") | audited.evidence(outside, "CR-AUD-002")
    assert {"env:AWS_SECRET_ACCESS_KEY", "env:GITHUB_TOKEN"} <= secret_vars
    assert str(audited.state) in audited.evidence(outside, "CR-AUD-062")
    # and the agent does see its home inside the fence: only the secrets in it are hidden
    assert (audited.workspace / "seen.txt").read_text() == VISIBLE


def test_inside_the_credential_files_are_hidden(audited: Audited) -> None:
    inside, home = audited.inside, audited.home
    assert inside["meta"]["inside_sandbox"] is True
    found = {item for f in inside["findings"] for item in f["evidence"]}
    assert not {item for item in found if item.startswith(str(home / ".aws"))}
    assert not {item for item in found if item.startswith(str(home / ".ssh"))}
    fenced = {(f["id"], tuple(f["evidence"])) for f in inside["comparison"]["fenced"]}
    assert ("CR-AUD-003", (str(home / ".aws" / "credentials"),)) in fenced
    assert ("CR-AUD-006", (str(home / ".ssh" / "id_ed25519"),)) in fenced


def test_inside_the_credential_variables_are_gone(audited: Audited) -> None:
    inside = audited.evidence(audited.inside, "CR-AUD-001") | audited.evidence(
        audited.inside, "CR-AUD-002"
    )
    assert not {item for item in inside if item.startswith("env:AWS_")}


def test_inside_a_token_shaped_variable_outside_the_name_list_is_gone(audited: Audited) -> None:
    inside = audited.evidence(audited.inside, "CR-AUD-001") | audited.evidence(
        audited.inside, "CR-AUD-002"
    )
    assert "env:GITHUB_TOKEN" not in inside


def test_inside_corrals_state_directory_is_hidden(audited: Audited) -> None:
    state = str(audited.state)
    for finding_id in ("CR-AUD-062", "CR-AUD-065"):  # writable; absent but creatable
        changeable = audited.evidence(audited.inside, finding_id)
        assert not {item for item in changeable if item.startswith(state)}
    assert (audited.workspace / "state-listing.txt").read_text() == ""  # shown empty


def test_inside_a_hidden_system_file_is_not_reported_writable(audited: Audited) -> None:
    assert "/etc/shadow" not in audited.evidence(audited.inside, "CR-AUD-038")
    # nor as a file that could not be checked: the placeholder stands for "hidden"
    assert "/etc/shadow" not in audited.evidence(audited.inside, "CR-AUD-099")


def test_inside_the_fences_own_settings_are_not_reported_as_secrets(audited: Audited) -> None:
    named = audited.evidence(audited.inside, "CR-AUD-001")
    assert not {item for item in named if item.startswith("env:GIT_CONFIG_")}


def test_a_fully_fenced_run_audits_clean(audited: Audited) -> None:
    # Nothing of medium severity or worse is left or new inside: no secret variable, no
    # placeholder taken for a writable file, no empty stand-in taken for readable state, no
    # ptrace or user namespace that seccomp refuses, no root that holds no capability.
    comparison = audited.inside["comparison"]
    assert comparison["clean"] is True, [
        (f["id"], f["evidence"]) for f in comparison["remaining"] + comparison["new"]
    ]


def test_no_planted_secret_appears_in_any_output(audited: Audited) -> None:
    for where, text in audited.outputs.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret[:8]}... printed in the {where}"
