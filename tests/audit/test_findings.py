"""Every planted credential, service and privilege shows up with the right evidence."""

from __future__ import annotations

import socket
from pathlib import Path

from audit_support import HTML_VARIABLE, Planted

from corral.audit import Finding, Report, run_audit
from corral.audit.config import Endpoint


def by_id(report: Report, finding_id: str) -> list[Finding]:
    return [f for f in report.findings if f.id == finding_id]


def evidence_of(report: Report, finding_id: str) -> set[str]:
    return {e for f in by_id(report, finding_id) for e in f.evidence}


def errors(report: Report) -> dict[str, str]:
    return {f.evidence[0]: f.title for f in report.errors}


def test_env_secrets_by_name_and_shape(planted: Planted) -> None:
    report = run_audit(planted.config(only=("env-secrets",)))
    assert evidence_of(report, "CR-AUD-001") == {
        "env:AWS_SECRET_ACCESS_KEY",
        f"env:{HTML_VARIABLE}",
    }
    assert evidence_of(report, "CR-AUD-002") == {"env:GITHUB_TOKEN", "env:SOMETHING_HARMLESS"}
    (stripe,) = by_id(report, "CR-AUD-053")
    assert stripe.evidence == ("env:STRIPE_API_KEY",)
    assert stripe.severity == "critical" and "live mode" in stripe.detail
    assert "env:EDITOR" not in {e for f in report.findings for e in f.evidence}


def test_credential_files(planted: Planted) -> None:
    report = run_audit(planted.config(only=("credential-files", "ssh-keys")))
    files = planted.files
    assert evidence_of(report, "CR-AUD-003") == {str(files["aws"])}
    (kube,) = by_id(report, "CR-AUD-004")
    assert kube.evidence == (str(files["kube"]),)
    assert "bearer token" in kube.detail and "https://127.0.0.1:1" in kube.detail
    assert evidence_of(report, "CR-AUD-005") == {str(files["sa_token"])}
    keys = {f.evidence[0]: f for f in by_id(report, "CR-AUD-006")}
    assert keys[str(files["ssh_plain"])].severity == "high"
    assert keys[str(files["ssh_encrypted"])].severity == "medium"
    assert "passphrase" in keys[str(files["ssh_encrypted"])].detail
    assert evidence_of(report, "CR-AUD-007") == {str(files["netrc"])}
    docker = by_id(report, "CR-AUD-008")
    assert {f.severity for f in docker} == {"high", "medium"}
    assert any("registry.example.com" in f.detail for f in docker)
    assert any("docker-credential-pass" in f.detail for f in docker)
    assert evidence_of(report, "CR-AUD-009") == {str(files["pypirc"])}
    assert str(files["firefox"]) in evidence_of(report, "CR-AUD-010")
    dotenv = by_id(report, "CR-AUD-013")
    assert dotenv[0].evidence == (str(files["dotenv"]), "API_KEY (line 2)")
    assert str(files["stripe_cfg"]) in evidence_of(report, "CR-AUD-053")


def test_bad_inputs_become_could_not_check(planted: Planted) -> None:
    report = run_audit(planted.config(only=("credential-files",)))
    problems = errors(report)
    home = planted.home
    assert "broken symbolic link" in problems[str(home / ".git-credentials")]
    assert "FIFO" in problems[str(home / ".config/git/credentials")]
    assert "only the first 64 KiB" in problems[str(home / ".npmrc")]
    assert all(f.title.startswith("could not check ") for f in report.errors)


def test_metadata_endpoints(planted: Planted, metadata_server: dict[str, Endpoint]) -> None:
    endpoints = tuple(metadata_server.values())
    report = run_audit(planted.config(only=("metadata",), metadata_endpoints=endpoints))
    found = {f.evidence[0]: f for f in by_id(report, "CR-AUD-020")}
    assert set(found) == {e.url for e in endpoints}
    assert all(f.severity == "critical" for f in found.values())
    # The GCP and Azure shapes answer 200 only with their headers: so the headers were sent.
    assert "HTTP 200" in found[metadata_server["gcp"].url].detail
    assert "HTTP 200" in found[metadata_server["azure"].url].detail
    assert "IMDSv2" in found[metadata_server["aws-v2"].url].detail


