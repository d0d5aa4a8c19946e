"""What a fence leaves behind is not taken for a risk: /dev/null placeholders over hidden files,
empty read-only stand-ins for hidden directories, a seccomp filter that refuses ptrace and new
user namespaces, root without capabilities, git config pairs the fence sets. Each situation is
built for real (a private mount namespace, the fence's own seccomp filter, an empty capability
set) in a child process, next to a control where the same audit does report the risk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from audit_support import SECRETS, Planted

from corral.audit import AuditConfig, run_audit
from corral.supervision.cgroups import Limits
from corral.supervision.fence import Fence, FenceOptions, SandboxAdditions, merge_env, scrub_env

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds mount namespaces as root")

# Runs the audit in the child and prints its findings; with "seccomp", first installs the filter
# `corral run` gives the agent (no_new_privs, then the BPF program), as its stage 2 does.
CHILD = """
import ctypes, json, sys
from pathlib import Path
from corral.audit import AuditConfig, run_audit

spec = json.loads(sys.argv[1])
if spec.pop("seccomp"):
    from corral.supervision.seccomp import compile_filter

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    program = compile_filter()
    libc = ctypes.CDLL(None, use_errno=True)
    buffer = ctypes.create_string_buffer(program, len(program))
    prog = SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    assert libc.prctl(38, 1, 0, 0, 0) == 0, "PR_SET_NO_NEW_PRIVS"
    assert libc.prctl(22, 2, ctypes.byref(prog), 0, 0) == 0, "PR_SET_SECCOMP"
for key in ("home", "root", "workdir", "state_dir"):
    spec[key] = Path(spec[key])
