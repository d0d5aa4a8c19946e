"""Real servers and a real proxy on 127.0.0.1 for the proxy tests; everything stops on exit."""

from __future__ import annotations

import functools
import http.server
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from corral import Guard
from corral.proxy import ProxyLimits, ProxyService
from corral.sinks import DecisionLog

# Names the tests' resolver knows. Real DNS is never asked: each test names what a host resolves
# to, including the hostile answers (private addresses, a rebinding mix).
TEST_NAMES: dict[str, list[str]] = {
    "pkgs.test": ["127.0.0.1"],
    "internal.corp.test": ["10.1.2.3"],
    "meta.corp.test": ["169.254.169.254"],
    "rebind.corp.test": ["93.184.216.34", "127.0.0.1"],
    "public.corp.test": ["93.184.216.34"],
}

FAST_LIMITS = ProxyLimits(
    header_timeout=1.0,
    connect_timeout=2.0,
    idle_timeout=5.0,
    total_timeout=30.0,
    hello_timeout=1.0,
    max_session_connections=64,
    max_unidentified=256,
    max_connections=1024,
)


async def names_resolver(host: str, port: int) -> list[str]:
    if host in TEST_NAMES:
        return TEST_NAMES[host]
    raise OSError(f"{host}: no such test name")


def write_policy(folder: Path, allow: list[str], extra: str = "") -> Path:
    path = folder / "policy.yaml"
    entries = "".join(f"    - {entry!r}\n" for entry in allow)
    path.write_text(f"name: proxy-test\nextends: default\negress:\n  allow:\n{entries}{extra}")
    return path


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        reply = f"got {len(body)} bytes".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


class ThreadedServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client the proxy cut off mid-request is what some tests do on purpose


@contextmanager
def file_server(folder: Path) -> Iterator[int]:
    """An HTTP server (python's http.server) for ``folder`` on 127.0.0.1; yields its port."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = ThreadedServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def sink_server() -> Iterator[tuple[int, list[bytes]]]:
    """A TCP server that records what each connection sends (first 64 KiB) and then closes."""
    received: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                data = b""
                try:
                    while len(data) < 65536 and (chunk := conn.recv(65536)):
                        data += chunk
                except OSError:
                    pass
                received.append(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], received
    finally:
        stop.set()
        listener.close()
        thread.join(5)


@contextmanager
def running_proxy(
    policy: Path | str,
    *,
    limits: ProxyLimits = FAST_LIMITS,
    log: DecisionLog | None = None,
) -> Iterator[ProxyService]:
    service = ProxyService(Guard(policy), limits=limits, resolver=names_resolver, log=log)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def tcp_port(address: str) -> int:
    return int(address.rpartition(":")[2])
