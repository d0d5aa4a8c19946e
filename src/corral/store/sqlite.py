"""The embedded store: one SQLite database (WAL) in Corral's state directory.

Every session step is one ``BEGIN IMMEDIATE`` transaction: it takes SQLite's write lock before
reading the session row, so two processes deciding for the same session queue up instead of both
reading the old state and one overwriting the other. Decisions are hash-chained rows: each carries
the hash of the one before, and :meth:`SQLiteStore.verify` names the first row that was edited,
removed or reordered. Everything written passes the redactor first.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from corral.sinks.records import GENESIS
from corral.sinks.redact import Redaction, Redactor, default_redactor
from corral.store.base import (
    SEVERITIES,
    AlertRow,
    ChainCheck,
    DecisionRow,
    SessionEvent,
    SessionRow,
    StoreError,
    iter_chunks,
)
from corral.util.statedir import ensure_state_dir

T = TypeVar("T")
DB_NAME = "corral.db"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    agent TEXT,
    first_ts REAL NOT NULL,
    last_ts REAL NOT NULL,
    actions INTEGER NOT NULL,
    denies INTEGER NOT NULL,
    asks INTEGER NOT NULL,
    risk REAL NOT NULL,
    stage TEXT,
    quarantined INTEGER NOT NULL,
    quarantine_reason TEXT,
    released_ts REAL,
    state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_last ON sessions (last_ts);
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    session TEXT,
    verdict TEXT NOT NULL,
    body TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_session ON decisions (session, seq);
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    session TEXT,
    key TEXT NOT NULL,
    severity TEXT NOT NULL,
    rank INTEGER NOT NULL,
    first_ts REAL NOT NULL,
    last_ts REAL NOT NULL,
    count INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_group ON alerts (ifnull(session, ''), key);
CREATE INDEX IF NOT EXISTS alerts_last ON alerts (last_ts);
CREATE TABLE IF NOT EXISTS hosts (
    session TEXT NOT NULL,
    host TEXT NOT NULL,
    ts REAL NOT NULL,
    PRIMARY KEY (session, host)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS hosts_age ON hosts (session, ts);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    session TEXT NOT NULL,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_session ON events (session, id);
"""

# Fields of a decision that quote what the agent sent (evidence, messages) and so may hold secrets.
_DECISION_TEXT = ("reason", "error", "id")
_SESSION_COLUMNS = (
    "id, agent, first_ts, last_ts, actions, denies, asks, risk, stage, quarantined, "
    "quarantine_reason, released_ts, state"
)
_dump = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def chain_hash(seq: int, ts: float, session: str | None, prev: str, body: str) -> str:
    """SHA-256 over a decision row's columns; any changed column changes it."""
    head = f"{seq}\n{ts!r}\n{session if session is not None else ''}\n{prev}\n"
    return hashlib.sha256(head.encode("utf-8") + body.encode("utf-8", "surrogatepass")).hexdigest()


class _Txn:
    """One session's transaction (see :class:`corral.store.base.SessionTxn`)."""

    def __init__(self, store: SQLiteStore, session_id: str, row: SessionRow | None):
        self._store = store
        self.session_id = session_id
        self.row = row

    def save(self, row: SessionRow) -> None:
        self._store._save_session(row)
        self.row = row

    def log_decision(self, decision: Mapping[str, Any], action: Any, ts: float) -> int:
        return self._store._append_decisions([(ts, decision, action)])

    def alert(
        self, key: str, severity: str, body: Callable[[], Mapping[str, Any]], ts: float
    ) -> tuple[AlertRow, bool]:
        return self._store._upsert_alert(self.session_id, key, severity, body, ts)

    def event(self, kind: str, detail: Mapping[str, Any], ts: float) -> None:
        self._store._add_event(self.session_id, kind, detail, ts)

    def known_hosts(self, hosts: list[str]) -> set[str]:
        return self._store._known_hosts(self.session_id, hosts)

    def remember_hosts(self, hosts: list[str], ts: float, cap: int) -> None:
        self._store._remember_hosts(self.session_id, hosts, ts, cap)


