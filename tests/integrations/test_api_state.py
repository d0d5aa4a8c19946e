"""Sessions, alerts and approvals through a real `corral serve`: quarantine, release, approvals.

The server runs a policy that extends `permissive` (a cloud launch it cannot price asks a person)
with a webhook alert sink that points at a closed loopback port, so its drops show on /metrics.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from integration_helpers import Server, free_port, start_server, stop_server

from corral.api.app import ApiSettings, create_app
from corral.integrations.guard_factory import close_state, make_guard

TOKEN = "state-endpoints-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MINER = {"kind": "exec", "command": "xmrig -o stratum+tcp://pool.example.net:3333"}
LAUNCH = {"kind": "tool", "name": "create_instance", "args": {"instance_type": "zz.unpriced"}}


def _policy(directory: Path, dead_port: int) -> Path:
    path = directory / "policy.yaml"
    path.write_text(
        "name: api-state-test\n"
        "extends: permissive\n"
        "sessions:\n"
        "  alerts:\n"
        f"    - {{type: webhook, url: 'http://127.0.0.1:{dead_port}/hook', retries: 0,"
        " timeout_s: 1}\n"
    )
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("api-state")
    (directory / "token").write_text(TOKEN)
    policy = _policy(directory, free_port())  # nothing listens there: every delivery fails
    started = start_server(
        "--policy",
        str(policy),
        "--token-file",
        str(directory / "token"),
        env={"CORRAL_STATE_DIR": str(directory / "state")},
    )
    yield started
    stop_server(started)


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as http:
        yield http


def decide(client: httpx.Client, action: dict[str, object], session: str) -> dict[str, object]:
    answer = client.post("/v1/decide", json={**action, "session": session})
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def rule_ids(decision: dict[str, object]) -> list[str]:
    rules = decision["rules"]
    assert isinstance(rules, list)
    return [rule["id"] for rule in rules]


def test_quarantine_shows_and_a_release_lets_the_session_go_on(client: httpx.Client) -> None:
    verdicts = [decide(client, MINER, "rogue")["decision"] for _ in range(6)]
    assert verdicts == ["deny"] * 6
    assert "CR-SES-005" in rule_ids(decide(client, {"kind": "exec", "command": "ls"}, "rogue"))

    listed = client.get("/v1/sessions").json()["sessions"]
    rogue = next(s for s in listed if s["id"] == "rogue")
    assert rogue["quarantined"] is True and rogue["denies"] >= 5

    shown = client.get("/v1/sessions/rogue", params={"limit": 3}).json()
    assert len(shown["timeline"]) == 3 and shown["timeline"][0]["decision"] == "deny"
    assert [e["kind"] for e in shown["events"]] == ["quarantine"]
    assert shown["alerts"] and all(a["session"] == "rogue" for a in shown["alerts"])

    released = client.post("/v1/sessions/rogue/release", json={"reason": "miner was a test"})
    assert released.json() == {
        "session": "rogue",
        "released": True,
        "by": "api",
        "reason": "miner was a test",
    }
    assert decide(client, {"kind": "exec", "command": "ls"}, "rogue")["decision"] == "allow"
    events = client.get("/v1/sessions/rogue").json()["events"]
    assert events[-1]["kind"] == "release" and events[-1]["by"] == "api"

    again = client.post("/v1/sessions/rogue/release", json={"reason": "miner was a test"})
    assert (again.status_code, again.json()["code"]) == (409, "resource_conflict")


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/v1/sessions/nobody/release", {"reason": "no such session"}, 404, "resource_not_found"),
        ("/v1/sessions/rogue/release", {}, 400, "invalid_parameter"),
        ("/v1/sessions/rogue/release", {"reason": "    ok   "}, 400, "invalid_parameter"),
        (
            "/v1/approvals/ap-000000000000/approve",
            {"reason": "looks fine"},
            404,
            "resource_not_found",
        ),
        ("/v1/approvals/ap-000000000000/deny", {"reason": 7}, 400, "invalid_parameter"),
    ],
)
def test_bad_changes_get_a_code(
    client: httpx.Client, path: str, body: dict[str, object], status: int, code: str
) -> None:
    answer = client.post(path, json=body)
    assert (answer.status_code, answer.json()["code"]) == (status, code)


def test_unknown_session_is_404(client: httpx.Client) -> None:
    answer = client.get("/v1/sessions/nobody")
    assert (answer.status_code, answer.json()["code"]) == (404, "resource_not_found")


def test_changes_and_reads_need_the_token(server: Server) -> None:
    release = httpx.post(f"{server.url}/v1/sessions/rogue/release", json={"reason": "no token"})
    assert (release.status_code, release.json()["code"]) == (401, "unauthorized")
    approve = httpx.post(f"{server.url}/v1/approvals/ap-1/approve", json={"reason": "no token"})
    assert approve.status_code == 401
    assert httpx.get(f"{server.url}/v1/alerts").status_code == 401


def test_alert_filters(client: httpx.Client) -> None:
    decide(client, MINER, "filters")
    recent = client.get("/v1/alerts", params={"since": "1h", "session": "filters"}).json()
    assert recent["alerts"] and recent["alerts"][0]["severity"] == "critical"
    future = client.get("/v1/alerts", params={"since": str(time.time() + 3600)}).json()
    assert future["alerts"] == []
    iso = client.get("/v1/alerts", params={"since": "2000-01-01T00:00:00Z", "severity": "high"})
    assert all(a["severity"] in ("high", "critical") for a in iso.json()["alerts"])
    for params in ({"since": "yesterday"}, {"severity": "dire"}, {"limit": "0"}):
        bad = client.get("/v1/alerts", params=params)
        assert (bad.status_code, bad.json()["code"]) == (400, "invalid_parameter")


def test_an_approved_action_runs_once_and_a_denied_one_never(client: httpx.Client) -> None:
    first = decide(client, LAUNCH, "ops")
    assert first["decision"] == "ask" and "CR-BUD-004" in rule_ids(first)
    pending = client.get("/v1/approvals").json()["approvals"]
    approval = next(a for a in pending if a["session"] == "ops")
    answer = client.post(f"/v1/approvals/{approval['id']}/approve", json={"reason": "planned"})
    assert answer.json()["state"] == "approved" and answer.json()["decided_by"] == "api"
    assert decide(client, LAUNCH, "ops")["decision"] == "allow"
    twice = client.post(f"/v1/approvals/{approval['id']}/deny", json={"reason": "too late now"})
    assert (twice.status_code, twice.json()["code"]) == (409, "resource_conflict")

    other = {**LAUNCH, "args": {"instance_type": "zz.other"}}
    assert decide(client, other, "ops2")["decision"] == "ask"
    waiting = client.get("/v1/approvals", params={"state": "pending"}).json()["approvals"]
    denied_id = next(a["id"] for a in waiting if a["session"] == "ops2")
    client.post(f"/v1/approvals/{denied_id}/deny", json={"reason": "not this one", "valid_for": 60})
    retry = decide(client, other, "ops2")
    assert retry["decision"] == "deny" and "CR-BUD-005" in rule_ids(retry)
    every = client.get("/v1/approvals", params={"state": "all"}).json()["approvals"]
    assert {a["state"] for a in every} >= {"used", "denied"}


def test_metrics_report_alert_sink_drops(client: httpx.Client) -> None:
    decide(client, MINER, "metrics")
    deadline = time.monotonic() + 30  # delivery runs on the sink's own thread
    while time.monotonic() < deadline:
        dropped = [
            line
            for line in client.get("/metrics").text.splitlines()
            if line.startswith("corral_alert_sink_dropped_total{")
        ]
        if dropped and float(dropped[0].rsplit(" ", 1)[1]) > 0:
            break
        time.sleep(0.1)
    assert dropped and 'sink="webhook:http://127.0.0.1:' in dropped[0]
    assert float(dropped[0].rsplit(" ", 1)[1]) > 0


class _ThreadServer:
    """uvicorn in a thread of the test process, for settings the CLI does not expose."""

    def __init__(self, settings: ApiSettings, state_dir: Path) -> None:
        self.guard = make_guard("permissive", state_dir=state_dir)
        self.port = free_port()
        config = uvicorn.Config(
            create_app(self.guard, settings),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and self.thread.is_alive():
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 30 s")
            time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        close_state(self.guard)


def test_named_tokens_are_recorded_as_who_decided(tmp_path: Path) -> None:
    settings = ApiSettings(tokens={"alice": "alice-secret", "ci": "ci-secret"}, state_dir=tmp_path)
    server = _ThreadServer(settings, tmp_path)
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            http.headers["Authorization"] = "Bearer alice-secret"
            assert decide(http, LAUNCH, "named")["decision"] == "ask"
            approval = http.get("/v1/approvals").json()["approvals"][0]
            http.headers["Authorization"] = "Bearer ci-secret"
            answer = http.post(
                f"/v1/approvals/{approval['id']}/deny", json={"reason": "ci says no"}
            )
            http.headers["Authorization"] = "Bearer mallory"
            refused = http.get("/v1/approvals")
    finally:
        server.stop()
    assert answer.json()["decided_by"] == "ci"
    assert refused.status_code == 401
    assert not _listening(server.port)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_no_state_is_written_outside_the_given_directory(tmp_path: Path) -> None:
    """The API's ledger follows the guard's explicit state directory, not the environment's."""
    server = _ThreadServer(ApiSettings(state_dir=tmp_path), tmp_path)
    try:
        assert httpx.get(f"{server.url}/v1/approvals").json() == {"approvals": []}
    finally:
        server.stop()
    assert (tmp_path / "ledger.sqlite3").exists()


@pytest.mark.parametrize("bad_id", [False, True, [], {"a": 1}, 1.5])
def test_a_malformed_actions_id_is_answered_within_the_contract(
    client: httpx.Client, bad_id: object
) -> None:
    """Found by the schema fuzz run: JSON booleans passed for integer ids and broke the schema."""
    single = client.post("/v1/decide", json={"kind": "exec", "id": bad_id})
    assert single.status_code == 400 and single.json()["decision"]["id"] is None
    batch = client.post("/v1/decide/batch", json={"actions": [{"kind": "exec", "id": bad_id}]})
    assert batch.json()["decisions"][0]["id"] is None
