"""Run the audit: every check on its own thread, isolated, bounded in time; optionally as
another user (fork, drop to that user's ids, run, send the report back over a pipe)."""

from __future__ import annotations

import encodings.idna  # noqa: F401  (loaded now: after --as-user drops ids it may be unreadable)
import json
import os
import pwd
import socket
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import corral
from corral.audit.checks.base import Out
from corral.audit.checks.corral_self import policy_file
from corral.audit.checks.privilege import user_name
from corral.audit.config import AuditConfig
from corral.audit.model import Report, ReportMeta
from corral.audit.registry import CHECKS, Check


class AuditError(Exception):
    """The audit cannot run as asked (unknown check or user, --as-user without root)."""


def run_audit(cfg: AuditConfig | None = None) -> Report:
    cfg = cfg or AuditConfig()
    unknown = [name for name in cfg.only if name not in CHECKS]
    if unknown:
        raise AuditError(f"unknown check {', '.join(unknown)}; known checks: {', '.join(CHECKS)}")
    if cfg.policy_file is None:
        cfg = replace(cfg, policy_file=policy_file(cfg.policy))
    if cfg.as_user is not None:
        return _run_as_user(cfg, cfg.as_user)
    return _run_here(cfg)


def _run_here(cfg: AuditConfig) -> Report:
    started = time.monotonic()
    selected = [CHECKS[name] for name in cfg.only] if cfg.only else list(CHECKS.values())
    outs = [Out(check.name) for check in selected]
    threads = [
        threading.Thread(target=_isolated, args=(check, cfg, out), daemon=True)
        for check, out in zip(selected, outs, strict=True)
    ]
    for thread in threads:
        thread.start()
    findings = []
    for check, out, thread in zip(selected, outs, threads, strict=True):
        limit = check.timeout or cfg.check_timeout
        thread.join(max(0.0, started + limit - time.monotonic()))
        collected = list(out.findings)  # a snapshot: an overrunning check may still append
        if thread.is_alive():  # reported apart: the check may still append to its own Out
            late = Out(check.name)
            late.could_not(check.name, f"timed out after {limit:g} s")
            collected.extend(late.findings)
        findings.extend(collected)
    uid = os.getuid()
    meta = ReportMeta(
        user=user_name(uid),
        uid=uid,
        gid=os.getgid(),
        home=str(cfg.home_dir),
        hostname=socket.gethostname(),
        started=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        duration_s=time.monotonic() - started,
        inside_sandbox=cfg.inside_sandbox,
        as_user=cfg.as_user,
        policy=cfg.policy,
        checks=[check.name for check in selected],
        version=corral.__version__,
    )
    return Report(meta=meta, findings=findings)


def _isolated(check: Check, cfg: AuditConfig, out: Out) -> None:
    """Run one check; whatever it raises becomes a 'could not check' finding, never a crash."""
    try:
        check.run(cfg, out)
    except Exception as exc:
        out.could_not(check.name, exc)


# ---------------------------------------------------------------------------------------------
# --as-user
# ---------------------------------------------------------------------------------------------


def _lookup(user: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except KeyError:
        raise AuditError(f"--as-user {user}: no such user") from None


def _run_as_user(cfg: AuditConfig, user: str) -> Report:
    entry = _lookup(user)
    home = cfg.home if cfg.home is not None else Path(entry.pw_dir)
    env = {
        **cfg.env,
        "HOME": str(home),
        "USER": entry.pw_name,
        "LOGNAME": entry.pw_name,
        "XDG_RUNTIME_DIR": f"/run/user/{entry.pw_uid}",
    }
    child_cfg = replace(cfg, as_user=None, home=home, env=env)
    if entry.pw_uid == os.geteuid() == os.getuid():
        report = _run_here(child_cfg)
    elif os.geteuid() != 0:
        raise AuditError(
            f"--as-user {user}: only root can take another user's permissions; "
            f"run the audit as {entry.pw_name} instead, or as root"
        )
    else:
        report = _forked(child_cfg, entry)
    report.meta.as_user = entry.pw_name
    return report


def _forked(cfg: AuditConfig, entry: pwd.struct_passwd) -> Report:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _child(cfg, entry, write_end)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        payload = pipe.read()
    _, status = os.waitpid(pid, 0)
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise AuditError(
            f"--as-user {entry.pw_name}: the audit process ended without a report "
            f"(status {os.waitstatus_to_exitcode(status)})"
        ) from None
    if "error" in data:
        raise AuditError(f"--as-user {entry.pw_name}: {data['error']}")
    return Report.from_dict(data)


def _child(cfg: AuditConfig, entry: pwd.struct_passwd, write_end: int) -> None:
    code = 0
    try:
        os.setgroups(os.getgrouplist(entry.pw_name, entry.pw_gid))
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)
        if os.getuid() != entry.pw_uid or os.geteuid() != entry.pw_uid:
            raise AuditError("could not drop to the user's ids")
        os.chdir(cfg.workdir) if os.access(cfg.workdir, os.X_OK) else os.chdir("/")
        payload = json.dumps(_run_here(cfg).to_dict())
    except BaseException as exc:
        payload, code = json.dumps({"error": f"{type(exc).__name__}: {exc}"}), 1
    try:
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(payload.encode("utf-8"))
    finally:
        os._exit(code)
