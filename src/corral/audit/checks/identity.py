"""Which cloud identities the credentials grant: read-only CLI calls, only when asked for.

``aws sts get-caller-identity``, ``gcloud auth list``, ``gcloud billing accounts list`` and
``az account show`` read who the caller is and which billing accounts it can see; none of them
changes anything. The audit runs them only with ``--cloud-identity``, because each one sends the
credentials to the cloud.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from corral.audit.checks.base import Out
from corral.audit.config import AuditConfig

_CALL_TIMEOUT = 8.0


def check_cloud_identity(cfg: AuditConfig, out: Out) -> None:
    if not cfg.cloud_identity:
        return
    path = cfg.env.get("PATH", "")
    if shutil.which("aws", path=path):
        _aws(cfg, out)
    if shutil.which("gcloud", path=path):
        _gcloud(cfg, out)
    if shutil.which("az", path=path):
        _azure(cfg, out)


def _run_json(cfg: AuditConfig, argv: list[str], out: Out) -> Any:
    """The JSON a read-only CLI call prints, or None (with a could-not finding on failure)."""
    program = shutil.which(argv[0], path=cfg.env.get("PATH", ""))
    if program is None:
        return None
    try:
        done = subprocess.run(
            [program, *argv[1:]],
            env=dict(cfg.env),
            capture_output=True,
            timeout=_CALL_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        out.could_not(" ".join(argv), exc)
        return None
    if done.returncode != 0:
        # Most often "no credentials": not an identity, not worth an error either.
        return None
    try:
        return json.loads(done.stdout.decode("utf-8", "replace"))
    except json.JSONDecodeError:
        out.could_not(" ".join(argv), "the output was not JSON")
        return None


def _aws(cfg: AuditConfig, out: Out) -> None:
    data = _run_json(cfg, ["aws", "sts", "get-caller-identity", "--output", "json"], out)
    if isinstance(data, dict) and data.get("Arn"):
        out.add(
            "CR-AUD-011",
            f"aws sts get-caller-identity: {data['Arn']}",
            detail=f"AWS account {data.get('Account', '?')}",
        )


def _gcloud(cfg: AuditConfig, out: Out) -> None:
    accounts = _run_json(cfg, ["gcloud", "auth", "list", "--format=json"], out)
    for entry in accounts if isinstance(accounts, list) else []:
        if isinstance(entry, dict) and entry.get("status") == "ACTIVE":
            out.add(
                "CR-AUD-011",
                f"gcloud auth list: {entry.get('account', '?')}",
                detail="active gcloud account",
            )
    billing = _run_json(cfg, ["gcloud", "billing", "accounts", "list", "--format=json"], out)
    if isinstance(billing, list) and billing:
        names = [str(b.get("name", "?")) for b in billing if isinstance(b, dict)]
        out.add(
            "CR-AUD-053",
            f"gcloud billing accounts list: {len(names)} visible",
            *names[:5],
            severity="high",
            detail="the identity can see billing accounts (and may link projects to them)",
        )


def _azure(cfg: AuditConfig, out: Out) -> None:
    data = _run_json(cfg, ["az", "account", "show", "--output", "json"], out)
    if isinstance(data, dict) and data.get("id"):
        raw_user = data.get("user")
        user: dict[str, Any] = raw_user if isinstance(raw_user, dict) else {}
        out.add(
            "CR-AUD-011",
            f"az account show: {user.get('name', '?')}",
            detail=f"Azure subscription {data.get('name', '?')} ({data['id']})",
        )
