"""Open the ledger a URL names: a SQLite file (the default) or a PostgreSQL server (fleets)."""

from __future__ import annotations

import os
from pathlib import Path

from corral.ledger.backends import Backend, PostgresBackend, SqliteBackend
from corral.ledger.clock import Clock, system_clock
from corral.ledger.errors import LedgerUnavailable
from corral.ledger.store import Ledger
from corral.util.statedir import default_state_dir

LEDGER_URL_ENV = "CORRAL_LEDGER_URL"
DEFAULT_FILE = "ledger.sqlite3"


def default_ledger_path() -> Path:
    return default_state_dir() / DEFAULT_FILE


def resolve_url(url: str | None, policy_url: str | None = None) -> str:
    """Which ledger to use: the explicit URL, else $CORRAL_LEDGER_URL, else the policy's, else
    the SQLite file in Corral's state directory."""
    for candidate in (url, os.environ.get(LEDGER_URL_ENV), policy_url):
        if candidate:
            return candidate
    return str(default_ledger_path())


def backend_for(url: str) -> Backend:
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresBackend(url)
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        if not path.startswith("/"):
            raise LedgerUnavailable(
                f"ledger URL {url!r}: write sqlite:///absolute/path (three slashes) or a plain path"
            )
        return SqliteBackend(Path(path))
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise LedgerUnavailable(
            f"ledger URL scheme {scheme!r} is not supported; use a file path, sqlite:///path or "
            "postgresql://user@host/db"
        )
    return SqliteBackend(Path(url).expanduser())


def open_ledger(
    url: str | None = None, *, policy_url: str | None = None, clock: Clock = system_clock
) -> Ledger:
    """The ledger at ``url`` (see :func:`resolve_url`), its schema created or migrated."""
    return Ledger(backend_for(resolve_url(url, policy_url)), clock=clock)
