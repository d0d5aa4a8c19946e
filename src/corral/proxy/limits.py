"""Every bound the proxy keeps, in one place: sizes, counts and deadlines."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProxyLimits:
    """Defaults suit one agent per session; the tests shrink the deadlines to stay fast.

    A connection that has not finished its request (HTTP header block or SOCKS handshake) within
    ``header_timeout`` seconds is closed, however slowly it trickles bytes (slowloris). A tunnel
    with no bytes either way for ``idle_timeout`` seconds, or older than ``total_timeout``, is
    closed.
    """

    max_header_bytes: int = 32 * 1024
    max_headers: int = 100
    header_timeout: float = 10.0
    connect_timeout: float = 10.0
    idle_timeout: float = 300.0
    total_timeout: float = 3600.0
    max_connections: int = 8192
    max_session_connections: int = 256
    # Connections whose session is not yet known (they have not sent credentials) share one
    # pool, so a flood of silent sockets cannot starve sessions that identify themselves.
    max_unidentified: int = 4096
    max_body_chunk: int = 256 * 1024
    relay_chunk: int = 256 * 1024
    max_addresses: int = 16
    hello_timeout: float = 10.0
