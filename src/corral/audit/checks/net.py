"""Small, bounded network probes shared by the service checks.

Every probe has its own timeout and runs on a daemon thread, so a stuck DNS lookup or a black-holed
address costs at most the timeout and never keeps the process alive.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def parallel(
    func: Callable[[T], R], items: Sequence[T], timeout: float
) -> list[tuple[T, R | BaseException | None]]:
    """``func`` over ``items`` at once; each result, its exception, or None if it overran."""
    results: list[R | BaseException | None] = [None] * len(items)

    def work(index: int) -> None:
        try:
            results[index] = func(items[index])
        except BaseException as exc:  # reported to the caller, who turns it into a finding
            results[index] = exc

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(items))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return list(zip(items, results, strict=True))


def tcp_open(host: str, port: int, timeout: float) -> bool:
    """Whether a TCP connection to host:port completes within ``timeout`` (nothing is sent)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    server: str


def http_probe(
    host: str,
    port: int,
    path: str,
    headers: Sequence[tuple[str, str]],
    timeout: float,
    *,
    method: str = "GET",
) -> HttpAnswer | None:
    """One HTTP request; the status line only (the body is read a little and discarded)."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request(method, path, headers={"User-Agent": "corral-audit", **dict(headers)})
        response = connection.getresponse()
        response.read(4096)
        return HttpAnswer(response.status, response.getheader("Server", "") or "")
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def unix_connect(path: str, timeout: float) -> socket.socket:
    """A connected AF_UNIX stream socket (the caller closes it); raises OSError."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    return sock
