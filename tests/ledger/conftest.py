"""Ledger fixtures: every ledger test runs against SQLite and against a real PostgreSQL server.

The server is ``$CORRAL_TEST_POSTGRES_URL`` when set, otherwise a throw-away cluster this
session starts (see pgcluster.py) and removes at the end. Each test gets its own schema.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import pgcluster

from corral.ledger import Ledger, ManualClock, open_ledger

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    cluster = pgcluster.start()
    try:
        yield cluster.url
    finally:
        cluster.stop()


def _pg_schema_url(server: str) -> Iterator[str]:
    import psycopg  # noqa: PLC0415

    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in server else "?"
    try:
        yield f"{server}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=BACKENDS)
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "ledger.sqlite3")
    else:
        yield from _pg_schema_url(request.getfixturevalue("pg_server"))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_800_000_000.0)  # 2027-01-15 08:00 UTC: on an hour boundary


@pytest.fixture
def ledger(ledger_url: str, clock: ManualClock) -> Iterator[Ledger]:
    opened = open_ledger(ledger_url, clock=clock)
    try:
        yield opened
    finally:
        opened.close()