class SQLiteStore:
    """Decisions, sessions and alerts in one SQLite file; safe across processes."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        redactor: Redactor | None = None,
        durable: bool = False,
        busy_timeout_s: float = 30.0,
    ) -> None:
        if path is None:
            path = ensure_state_dir() / DB_NAME
        self.path = Path(path)
        self.redactor = redactor or default_redactor()
        # One connection serves every thread of the process (the API server, the supervisor's
        # watchers); write transactions take turns, or one thread's BEGIN would land inside
        # another's transaction. Other processes are kept in line by SQLite's own lock.
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            os.close(fd)
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            self._setup(durable)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the store {self.path}: {exc}") from exc

    @classmethod
    def in_state_dir(cls, state_dir: Path | None = None, **kwargs: Any) -> SQLiteStore:
        return cls(ensure_state_dir(state_dir) / DB_NAME, **kwargs)

    def _setup(self, durable: bool) -> None:
        db = self._db
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a crash of the process (not of the machine); FULL fsyncs
        # every commit for those who need the latter.
        db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        db.execute("PRAGMA foreign_keys=ON")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer Corral (schema {version}); upgrade Corral"
            )
        with self._immediate():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    # -- transactions ---------------------------------------------------------------------------

    @contextmanager
    def _immediate(self) -> Iterator[None]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def session(self, session_id: str) -> Iterator[_Txn]:
        """The session's row under the write lock; everything done through it commits at once."""
        try:
            with self._immediate():
                yield _Txn(self, session_id, self._load_session(session_id))
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path}: {exc}") from exc

    def sessionless(
        self,
        decision: Mapping[str, Any],
        action: Any,
        alert: tuple[str, str, Callable[[], Mapping[str, Any]]] | None,
        ts: float,
    ) -> tuple[AlertRow, bool] | None:
        """Store a decision for an action without ``session`` and, for a deny or ask, its alert
        (grouped with earlier ones of the same rule that had no session either)."""
        try:
            with self._immediate():
                self._append_decisions([(ts, decision, action)])
                if alert is None:
                    return None
                key, severity, body = alert
                return self._upsert_alert(None, key, severity, body, ts)
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path}: {exc}") from exc

    # -- sessions -------------------------------------------------------------------------------

    def _load_session(self, session_id: str) -> SessionRow | None:
        row = self._db.execute(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        return _session_row(row) if row else None

    def _save_session(self, row: SessionRow) -> None:
        self._db.execute(
            f"INSERT OR REPLACE INTO sessions ({_SESSION_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.id,
                row.agent,
                row.first_ts,
                row.last_ts,
                row.actions,
                row.denies,
                row.asks,
                row.risk,
                row.stage,
                int(row.quarantined),
                row.quarantine_reason,
                row.released_ts,
                _dump(row.state),
            ),
        )

    def get_session(self, session_id: str) -> SessionRow | None:
        return self._read(lambda: self._load_session(session_id))

    def list_sessions(self, limit: int = 100) -> list[SessionRow]:
        rows = self._read(
            lambda: self._db.execute(
                f"SELECT {_SESSION_COLUMNS} FROM sessions ORDER BY last_ts DESC LIMIT ?", (limit,)
            ).fetchall()
        )
        return [_session_row(r) for r in rows]

    def release(self, session_id: str, reason: str, by: str, ts: float) -> bool:
        """Lift a quarantine (recorded as an event); False when the session is not quarantined."""
        try:
            with self._immediate():
                row = self._load_session(session_id)
                if row is None or not row.quarantined:
                    return False
                self._db.execute(
                    "UPDATE sessions SET quarantined = 0, quarantine_reason = NULL, "
                    "released_ts = ? WHERE id = ?",
                    (ts, session_id),
                )
                detail = {"reason": reason, "by": by, "was": row.quarantine_reason}
                self._add_event(session_id, "release", detail, ts)
                return True
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path}: {exc}") from exc

    def _add_event(self, session_id: str, kind: str, detail: Mapping[str, Any], ts: float) -> None:
        clean, _ = self.redactor.redact(dict(detail))
        self._db.execute(
            "INSERT INTO events (session, ts, kind, detail) VALUES (?, ?, ?, ?)",
            (session_id, ts, kind, _dump(clean)),
        )

    def _known_hosts(self, session_id: str, hosts: list[str]) -> set[str]:
        if not hosts:
            return set()
        marks = ",".join("?" * len(hosts))
        rows = self._db.execute(
            f"SELECT host FROM hosts WHERE session = ? AND host IN ({marks})", (session_id, *hosts)
        ).fetchall()
        return {r[0] for r in rows}

    def _remember_hosts(self, session_id: str, hosts: list[str], ts: float, cap: int) -> None:
        """Hosts a session contacted, the ``cap`` most recent kept (older ones are forgotten:
        contacting them again then looks new, which is stricter, never laxer)."""
        if not hosts:
            return
        self._db.executemany(
            "INSERT OR REPLACE INTO hosts VALUES (?, ?, ?)", [(session_id, h, ts) for h in hosts]
        )
        count = self._db.execute(
            "SELECT count(*) FROM hosts WHERE session = ?", (session_id,)
        ).fetchone()[0]
        if count > cap:
            self._db.execute(
                "DELETE FROM hosts WHERE session = ? AND host IN "
                "(SELECT host FROM hosts WHERE session = ? ORDER BY ts LIMIT ?)",
                (session_id, session_id, count - cap),
            )

    def count_hosts(self, session_id: str) -> int:
        return int(
            self._db.execute(
                "SELECT count(*) FROM hosts WHERE session = ?", (session_id,)
            ).fetchone()[0]
        )

    def events(self, session_id: str) -> list[SessionEvent]:
        rows = self._read(
            lambda: self._db.execute(
                "SELECT session, ts, kind, detail FROM events WHERE session = ? ORDER BY id",
                (session_id,),
            ).fetchall()
        )
        return [SessionEvent(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    # -- decisions ------------------------------------------------------------------------------

    def log_decisions(self, entries: Iterable[tuple[float, Mapping[str, Any], Any]]) -> int:
        """Append many decisions (``(ts, decision, action)``), redacted and chained; last seq."""
        seq = 0
        try:
            for chunk in iter_chunks(entries, 2000):
                with self._immediate():
                    seq = self._append_decisions(chunk)
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path}: {exc}") from exc
        return seq

    def _append_decisions(self, entries: list[tuple[float, Mapping[str, Any], Any]]) -> int:
        """Inside a write transaction: the chain head is read under the lock, so never forks."""
        head = self._db.execute(
            "SELECT seq, hash FROM decisions ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        seq, prev = head if head else (0, GENESIS)
        rows = []
        for ts, decision, action in entries:
            seq += 1
            body, found = self._redacted_body(decision, action)
            body["redactions"] = [r.to_dict() for r in found]
            text = _dump(body)
            session = decision.get("session")
            digest = chain_hash(seq, ts, session, prev, text)
            rows.append((seq, ts, session, str(decision.get("decision")), text, prev, digest))
            prev = digest
        self._db.executemany("INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        return seq

    def _redacted_body(
        self, decision: Mapping[str, Any], action: Any
    ) -> tuple[dict[str, Any], list[Redaction]]:
        """Redact the parts that can hold secrets: the action and the decision's free text.

        Rule ids, titles, ATT&CK ids and the session block are Corral's own words; walking them
        would only cost time.
        """
        clean = dict(decision)
        found: list[Redaction] = []
        for key in _DECISION_TEXT:
            if key in clean:
                clean[key], hits = self.redactor.redact(clean[key], f"$.decision.{key}")
                found.extend(hits)
        redacted_action, hits = self.redactor.redact(action, "$.action")
        found.extend(hits)
        return {"decision": clean, "action": redacted_action}, found

    def decisions(self, session_id: str | None, limit: int = 100) -> list[DecisionRow]:
        """The latest ``limit`` decisions (of one session, or all), oldest first."""
        where, args = ("WHERE session = ?", (session_id,)) if session_id is not None else ("", ())
        rows = self._read(
            lambda: self._db.execute(
                f"SELECT seq, ts, session, verdict, body, prev, hash FROM decisions {where} "
                "ORDER BY seq DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
        )
        return [
            DecisionRow(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6])
            for r in reversed(rows)
        ]

    def count_decisions(self, session_id: str | None = None) -> int:
        if session_id is None:
            return int(self._db.execute("SELECT count(*) FROM decisions").fetchone()[0])
        return int(
            self._db.execute(
                "SELECT count(*) FROM decisions WHERE session = ?", (session_id,)
            ).fetchone()[0]
        )

    def verify(self) -> ChainCheck:
        """Walk the decisions' chain; name the first row that is not what was written."""
        prev, expected, count = GENESIS, 1, 0
        cursor = self._db.execute(
            "SELECT seq, ts, session, body, prev, hash FROM decisions ORDER BY seq"
        )
        for seq, ts, session, body, row_prev, digest in cursor:
            count += 1
            if seq != expected:
                return ChainCheck(False, count, expected, f"row {expected} is missing")
            if row_prev != prev:
                return ChainCheck(
                    False, count, seq, f"row {seq} does not follow row {seq - 1} (removed or moved)"
                )
            if chain_hash(seq, ts, session, prev, body) != digest:
                return ChainCheck(False, count, seq, f"row {seq} was changed after it was written")
            prev, expected = digest, expected + 1
        return ChainCheck(True, count)

    # -- alerts ---------------------------------------------------------------------------------

    def _upsert_alert(
        self,
        session_id: str | None,
        key: str,
        severity: str,
        body: Callable[[], Mapping[str, Any]],
        ts: float,
    ) -> tuple[AlertRow, bool]:
        """Group by (session, key): a repeat bumps count and last_seen and keeps the first body."""
        existing = self._db.execute(
            "SELECT id, session, key, severity, first_ts, last_ts, count, body FROM alerts "
            "WHERE ifnull(session, '') = ifnull(?, '') AND key = ?",
            (session_id, key),
        ).fetchone()
        if existing is not None:
            rank = max(SEVERITIES.index(existing[3]), SEVERITIES.index(severity))
            self._db.execute(
                "UPDATE alerts SET count = count + 1, last_ts = ?, severity = ?, rank = ? "
                "WHERE id = ?",
                (ts, SEVERITIES[rank], rank, existing[0]),
            )
            row = AlertRow(
                existing[0],
                existing[1],
                existing[2],
                SEVERITIES[rank],
                existing[4],
                ts,
                existing[6] + 1,
                json.loads(existing[7]),
            )
            return row, False
        alert_id = "AL-" + uuid.uuid4().hex[:16]
        clean, _ = self.redactor.redact(dict(body()))
        self._db.execute(
            "INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                alert_id,
                session_id,
                key,
                severity,
                SEVERITIES.index(severity),
                ts,
                ts,
                1,
                _dump(clean),
            ),
        )
        return AlertRow(alert_id, session_id, key, severity, ts, ts, 1, clean), True

    def alerts(
        self,
        *,
        since: float | None = None,
        min_severity: str | None = None,
        session_id: str | None = None,
        limit: int = 100,
    ) -> list[AlertRow]:
        clauses: list[str] = []
        args: list[Any] = []
        if since is not None:
            clauses.append("last_ts >= ?")
            args.append(since)
        if min_severity is not None:
            clauses.append("rank >= ?")
            args.append(SEVERITIES.index(min_severity))
        if session_id is not None:
            clauses.append("session = ?")
            args.append(session_id)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self._read(
            lambda: self._db.execute(
                "SELECT id, session, key, severity, first_ts, last_ts, count, body FROM alerts "
                f"{where} ORDER BY last_ts DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
        )
        return [AlertRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7])) for r in rows]

    # -- plumbing -------------------------------------------------------------------------------

    def _read(self, query: Callable[[], T]) -> T:
        # Under the write lock: on the shared connection another thread's open transaction
        # would otherwise show its uncommitted rows to this read.
        try:
            with self._lock:
                return query()
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _session_row(row: tuple[Any, ...]) -> SessionRow:
    return SessionRow(
        id=row[0],
        agent=row[1],
        first_ts=row[2],
        last_ts=row[3],
        actions=row[4],
        denies=row[5],
        asks=row[6],
        risk=row[7],
        stage=row[8],
        quarantined=bool(row[9]),
        quarantine_reason=row[10],
        released_ts=row[11],
        state=json.loads(row[12]),
    )
