"""``corral sessions``, ``corral show``, ``corral alerts`` and ``corral session release``.

They read the store in Corral's state directory (``--state-dir`` or ``$CORRAL_STATE_DIR``);
every listing takes ``--json``.
"""

from __future__ import annotations

import getpass
import json
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from corral.cli.common import EXIT_CANNOT_RUN
from corral.model.decisions import Severity
from corral.sessions.tracker import timeline_entry
from corral.util.statedir import STATE_DIR_ENV, default_state_dir

if TYPE_CHECKING:
    from corral.store import SQLiteStore

# The store, rich and sqlite3 are imported by the commands that use them, so that every other
# `corral` command starts without loading them.
SEVERITIES = tuple(s.name for s in Severity)

EXIT_NOT_FOUND = 1
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_VERDICT_STYLE = {"allow": "green", "ask": "yellow", "deny": "bold red"}

state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help=f"Corral's state directory (default: ${STATE_DIR_ENV} or the standard place).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _open(state_dir: Path | None) -> SQLiteStore:
    from corral.store import DB_NAME, SQLiteStore, StoreError  # noqa: PLC0415 - lazy, see top

    directory = state_dir or default_state_dir()
    path = directory / DB_NAME
    if not path.is_file():
        _fail(f"no session store at {path}; run `corral check` on actions that carry 'session'")
    try:
        return SQLiteStore(path)
    except StoreError as exc:
        _fail(str(exc))


@contextmanager
def _opened(state_dir: Path | None) -> Iterator[SQLiteStore]:
    """The store, closed afterwards; a store that fails while read is a message, not a traceback
    (a busy or damaged database, a row that is no longer JSON)."""
    from corral.store import StoreError  # noqa: PLC0415 - lazy, see top

    store = _open(state_dir)
    try:
        yield store
    except (StoreError, json.JSONDecodeError) as exc:
        _fail(f"cannot read the session store {store.path}: {exc}")
    finally:
        store.close()


def _fail(message: str, status: int = EXIT_CANNOT_RUN) -> NoReturn:
    click.echo(f"corral: {message}", err=True)
    sys.exit(status)


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=None))


@click.command("sessions")
@state_dir_option
@json_option
@click.option("--limit", default=100, show_default=True, help="Most recent sessions to list.")
def sessions(state_dir: Path | None, as_json: bool, limit: int) -> None:
    """List sessions, most recently active first."""
    with _opened(state_dir) as store:
        rows = store.list_sessions(limit)
    if as_json:
        _echo_json([r.to_dict() for r in rows])
        return
    from rich.console import Console  # noqa: PLC0415 - lazy, see top
    from rich.table import Table  # noqa: PLC0415 - lazy, see top
    from rich.text import Text  # noqa: PLC0415 - lazy, see top

    table = Table("session", "agent", "last seen", "actions", "deny", "ask", "risk", "stage", "")
    for r in rows:
        flag = Text("QUARANTINED", style="bold red") if r.quarantined else Text("")
        table.add_row(
            r.id,
            r.agent or "-",
            _when(r.last_ts),
            str(r.actions),
            str(r.denies),
            str(r.asks),
            f"{r.risk:.0f}",
            r.stage or "-",
            flag,
        )
    Console().print(table)


@click.command("show")
@click.argument("session_id", metavar="SESSION")
@state_dir_option
@json_option
@click.option("--limit", default=50, show_default=True, help="Most recent decisions to show.")
def show(session_id: str, state_dir: Path | None, as_json: bool, limit: int) -> None:
    """Show one session: its state, its timeline of decisions, its alerts and events."""
    with _opened(state_dir) as store:
        row = store.get_session(session_id)
        if row is None:
            _fail(f"no session {session_id!r} in the store", EXIT_NOT_FOUND)
        decisions = store.decisions(session_id, limit)
        alerts = store.alerts(session_id=session_id)
        events = store.events(session_id)
    timeline = [timeline_entry(d.seq, d.ts, d.body) for d in decisions]
    if as_json:
        _echo_json(
            {
                "session": row.to_dict(),
                "stages": row.state.get("stages", {}),
                "chains": row.state.get("chains", []),
                "timeline": timeline,
                "alerts": [a.to_dict() for a in alerts],
                "events": [e.to_dict() for e in events],
            }
        )
        return
    from rich.console import Console  # noqa: PLC0415 - lazy, see top
    from rich.table import Table  # noqa: PLC0415 - lazy, see top
    from rich.text import Text  # noqa: PLC0415 - lazy, see top

    console = Console()
    status = "[bold red]QUARANTINED[/]" if row.quarantined else "active"
    console.print(
        f"[bold]{row.id}[/]  agent {row.agent or '-'}  {status}  risk {row.risk:.0f}  "
        f"actions {row.actions} (deny {row.denies}, ask {row.asks})"
    )
    stages = sorted(row.state.get("stages", {}).items(), key=lambda kv: kv[1])
    if stages:
        console.print("stages: " + " → ".join(f"{n} ({_when(t)})" for n, t in stages))
    table = Table("#", "time", "decision", "action", "rules", "session")
    for item in timeline:
        table.add_row(
            str(item["seq"]),
            _when(item["ts"]),
            Text(item["decision"], style=_VERDICT_STYLE.get(item["decision"], "")),
            item["what"],
            ", ".join(item["rules"]),
            _note(item),
        )
    console.print(table)
    for event in events:
        console.print(f"{_when(event.ts)} {event.kind}: {json.dumps(event.detail)}")
    if alerts:
        console.print(f"{len(alerts)} alert(s); `corral alerts --state-dir ...` lists them")