spec["only"] = tuple(spec["only"])
report = run_audit(AuditConfig(metadata_endpoints=(), loopback_services=(), **spec))
print(json.dumps([
    {"id": f.id, "severity": f.severity, "evidence": f.evidence, "title": f.title}
    for f in report.findings
]))
"""

# Mounts before the audit starts, in the child's private mount namespace: "$1" is the target.
HIDE_FILE = 'mount --bind /dev/null "$1" && mount -o remount,bind,ro "$1"'
HIDE_DIR = 'mount -t tmpfs -o ro,mode=0555,size=4k tmpfs "$1"'
READ_ONLY = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1"'
NO_CAPABILITIES = (
    "setpriv",
    "--no-new-privs",
    "--bounding-set=-all",
    "--inh-caps=-all",
    "--ambient-caps=-all",
    "--",
)


@dataclass
class Child:
    findings: list[dict[str, Any]]

    def evidence(self, finding_id: str) -> set[str]:
        return {e for f in self.findings if f["id"] == finding_id for e in f["evidence"]}

    def severity(self, finding_id: str) -> set[str]:
        return {f["severity"] for f in self.findings if f["id"] == finding_id}

    def could_not(self) -> set[str]:
        return {f["title"] for f in self.findings if f["id"] == "CR-AUD-099"}


def audit_in_child(
    planted: Planted,
    only: tuple[str, ...],
    *,
    mount: tuple[str, Path] | None = None,
    prefix: tuple[str, ...] = (),
    seccomp: bool = False,
) -> Child:
    spec = {
        "env": planted.env,
        "home": str(planted.home),
        "root": str(planted.root),
        "workdir": str(planted.workdir),
        "state_dir": str(planted.state_dir),
        "corral_paths": [],
        "only": list(only),
        "seccomp": seccomp,
    }
    argv = [*prefix, sys.executable, "-c", CHILD, json.dumps(spec)]
    if mount is not None:
        script, target = mount
        then_run = script + ' && shift && exec "$@"'
        private = ("unshare", "-m", "--propagation", "private")
        argv = [*private, "sh", "-c", then_run, "sh", str(target), *argv]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return Child(json.loads(done.stdout))


def _plant_shadow(planted: Planted) -> Path:
    shadow = planted.root / "etc" / "shadow"
    shadow.write_text("root:*:19000:0:99999:7:::\n")
    shadow.chmod(0o640)
    return shadow


# ---------------------------------------------------------------------------------------------
# Hidden files and directories
# ---------------------------------------------------------------------------------------------


def test_a_dev_null_placeholder_is_hidden_not_writable(planted: Planted) -> None:
    shadow = _plant_shadow(planted)
    only = ("system-files", "credential-files")
    shown = audit_in_child(planted, only)
    assert str(shadow) in shown.evidence("CR-AUD-038")  # root may write it
    assert str(shadow) in shown.evidence("CR-AUD-012")  # and read the hashes
    hidden = audit_in_child(planted, only, mount=(HIDE_FILE, shadow))
    assert str(shadow) not in hidden.evidence("CR-AUD-038")
    assert str(shadow) not in hidden.evidence("CR-AUD-012")
    assert not {t for t in hidden.could_not() if "character device" in t}
    assert str(planted.files["etc_profile"]) in hidden.evidence("CR-AUD-038")  # still looked


def test_a_hidden_host_key_is_not_a_could_not_check(planted: Planted) -> None:
    key = planted.home / ".ssh" / "id_ed25519"
    assert str(key) in audit_in_child(planted, ("ssh-keys",)).evidence("CR-AUD-006")
    hidden = audit_in_child(planted, ("ssh-keys",), mount=(HIDE_FILE, key))
    assert str(key) not in hidden.evidence("CR-AUD-006")
    assert not hidden.could_not()


def test_an_empty_read_only_state_dir_is_not_readable_state(planted: Planted) -> None:
    state = planted.state_dir
    (state / "evidence.jsonl").write_text("{}\n")
    only = ("corral-state",)
    assert str(state) in audit_in_child(planted, only).evidence("CR-AUD-062")  # root writes it
    read_only = audit_in_child(planted, only, mount=(READ_ONLY, state))
    assert str(state) in read_only.evidence("CR-AUD-063")  # a log the agent can read
    hidden = audit_in_child(planted, only, mount=(HIDE_DIR, state))
    assert not hidden.findings  # neither readable nor writable nor creatable


# ---------------------------------------------------------------------------------------------
# seccomp and capabilities
# ---------------------------------------------------------------------------------------------


def test_ptrace_and_user_namespaces_refused_by_seccomp_are_not_reported(
    planted: Planted,
) -> None:
    only = ("ptrace", "namespaces")
    open_ = audit_in_child(planted, only)
    assert open_.evidence("CR-AUD-041"), "root without a filter can trace"
    assert open_.evidence("CR-AUD-042"), "user namespaces are enabled on this machine"
    filtered = audit_in_child(planted, only, seccomp=True)
    assert not filtered.evidence("CR-AUD-041")
    assert not filtered.evidence("CR-AUD-042")


def test_root_without_capabilities_is_low(planted: Planted) -> None:
    full = audit_in_child(planted, ("identity",))
    assert full.evidence("CR-AUD-030") == {"uid=0(root)"}
    assert full.severity("CR-AUD-030") == {"critical"}
    powerless = audit_in_child(planted, ("identity",), prefix=NO_CAPABILITIES)
    assert powerless.evidence("CR-AUD-030") == {"uid 0 without capabilities"}
    assert powerless.severity("CR-AUD-030") == {"low"}


def test_no_new_privs_alone_keeps_root_critical(planted: Planted) -> None:
    child = audit_in_child(planted, ("identity",), prefix=("setpriv", "--no-new-privs", "--"))
    assert child.severity("CR-AUD-030") == {"critical"}


# ---------------------------------------------------------------------------------------------
# Variables: the fence removes exactly what the audit calls a secret
# ---------------------------------------------------------------------------------------------

GIT_PROXY = {
    "GIT_CONFIG_COUNT": "2",
    "GIT_CONFIG_KEY_0": "http.proxy",
    "GIT_CONFIG_VALUE_0": "http://127.0.0.1:3128",
    "GIT_CONFIG_KEY_1": "http.sslVerify",
    "GIT_CONFIG_VALUE_1": "true",
}


def _secret_variables(env: dict[str, str]) -> set[str]:
    """The variables the audit reports as secrets in ``env``."""
    report = run_audit(AuditConfig(env=env, only=("env-secrets",)))
    return {
        e.removeprefix("env:")
        for f in report.findings
        if f.id in ("CR-AUD-001", "CR-AUD-002", "CR-AUD-053")
        for e in f.evidence
    }


def test_git_config_pairs_are_judged_by_value_only() -> None:
    token = SECRETS["github"]
    env = {
        **GIT_PROXY,
        "GIT_CONFIG_COUNT": "3",
        "GIT_CONFIG_KEY_2": "http.extraHeader",
        "GIT_CONFIG_VALUE_2": f"Authorization: Bearer {token}",
    }
    assert _secret_variables(env) == {"GIT_CONFIG_VALUE_2"}


def test_the_fence_scrubs_every_variable_the_audit_flags(planted: Planted) -> None:
    env = {
        **planted.env,
        **GIT_PROXY,
        "GIT_CONFIG_COUNT": "3",
        "GIT_CONFIG_KEY_2": "http.extraHeader",
        "GIT_CONFIG_VALUE_2": f"Authorization: Bearer {SECRETS['github']}",
        "OPENAI_API_KEY": "sk-" + "planted0123456789abcdefghijklmnopqrstuvwxyzAB",
        "HTTPS_PROXY": "http://agent:plantedProxyPassword@proxy.example:3128",
    }
    flagged = _secret_variables(env)
    assert {"GITHUB_TOKEN", "SOMETHING_HARMLESS", "OPENAI_API_KEY", "HTTPS_PROXY"} <= flagged
    scrubbed = scrub_env(env, frozenset())
    assert not flagged & set(scrubbed)
    assert not _secret_variables(scrubbed)
    assert {"EDITOR", "LANG", "PATH", "HOME"} <= set(scrubbed)
    # the git pair whose value was a secret goes whole; the others stay
    assert "GIT_CONFIG_KEY_2" not in scrubbed
    assert scrubbed["GIT_CONFIG_VALUE_0"] == "http://127.0.0.1:3128"
    # --pass-env keeps a variable on purpose (an agent's own LLM API key)
    kept = scrub_env(env, frozenset({"OPENAI_API_KEY"}))
    assert kept["OPENAI_API_KEY"] == env["OPENAI_API_KEY"]


def test_the_fences_own_settings_survive_the_scrub(planted: Planted) -> None:
    proxy = "http://127.0.0.1:4321"
    fence = Fence(
        FenceOptions(
            workspace=(str(planted.workdir),),
            limits=Limits(),
            env={**planted.env, "HTTPS_PROXY": "http://u:plantedProxyPassword@old.example:1"},
        )
    )
    fence.additions = SandboxAdditions(env=merge_env({"HTTPS_PROXY": proxy}, GIT_PROXY))
    env = fence.agent_env()
    assert env["HTTPS_PROXY"] == proxy
    assert env["GIT_CONFIG_VALUE_0"] == "http://127.0.0.1:3128"
    assert "GITHUB_TOKEN" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    assert not _secret_variables(env)
