"""Alerts reach every sink type: JSONL, stdout, a real local webhook and real syslog listeners."""

from __future__ import annotations

import io
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from corral import Guard
from corral.policy.model import AlertSinkSpec
from corral.sessions import SessionTracker
from corral.sinks.alerts import WebhookSink
from corral.store import SQLiteStore


class Webhook:
    def __init__(self, fail_first: int = 0):
        self.received: list[dict[str, Any]] = []
        self.fail_first = fail_first
        self.calls = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.calls += 1
                status = 500 if hook.calls <= hook.fail_first else 204
                if status == 204:
                    hook.received.append(json.loads(body))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture
def syslog_udp() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    yield sock
    sock.close()


@pytest.fixture
def syslog_tcp() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    sock.settimeout(5)
    yield sock
    sock.close()


def policy_file(tmp_path: Path, sinks: list[dict[str, Any]]) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(
        json.dumps({"name": "alerting", "extends": "default", "sessions": {"alerts": sinks}})
    )
    return path


def read_frame(conn: socket.socket) -> bytes:
    data = b""
    while b" " not in data:
        data += conn.recv(1)
    length = int(data.strip())
    body = b""
    while len(body) < length:
        body += conn.recv(length - len(body))
    return body


def test_alert_reaches_every_sink(
    tmp_path: Path, webhook: Webhook, syslog_udp: socket.socket, syslog_tcp: socket.socket
) -> None:
    jsonl = tmp_path / "alerts.jsonl"
    sinks: list[dict[str, Any]] = [
        {"type": "jsonl", "path": str(jsonl)},
        {"type": "stdout"},
        {"type": "webhook", "url": webhook.url, "backoff_s": 0.05},
        {"type": "syslog", "port": syslog_udp.getsockname()[1], "protocol": "udp"},
        {"type": "syslog", "port": syslog_tcp.getsockname()[1], "protocol": "tcp"},
    ]
    stream = io.StringIO()
    tracker = SessionTracker(SQLiteStore(tmp_path / "c.db"), alert_stream=stream)
    guard = Guard(policy_file(tmp_path, sinks), sessions=tracker)
    for _ in range(3):  # the same rule in the same session: one alert, count 3
        decision = guard.decide({"kind": "exec", "command": "cat ~/.ssh/id_rsa", "session": "s"})
        assert decision.decision == "deny"
    conn, _ = syslog_tcp.accept()
    conn.settimeout(5)
    tracker.close(timeout_s=5)

    line = jsonl.read_text().splitlines()
    assert len(line) == 1
    alert = json.loads(line[0])
    assert alert["title"] == "Policy Violation" and alert["session"] == "s"
    assert alert["rules"][0]["id"] == "CR-CRD-008" and alert["rules"][0]["attack"]
    assert alert["action"]["command"] == "cat ~/.ssh/id_rsa"
    assert json.loads(stream.getvalue().splitlines()[0])["id"] == alert["id"]
    assert [a["id"] for a in webhook.received] == [alert["id"]]

    datagram = syslog_udp.recv(65536)
    header, _, rest = datagram.partition(b" [")
    assert header.startswith(b"<106>1 ")  # facility 13 (audit) * 8 + severity 2 (critical)
    assert header.split(b" ")[3:] == [b"corral", header.split(b" ")[4], b"PolicyViolation"]
    assert f'id="{alert["id"]}"'.encode() in rest
    assert json.loads(rest.split(b"\xef\xbb\xbf", 1)[1])["id"] == alert["id"]
    frame = read_frame(conn)
    assert frame.startswith(b"<106>1 ") and alert["id"].encode() in frame
    conn.close()

    stored = SQLiteStore(tmp_path / "c.db").alerts(session_id="s")
    assert [(a.key, a.count) for a in stored] == [("CR-CRD-008", 3)]


def test_webhook_retries_then_delivers(tmp_path: Path) -> None:
    hook = Webhook(fail_first=2)
    try:
        sink = WebhookSink(AlertSinkSpec(type="webhook", url=hook.url, retries=3, backoff_s=0.01))
        sink.emit({"id": "AL-1", "severity": "high"})
        sink.close(timeout_s=5)
        assert [a["id"] for a in hook.received] == ["AL-1"]
        assert sink.stats.sent == 1 and sink.stats.errors == 2 and sink.stats.dropped == 0
    finally:
        hook.close()


def test_sink_failures_never_change_decisions(tmp_path: Path) -> None:
    """A dead webhook, a closed syslog port and an unwritable file: decisions as without sinks."""
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()  # nothing listens here now
    sinks: list[dict[str, Any]] = [
        {"type": "jsonl", "path": str(tmp_path / "no-such-dir" / "alerts.jsonl")},
        {
            "type": "webhook",
            "url": f"http://127.0.0.1:{port}/",
            "retries": 1,
            "backoff_s": 0.01,
            "queue": 2,
        },
        {"type": "syslog", "port": port, "protocol": "tcp", "retries": 0, "queue": 2},
    ]
    tracker = SessionTracker(SQLiteStore(tmp_path / "c.db"))
    guard = Guard(policy_file(tmp_path, sinks), sessions=tracker)
    plain = Guard("default", sessions=SessionTracker(SQLiteStore(tmp_path / "d.db")))
    commands = [f"cat ~/.ssh/id_rsa{i}" for i in range(4)] + ["ls"]
    for index, command in enumerate(commands):
        action = {"kind": "exec", "command": command, "session": f"s{index}"}
        assert guard.decide(action).decision == plain.decide(action).decision
    tracker.close(timeout_s=2)
    assert tracker.alerts is not None
    stats = tracker.alerts.stats()
    # Every alert that did not arrive is counted as dropped: 4 alerts per sink.
    assert all(s["sent"] == 0 and s["dropped"] == 4 for s in stats.values()), stats