def test_metadata_black_hole_is_bounded(planted: Planted, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    silent = Endpoint("silent", "127.0.0.1", port, "/latest/meta-data/")
    closed = Endpoint("closed", "127.0.0.1", 1, "/latest/meta-data/")
    report = run_audit(
        planted.config(only=("metadata",), metadata_endpoints=(silent, closed), probe_timeout=0.2)
    )
    (finding,) = by_id(report, "CR-AUD-020")
    assert finding.evidence == (silent.url,)
    assert finding.severity == "high" and "no HTTP answer" in finding.detail


def test_services(
    planted: Planted, docker_socket: Path, ssh_agent: Path, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    env = {**planted.env, "SSH_AUTH_SOCK": str(ssh_agent), "KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    report = run_audit(
        planted.config(
            env=env,
            only=("container-sockets", "ssh-agents", "local-databases", "kubernetes-api", "egress"),
            loopback_services=(("postgresql", port),),
            probe_egress="127.0.0.1",
            egress_ports=(port, 1),
        )
    )
    assert evidence_of(report, "CR-AUD-021") == {str(docker_socket)}
    (agent,) = by_id(report, "CR-AUD-024")
    assert agent.evidence == ("env:SSH_AUTH_SOCK", str(ssh_agent))
    assert agent.detail == "agent holds 2 keys"
    assert evidence_of(report, "CR-AUD-023") == {f"tcp://127.0.0.1:{port}"}
    apis = evidence_of(report, "CR-AUD-022")
    assert {"https://10.0.0.1:443", "https://127.0.0.1:1"} <= apis
    assert evidence_of(report, "CR-AUD-026") == {f"tcp://127.0.0.1:{port}"}


def test_privilege_as_root(planted: Planted) -> None:
    report = run_audit(
        planted.config(
            only=("identity", "path-dirs", "system-files", "shell-startup", "scheduling", "sudo")
        )
    )
    assert evidence_of(report, "CR-AUD-030") == {"uid=0(root)"}
    assert str(planted.path_dir) in evidence_of(report, "CR-AUD-037")
    assert str(planted.files["etc_profile"]) in evidence_of(report, "CR-AUD-038")
    assert str(planted.home / ".bashrc") in evidence_of(report, "CR-AUD-039")
    assert str(planted.files["cron_d"]) in evidence_of(report, "CR-AUD-040")
    # root may write every sudoers file; the drop-in grants nobody, not root, NOPASSWD.
    assert str(planted.files["sudoers_dropin"]) in evidence_of(report, "CR-AUD-033")
    assert not by_id(report, "CR-AUD-032")


def test_process_checks_read_procfs(planted: Planted) -> None:
    report = run_audit(planted.config(only=("capabilities", "seccomp", "namespaces", "ptrace")))
    status = Path("/proc/self/status").read_text()
    if "Seccomp:\t0" in status:
        assert evidence_of(report, "CR-AUD-044") == {"Seccomp: 0"}
    cap_line = next(line for line in status.splitlines() if line.startswith("CapEff:"))
    if int(cap_line.split()[1], 16):
        assert f"CapEff={cap_line.split()[1]}" in evidence_of(report, "CR-AUD-036")
    assert not report.errors


def test_corral_itself(planted: Planted) -> None:
    policy = planted.base / "policy.yaml"
    policy.write_text("name: p\nextends: default\n")
    report = run_audit(planted.config(only=("corral-policy", "corral-state"), policy=str(policy)))
    assert evidence_of(report, "CR-AUD-060") == {str(policy)}
    assert str(planted.state_dir) in evidence_of(report, "CR-AUD-062")


def test_missing_state_dir_that_the_agent_could_create(planted: Planted) -> None:
    absent = planted.base / "open" / "corral-state"
    absent.parent.mkdir(mode=0o777)
    absent.parent.chmod(0o777)
    report = run_audit(planted.config(only=("corral-state",), state_dir=absent))
    assert evidence_of(report, "CR-AUD-065") == {str(absent)}


def test_every_check_runs_without_crashing_on_the_planted_machine(
    planted: Planted, metadata_server: dict[str, Endpoint]
) -> None:
    report = run_audit(planted.config(metadata_endpoints=tuple(metadata_server.values())))
    assert len(report.meta.checks) == 26
    # Only the planted bad inputs fail to be checked (and nothing raised out of a check).
    # (the throw-away root has no /sys/fs/cgroup, which is reported, not raised)
    allowed = ("credential-files", "cgroup-limits")
    assert all(f.check in allowed for f in report.errors), errors(report)