def _note(item: dict[str, Any]) -> str:
    notes = [item["chain"]] if item["chain"] else []
    notes += ["off-task"] * item["off_task"] + ["quarantined"] * item["quarantined"]
    return "; ".join(notes)


def _since(value: str | None) -> float | None:
    if value is None:
        return None
    match = _DURATION.match(value.strip())
    if match:
        return time.time() - float(match.group(1)) * _UNIT_S[match.group(2)]
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is neither a duration (30m, 2h, 1d) nor a time (2025-01-02T03:04:05Z)",
            param_hint="--since",
        ) from None


@click.command("alerts")
@state_dir_option
@json_option
@click.option(
    "--since", metavar="DURATION|TIME", help="Only alerts seen since: 30m, 2h, 1d or ISO."
)
@click.option(
    "--severity",
    type=click.Choice(SEVERITIES),
    help="Only alerts of this severity or higher.",
)
@click.option("--session", "session_id", metavar="SESSION", help="Only this session's alerts.")
@click.option("--limit", default=100, show_default=True)
def alerts(
    *,
    state_dir: Path | None,
    as_json: bool,
    since: str | None,
    severity: str | None,
    session_id: str | None,
    limit: int,
) -> None:
    """List Policy Violation alerts (grouped by session and rule), most recent first."""
    after = _since(since)
    with _opened(state_dir) as store:
        rows = store.alerts(since=after, min_severity=severity, session_id=session_id, limit=limit)
    if as_json:
        _echo_json([a.to_dict() for a in rows])
        return
    from rich.console import Console  # noqa: PLC0415 - lazy, see top
    from rich.table import Table  # noqa: PLC0415 - lazy, see top

    table = Table("alert", "last seen", "count", "severity", "session", "rule", "reason")
    for a in rows:
        table.add_row(
            a.id,
            _when(a.last_ts),
            str(a.count),
            a.severity,
            a.session or "-",
            a.key,
            str(a.body.get("reason", ""))[:100],
        )
    Console().print(table)


@click.group("session")
def session() -> None:
    """Act on one session (release it from quarantine)."""


@session.command("release")
@click.argument("session_id", metavar="ID")
@click.option("--reason", required=True, help="Why the session may go on (recorded).")
@state_dir_option
@json_option
def release(session_id: str, reason: str, state_dir: Path | None, as_json: bool) -> None:
    """Release a quarantined session; the release and its reason are recorded."""
    if len(reason.strip()) < 5:
        raise click.BadParameter(
            "say in a few words why the session may go on", param_hint="--reason"
        )
    by = _who()
    with _opened(state_dir) as store:
        row = store.get_session(session_id)
        if row is None:
            _fail(f"no session {session_id!r} in the store", EXIT_NOT_FOUND)
        released = store.release(session_id, reason.strip(), by, time.time())
    if as_json:
        _echo_json({"session": session_id, "released": released, "by": by, "reason": reason})
    elif released:
        click.echo(f"released {session_id} (recorded: by {by}: {reason.strip()})")
    else:
        click.echo(f"{session_id} is not quarantined; nothing to release")
    sys.exit(0 if released else EXIT_NOT_FOUND)


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


COMMANDS: tuple[click.Command, ...] = (sessions, show, alerts, session)
