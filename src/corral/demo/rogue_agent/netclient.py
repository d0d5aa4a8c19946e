"""How the rogue agent reaches the network: directly first, then through whatever proxy the
environment names (as real miners and tunnel tools do with their proxy options).

``connect(host, port)`` returns a connected socket or raises ``ConnectionError`` saying what
each way answered; a proxy's refusal carries Corral's reason (its ``X-Corral-Reason`` header).
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def proxy_address() -> tuple[str, int] | None:
    for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        value = os.environ.get(name)
        if value:
            parts = urlsplit(value)
            if parts.hostname:
                return parts.hostname, parts.port or 80
    return None


def _through_proxy(proxy: tuple[str, int], host: str, port: int) -> socket.socket:
    sock = socket.create_connection(proxy, timeout=5)
    sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 65536:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    lines = head.decode(errors="replace").split("\r\n")
    if lines and " 200 " in f"{lines[0]} ":
        return sock
    sock.close()
    reason = next((line[16:].strip() for line in lines if line.startswith("X-Corral-Reason:")), "")
    raise ConnectionError(f"proxy answered {lines[0] if lines else 'nothing'}: {reason[:90]}")


def connect(host: str, port: int) -> socket.socket:
    try:
        return socket.create_connection((host, port), timeout=5)
    except OSError as exc:
        direct = exc.strerror or str(exc)
        if host in LOOPBACK:
            raise
    proxy = proxy_address()
    if proxy is None:
        raise ConnectionError(f"direct: {direct}; no proxy configured")
    try:
        return _through_proxy(proxy, host, port)
    except OSError as exc:
        raise ConnectionError(f"direct: {direct}; {exc}") from None
