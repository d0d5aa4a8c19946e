"""Schema-driven fuzzing of the decision API against its own OpenAPI document (schemathesis).

Every operation the document lists gets a bounded number of generated requests sent to a real
`corral serve` on loopback; no answer may be a 5xx, and every answer must have a status code,
content type and body the document declares for that operation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from integration_helpers import Server, start_server, stop_server
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.openapi import from_url

from corral.api.openapi import build_openapi

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 50


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    state: Path = tmp_path_factory.mktemp("fuzz-state")
    # No token (loopback): the changing endpoints are reached, not stopped at 401.
    server = start_server("--rate-limit", "0", env={"CORRAL_STATE_DIR": str(state)})
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def api_schema(fuzzed_server: Server) -> schemathesis.BaseSchema:
    return from_url(f"{fuzzed_server.url}/openapi.json")


# One test per operation of the document as the code builds it; the cases come from the
# document the running server publishes. (schemathesis' own pytest loader does not work with
# pytest 9 yet, so the operations are driven through hypothesis directly.)
_PATHS = build_openapi(max_batch=1000)["paths"]
OPERATIONS = [(method.upper(), path) for path, methods in _PATHS.items() for method in methods]
# A request can only break the document where it has input: parameters or a body.
CASES = [(m, p, GenerationMode.POSITIVE) for m, p in OPERATIONS] + [
    (m, p, GenerationMode.NEGATIVE)
    for m, p in OPERATIONS
    if {"parameters", "requestBody"} & set(_PATHS[p][m.lower()])
]


@pytest.mark.parametrize(
    ("method", "path", "mode"), CASES, ids=[f"{m} {p} {g.value}" for m, p, g in CASES]
)
def test_api_answers_within_its_schema(
    api_schema: schemathesis.BaseSchema, method: str, path: str, mode: GenerationMode
) -> None:
    """Valid requests (positive) and requests that break the document (negative) alike."""
    operation = api_schema[path][method]

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,  # the same cases every run: a CI failure reproduces
        database=None,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def answers_within_schema(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=CHECKS)

    answers_within_schema()
