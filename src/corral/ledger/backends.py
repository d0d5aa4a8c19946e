"""The two databases behind the ledger, reduced to what the ledger needs from them.

SQL is written once with ``?`` placeholders; each backend opens a write transaction its own way
(SQLite ``BEGIN IMMEDIATE`` takes the database's single writer lock up front, PostgreSQL locks
the budget rows with ``FOR UPDATE``-taking upserts) and says which errors are worth a retry.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from corral.ledger.errors import LedgerUnavailable

Params = Sequence[Any]
Row = tuple[Any, ...]


class Cursor(Protocol):
    def one(self, sql: str, params: Params = ()) -> Row | None: ...
    def all(self, sql: str, params: Params = ()) -> list[Row]: ...
    def run(self, sql: str, params: Params = ()) -> int: ...


class Backend(Protocol):
    dialect: str
    where: str

    def transaction(self) -> contextlib.AbstractContextManager[Cursor]: ...
    def autocommit(self) -> contextlib.AbstractContextManager[Cursor]: ...
    def migration_lock(self, cur: Cursor) -> None: ...
    def retryable(self, exc: BaseException) -> bool: ...
    def unique_violation(self, exc: BaseException) -> bool: ...
    def close(self) -> None: ...


class _SqliteCursor:
    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def one(self, sql: str, params: Params = ()) -> Row | None:
        row = self._conn.execute(sql, params).fetchone()
        return None if row is None else tuple(row)

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        return [tuple(r) for r in self._conn.execute(sql, params).fetchall()]

    def run(self, sql: str, params: Params = ()) -> int:
        return self._conn.execute(sql, params).rowcount


class SqliteBackend:
    """One database file, WAL mode: readers never wait; one writer at a time."""

    dialect = "sqlite"

    def __init__(self, path: Path, *, busy_timeout: float = 10.0):
        self.where = str(path)
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Created 0600 before SQLite opens it (no window with the umask's mode): budgets and
            # approvals are nobody else's business; SQLite gives -wal and -shm the same mode.
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
            self._conn = sqlite3.connect(
                path, isolation_level=None, timeout=busy_timeout, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a commit survives a crash of the process, and the file is
            # never corrupted; only a power cut can lose the last few commits.
            self._conn.execute("PRAGMA synchronous=NORMAL")
        except (OSError, sqlite3.Error) as exc:
            raise LedgerUnavailable(f"cannot open the ledger database {path}: {exc}") from exc

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteCursor(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def autocommit(self) -> contextlib.AbstractContextManager[Cursor]:
        return self.transaction()  # one statement or many: SQLite needs the writer lock anyway

    def migration_lock(self, cur: Cursor) -> None:
        """BEGIN IMMEDIATE already holds the only write lock."""

    def retryable(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.OperationalError) and (
            "locked" in str(exc) or "busy" in str(exc)
        )

    def unique_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class _PgCursor:
    def __init__(self, cur: Any):
        self._cur = cur

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("?", "%s")

    def one(self, sql: str, params: Params = ()) -> Row | None:
        self._cur.execute(self._sql(sql), params)
        row = self._cur.fetchone()
        return None if row is None else tuple(row)

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        self._cur.execute(self._sql(sql), params)
        return [tuple(r) for r in self._cur.fetchall()]

    def run(self, sql: str, params: Params = ()) -> int:
        self._cur.execute(self._sql(sql), params)
        return int(self._cur.rowcount)


# An arbitrary constant: the advisory lock every Corral process takes to migrate the schema.
_MIGRATION_LOCK_KEY = 0x636F7272616C


class PostgresBackend:
    """A PostgreSQL server shared by a fleet: the same budgets for every host."""

    dialect = "postgresql"

    def __init__(self, url: str, *, connect_timeout: int = 10):
        try:
            import psycopg  # noqa: PLC0415 - optional dependency, only for fleets
        except ImportError as exc:
            raise LedgerUnavailable(
                "a postgresql:// ledger needs psycopg: pip install 'corral[postgres]'"
            ) from exc
        self._psycopg = psycopg
        self.where = _redact_url(url)
        self._lock = threading.Lock()
        try:
            self._conn = psycopg.connect(url, autocommit=True, connect_timeout=connect_timeout)
        except psycopg.Error as exc:
            raise LedgerUnavailable(f"cannot reach the ledger at {self.where}: {exc}") from exc

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            yield _PgCursor(cur)

    @contextlib.contextmanager
    def autocommit(self) -> Iterator[Cursor]:
        """A single statement that is its own transaction: one round trip, no BEGIN/COMMIT."""
        with self._lock, self._conn.cursor() as cur:
            yield _PgCursor(cur)

    def migration_lock(self, cur: Cursor) -> None:
        cur.one("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK_KEY,))

    def retryable(self, exc: BaseException) -> bool:
        errors = self._psycopg.errors
        return isinstance(
            exc, errors.SerializationFailure | errors.DeadlockDetected | errors.LockNotAvailable
        )

    def unique_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, self._psycopg.errors.UniqueViolation)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _redact_url(url: str) -> str:
    """The URL without its password, for messages and listings."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}" if ":" in creds else url
