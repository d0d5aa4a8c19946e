"""--as-user: the checks run with an unprivileged user's permissions (fork + setuid)."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest
from audit_support import Planted

from corral.audit import AuditConfig, AuditError, run_audit
from corral.audit.model import Report

NOBODY = "nobody"


def _evidence(report: Report, finding_id: str) -> set[str]:
    return {e for f in report.findings if f.id == finding_id for e in f.evidence}


@pytest.fixture(scope="module", autouse=True)
def _needs_root_and_nobody() -> None:
    # CI runs as root on a machine with the standard 'nobody' account; say so if that changes.
    assert os.geteuid() == 0, "these tests check --as-user, which needs root"
    pwd.getpwnam(NOBODY)


def test_as_nobody_sees_only_what_nobody_can(planted: Planted, docker_socket: Path) -> None:
    report = run_audit(planted.config(as_user=NOBODY))
    assert report.meta.as_user == NOBODY and report.meta.uid == pwd.getpwnam(NOBODY).pw_uid
    assert not _evidence(report, "CR-AUD-030")  # not root
    # 0600/0700 files are gone; world-readable ones stay.
    assert str(planted.files["ssh_plain"]) not in _evidence(report, "CR-AUD-006")
    assert str(planted.files["netrc"]) not in _evidence(report, "CR-AUD-007")
    assert str(planted.files["aws"]) in _evidence(report, "CR-AUD-003")
    # The docker-named socket is root:root 0660: present, not usable.
    assert not _evidence(report, "CR-AUD-021")
    assert _evidence(report, "CR-AUD-027") == {str(docker_socket)}
    # World-writable places stay writable for nobody.
    assert str(planted.path_dir) in _evidence(report, "CR-AUD-037")
    assert str(planted.files["etc_profile"]) in _evidence(report, "CR-AUD-038")
    assert str(planted.files["cron_d"]) in _evidence(report, "CR-AUD-040")
    assert str(planted.home / ".bashrc") in _evidence(report, "CR-AUD-039")


def test_sudoers_drop_in_grants_nobody(planted: Planted) -> None:
    report = run_audit(planted.config(as_user=NOBODY, only=("sudo",)))
    dropin = planted.files["sudoers_dropin"]
    (grant,) = [f for f in report.findings if f.id == "CR-AUD-032"]
    assert grant.evidence == (f"{dropin}:2",)  # the rule starts on line 2 and continues
    assert "NOPASSWD: ALL" in grant.detail
    assert _evidence(report, "CR-AUD-033") == {str(planted.files["sudoers_writable"])}


def test_unreadable_directory_is_reported_not_fatal(planted: Planted) -> None:
    report = run_audit(planted.config(as_user=NOBODY, only=("credential-files",)))
    locked = str(planted.home / ".config/google-chrome")
    problems = {f.evidence[0]: f.title for f in report.errors}
    assert "permission denied" in problems[locked]
    assert "broken symbolic link" in problems[str(planted.home / ".git-credentials")]


def test_corral_state_owned_by_root_is_closed_to_nobody(planted: Planted) -> None:
    planted.state_dir.chmod(0o700)
    report = run_audit(planted.config(as_user=NOBODY, only=("corral-state",)))
    assert not [f for f in report.findings if f.category == "corral"]


def test_unknown_user_is_refused() -> None:
    with pytest.raises(AuditError, match="no such user"):
        run_audit(AuditConfig(as_user="no-such-user-here", only=("identity",)))


def test_non_root_cannot_take_another_users_permissions() -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: become nobody, then ask for root's view
        os.close(read_end)
        message = b"no error"
        try:
            os.setgid(pwd.getpwnam(NOBODY).pw_gid)
            os.setuid(pwd.getpwnam(NOBODY).pw_uid)
            run_audit(AuditConfig(as_user="root", only=("identity",), env={}))
        except AuditError as exc:
            message = str(exc).encode()
        except BaseException as exc:
            message = f"unexpected {type(exc).__name__}: {exc}".encode()
        os.write(write_end, message)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode()
    os.waitpid(pid, 0)
    assert "only root can take another user's permissions" in message
