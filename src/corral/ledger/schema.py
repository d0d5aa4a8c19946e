"""The ledger's tables, created and migrated by Corral itself.

Each migration is applied once, in order, inside one transaction that also records it in
``schema_version``; two processes opening a fresh database at once serialise on that
transaction, so the schema is never half-made. A database newer than this Corral refuses to
open rather than be written by code that does not know its tables.
"""

from __future__ import annotations

from corral.ledger import pgfunctions

# A statement is plain SQL for every backend, or (dialect, SQL) for one of them.
Statement = str | tuple[str, str]

MIGRATIONS: list[tuple[int, list[Statement]]] = [
    (
        1,
        [
            # One row per reservation (and per usage report): the audit trail of every unit.
            """CREATE TABLE reservations (
                id TEXT PRIMARY KEY,
                idem_key TEXT UNIQUE,
                state TEXT NOT NULL,
                charges TEXT NOT NULL,
                spent TEXT,
                buckets TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL,
                settled_at DOUBLE PRECISION,
                session TEXT,
                agent TEXT,
                account TEXT,
                note TEXT NOT NULL DEFAULT ''
            )""",
            # What has been committed against one limit for one subject in one window. Its row is
            # also the lock that serialises every check-and-reserve on that budget.
            """CREATE TABLE buckets (
                key TEXT NOT NULL,
                wstart BIGINT NOT NULL,
                spent BIGINT NOT NULL DEFAULT 0,
                PRIMARY KEY (key, wstart)
            )""",
            # Amounts held by open reservations. A hold past expires_at no longer counts: expiry
            # needs no sweeper, only the clock.
            """CREATE TABLE holds (
                reservation TEXT NOT NULL,
                key TEXT NOT NULL,
                wstart BIGINT NOT NULL,
                amount BIGINT NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (reservation, key, wstart)
            )""",
            "CREATE INDEX holds_live ON holds (key, wstart, expires_at)",
            """CREATE TABLE approvals (
                id TEXT PRIMARY KEY,
                fingerprint TEXT NOT NULL,
                state TEXT NOT NULL,
                summary TEXT NOT NULL,
                detail TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL,
                decided_at DOUBLE PRECISION,
                decided_by TEXT,
                reason TEXT,
                session TEXT,
                agent TEXT
            )""",
            "CREATE INDEX approvals_by_fingerprint ON approvals (fingerprint, created_at)",
            "CREATE INDEX reservations_open ON reservations (state, expires_at)",
            ("postgresql", pgfunctions.RESERVE),
            ("postgresql", pgfunctions.COMMIT),
        ],
    ),
]

LATEST = MIGRATIONS[-1][0]
