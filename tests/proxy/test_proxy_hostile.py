"""Hostile clients: the proxy stays up, its memory stays bounded, other sessions carry on.

Scaled for CI: 2,000 idle connections (the issue's 10,000 is a matter of file descriptors; the
per-session limit sheds every connection past 64 here whatever the count)."""

from __future__ import annotations

import contextlib
import json
import random
import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from proxy_support import file_server, running_proxy, tcp_port, write_policy

from corral.proxy import ProxyService
from corral.sinks import DecisionLog

IDLE_CONNECTIONS = 10_000


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    root = tmp_path_factory.mktemp("site")
    (root / "ok.txt").write_text("still serving\n")
    with file_server(root) as port:
        yield port


@pytest.fixture
def proxy(site: int, tmp_path: Path) -> Iterator[tuple[ProxyService, int, int]]:
    """One proxy, two listeners: the hostile session's and a well-behaved agent's."""
    policy = write_policy(tmp_path, [f"pkgs.test:{site}"])
    with running_proxy(policy) as service:
        hostile = tcp_port(service.add_tcp("127.0.0.1", 0, session="hostile"))
        agent = tcp_port(service.add_tcp("127.0.0.1", 0, session="agent"))
        yield service, hostile, agent


def _fetch(proxy_port: int, site: int) -> bytes:
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=10) as sock:
        sock.sendall(f"GET http://pkgs.test:{site}/ok.txt HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        return _read_all(sock)


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_slowloris_is_cut_at_the_header_deadline(proxy: tuple, site: int) -> None:
    _, hostile, agent = proxy
    slow = [socket.create_connection(("127.0.0.1", hostile), timeout=10) for _ in range(20)]
    request = f"CONNECT pkgs.test:{site} HTTP/1.1\r\nHost: pkgs.test\r\n".encode()
    closed: set[int] = set()
    try:
        for index in range(40):  # one byte every 0.1 s: never a full header block
            for number, sock in enumerate(slow):
                if number not in closed:
                    try:
                        sock.sendall(request[index : index + 1])
                    except OSError:
                        closed.add(number)
            assert _fetch(agent, site).endswith(b"still serving\n")
            time.sleep(0.1)
        replies = [_read_all(sock) for sock in slow]
    finally:
        for sock in slow:
            sock.close()
    assert all(reply == b"" or reply.startswith(b"HTTP/1.1 408") for reply in replies)
    assert any(reply.startswith(b"HTTP/1.1 408") for reply in replies)


@pytest.mark.parametrize("prefix", [b"", b"\x05", b"\x05\x01\x00\x05", b"GET ", b"\x16\x03\x01"])
def test_garbage_bytes_get_an_error_not_a_crash(proxy: tuple, site: int, prefix: bytes) -> None:
    _, hostile, agent = proxy
    noise = random.Random(len(prefix)).randbytes(4096)
    with socket.create_connection(("127.0.0.1", hostile), timeout=10) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(prefix + noise)
        reply = _read_all(sock)
    assert reply == b"" or reply.startswith((b"HTTP/1.1 4", b"\x05"))
    assert _fetch(agent, site).endswith(b"still serving\n")
    assert _fetch(hostile, site).endswith(b"still serving\n")


@pytest.mark.parametrize(
    "headers",
    [b"X-Big: " + b"a" * (1024 * 1024) + b"\r\n", b"".join(b"X-%d: 1\r\n" % i for i in range(500))],
    ids=["one-megabyte-header", "500-headers"],
)
def test_oversized_headers_are_refused_with_431(proxy: tuple, site: int, headers: bytes) -> None:
    _, hostile, agent = proxy
    before = _rss_kib()
    with socket.create_connection(("127.0.0.1", hostile), timeout=10) as sock:
        try:
            sock.sendall(b"GET http://pkgs.test/ HTTP/1.1\r\nHost: pkgs.test\r\n" + headers)
            sock.sendall(b"\r\n")
        except OSError:
            pass  # the proxy may stop reading once the limit is passed
        reply = _read_all(sock)
    assert reply.startswith(b"HTTP/1.1 431")
    assert _rss_kib() - before < 32 * 1024
    assert _fetch(agent, site).endswith(b"still serving\n")


def test_thousands_of_idle_connections_leave_other_sessions_alone(proxy: tuple, site: int) -> None:
    service, hostile, agent = proxy
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = IDLE_CONNECTIONS + 512
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    before = _rss_kib()
    idle: list[socket.socket] = []
    try:
        for _ in range(IDLE_CONNECTIONS):
            try:
                idle.append(socket.create_connection(("127.0.0.1", hostile), timeout=10))
            except OSError:
                break  # the backlog may fill while the proxy sheds: that is the point
        assert len(idle) >= IDLE_CONNECTIONS // 2
        assert _fetch(agent, site).endswith(b"still serving\n")
        proxy_state = service.proxy
        assert proxy_state is not None
        cap = proxy_state.limits.max_session_connections
        assert proxy_state.sessions["hostile"].connections <= cap
        # The proxy sheds asynchronously, and held connections that time out make room for
        # others: so the bulk, not every single one, must have been shed rather than held.
        deadline = time.monotonic() + 15
        while proxy_state.counters.shed < len(idle) * 9 // 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proxy_state.counters.shed >= len(idle) * 9 // 10
        assert proxy_state.sessions["hostile"].connections <= cap
        assert _rss_kib() - before < 64 * 1024
    finally:
        for sock in idle:
            sock.close()


def test_an_internal_error_closes_the_connection_and_is_logged(
    site: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug while judging must end the connection unanswered (denied) and leave a record."""
    log = DecisionLog(tmp_path / "decisions.jsonl")
    policy = write_policy(tmp_path, [f"pkgs.test:{site}"])
    with running_proxy(policy, log=log) as service:
        port = tcp_port(service.add_tcp("127.0.0.1", 0, session="agent"))
        assert service.proxy is not None

        async def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("judge broke")

        monkeypatch.setattr(service.proxy.judge, "connection", broken)
        answer = _fetch(port, site)
        assert b"still serving" not in answer and not answer.startswith(b"HTTP/1.1 200")
    log.close()
    records = [json.loads(line)["decision"] for line in log.path.read_text().splitlines()]
    assert any(
        r["decision"] == "deny" and "judge broke" in r["reason"] and r["session"] == "agent"
        for r in records
    ), records
