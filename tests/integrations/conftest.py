"""Fixtures for the integration doors."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from integration_helpers import Server, start_server, stop_server


@pytest.fixture(scope="session", autouse=True)
def private_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Servers, hooks and `corral check` started here keep their state in a temporary place."""
    old = os.environ.get("CORRAL_STATE_DIR")
    os.environ["CORRAL_STATE_DIR"] = str(tmp_path_factory.mktemp("state"))
    yield
    if old is None:
        os.environ.pop("CORRAL_STATE_DIR", None)
    else:
        os.environ["CORRAL_STATE_DIR"] = old


@pytest.fixture(scope="session")
def api_server() -> Iterator[Server]:
    server = start_server()
    yield server
    stop_server(server)
