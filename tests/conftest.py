"""Shared helpers for the test suite."""

from __future__ import annotations

import os
import shutil
import sys
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
