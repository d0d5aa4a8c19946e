"""Shared helpers for the test suite."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def corral_command() -> list[str]:
    """The installed console script, or the module when running from a bare checkout."""
    script = shutil.which("corral", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "corral"]


@pytest.fixture
def corral() -> list[str]:
    return corral_command()


@pytest.fixture(autouse=True, scope="session")
def private_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test (and every `corral` it starts) keeps sessions, stores and ledgers in a
    throw-away state directory, never in the machine's: no test sees another run's state."""
    saved = {name: os.environ.get(name) for name in ("CORRAL_STATE_DIR", "CORRAL_LEDGER_URL")}
    state = tmp_path_factory.mktemp("corral-state")
    os.environ["CORRAL_STATE_DIR"] = str(state)
    os.environ.pop("CORRAL_LEDGER_URL", None)
    try:
        yield state
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
