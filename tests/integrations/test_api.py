"""The decision API as a real server: error codes, auth, limits, metrics, OpenAPI."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from integration_helpers import Server, corral_command, free_port, start_server, stop_server

TOKEN = "s3cret-token-for-tests"
TUNNEL = {"id": "t-1", "kind": "exec", "command": "ssh -R 8080:localhost:22 u@relay.example.net"}


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    token_file = tmp_path_factory.mktemp("api") / "token"
    token_file.write_text(TOKEN + "\n")
    server = start_server(
        "--token-file", str(token_file), "--rate-limit", "20", "--max-body", "4096"
    )
    yield server
    stop_server(server)


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def test_decide_and_metrics(api_server: Server) -> None:
    with httpx.Client(base_url=api_server.url) as client:
        decision = client.post("/v1/decide", json=TUNNEL).json()
        metrics = client.get("/metrics").text
    assert decision["decision"] == "deny" and decision["id"] == "t-1"
    assert 'corral_decisions_total{decision="deny",rule="CR-TUN-001"}' in metrics
    assert "corral_decision_seconds_bucket" in metrics


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_parameter"),
        (b"[1]", "invalid_parameter"),
        (b'{"kind": "exec"}', "invalid_parameter"),
        (b'{"kind": "teleport"}', "invalid_parameter"),
    ],
)
def test_malformed_requests_get_400_with_a_code(api_server: Server, body: bytes, code: str) -> None:
    response = httpx.post(f"{api_server.url}/v1/decide", content=body)
    assert response.status_code == 400
    assert response.json()["code"] == code


def test_invalid_action_answer_carries_the_deny(api_server: Server) -> None:
    answer = httpx.post(f"{api_server.url}/v1/decide", json={"kind": "net", "host": "x"}).json()
    assert answer["decision"]["decision"] == "deny" and "port" in answer["message"]


def test_batch_shape_and_limits(api_server: Server) -> None:
    url = f"{api_server.url}/v1/decide/batch"
    assert httpx.post(url, json={"nope": []}).json()["code"] == "invalid_parameter"
    too_many = httpx.post(url, json={"actions": [TUNNEL] * 1001})
    assert too_many.status_code == 400
    mixed = httpx.post(url, json={"actions": [TUNNEL, 7]}).json()["decisions"]
    assert [d["decision"] for d in mixed] == ["deny", "deny"] and "error" in mixed[1]


def test_unknown_route_and_method(api_server: Server) -> None:
    missing = httpx.get(f"{api_server.url}/v2/nothing")
    assert (missing.status_code, missing.json()["code"]) == (404, "resource_not_found")
    wrong = httpx.get(f"{api_server.url}/v1/decide")
    assert (wrong.status_code, wrong.json()["code"]) == (405, "method_not_allowed")


def test_openapi_lists_the_endpoints(api_server: Server) -> None:
    spec = httpx.get(f"{api_server.url}/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert {"/v1/decide", "/v1/decide/batch", "/healthz", "/metrics"} <= set(spec["paths"])
    assert "ExecAction" in spec["components"]["schemas"]


def test_token_is_required_when_configured(locked_server: Server) -> None:
    url = f"{locked_server.url}/v1/decide"
    missing = httpx.post(url, json=TUNNEL)
    assert (missing.status_code, missing.json()["code"]) == (401, "unauthorized")
    wrong = httpx.post(url, json=TUNNEL, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert httpx.post(url, json=TUNNEL, headers=auth()).json()["decision"] == "deny"
    assert httpx.get(f"{locked_server.url}/healthz").status_code == 200


def test_body_size_limit(locked_server: Server) -> None:
    big = {"kind": "exec", "command": "echo " + "a" * 5000}
    response = httpx.post(f"{locked_server.url}/v1/decide", json=big, headers=auth())
    assert (response.status_code, response.json()["code"]) == (413, "request_too_large")


def test_rate_limit(locked_server: Server) -> None:
    with httpx.Client(base_url=locked_server.url, headers=auth()) as client:
        codes = [client.get("/metrics").status_code for _ in range(80)]
    assert 429 in codes and 200 in codes


def test_refuses_to_listen_beyond_loopback_without_a_token(tmp_path: Path) -> None:
    proc = subprocess.run(
        [*corral_command(), "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        capture_output=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert proc.returncode == 2
    assert b"bearer token" in proc.stderr
