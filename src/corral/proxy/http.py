"""The HTTP side of the proxy: ``CONNECT host:port`` tunnels and absolute-URI forwarding.

Requests are parsed with h11 (a strict, well-kept HTTP/1.1 parser that bounds what it buffers and
rejects ambiguous framing such as both Content-Length and chunked), so the proxy and the origin
cannot disagree about where one request ends. One request per client connection: the proxy asks
the origin to close after its response and relays that response as it comes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

import h11

from corral.model.decisions import Decision
from corral.proxy.judge import ConnectionVerdict
from corral.proxy.relay import Ends

if TYPE_CHECKING:
    from corral.proxy.server import Connection

# Hop-by-hop headers (RFC 9110 section 7.6.1) and the proxy's own: never sent on to the origin.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"proxy-connection",
        b"keep-alive",
        b"proxy-authorization",
        b"proxy-authenticate",
        b"te",
        b"trailer",
        b"upgrade",
        b"host",
    }
)
REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    408: "Request Timeout",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    502: "Bad Gateway",
    504: "Gateway Timeout",
}


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


async def serve(conn: Connection, first: bytes) -> None:
    parser = h11.Connection(h11.SERVER, max_incomplete_event_size=conn.limits.max_header_bytes)
    parser.receive_data(first)
    try:
        async with asyncio.timeout(conn.limits.header_timeout):
            request = await _read_request(parser, conn.client.reader)
        if request is None:
            return
        if len(request.headers) > conn.limits.max_headers:
            raise BadRequest(431, f"more than {conn.limits.max_headers} header fields")
        name = conn.session_name(_proxy_user(request.headers))
        if not await conn.claim(name):
            raise BadRequest(429, f"session {name} holds too many connections; close some")
        if request.method == b"CONNECT":
            await _connect(conn, parser, request, name)
        else:
            await _forward(conn, parser, request, name)
    except h11.RemoteProtocolError as exc:
        await _send(conn, plain_reply(exc.error_status_hint, f"malformed request: {exc}"))
    except TimeoutError:
        await _send(conn, plain_reply(408, "the request was not complete in time"))
    except BadRequest as exc:
        await _send(conn, plain_reply(exc.status, exc.message))


async def _read_request(parser: h11.Connection, reader: asyncio.StreamReader) -> h11.Request | None:
    while True:
        event = parser.next_event()
        if event is h11.NEED_DATA:
            parser.receive_data(await reader.read(64 * 1024))
            continue
        if isinstance(event, h11.Request):
            return event
        return None  # ConnectionClosed: the client hung up before asking anything


async def _connect(
    conn: Connection, parser: h11.Connection, request: h11.Request, name: str
) -> None:
    host, port = split_authority(request.target.decode("ascii", "replace"), None)
    verdict = await conn.judge(name, host, port, via="http-connect")
    if not verdict.allowed:
        await _send(conn, refusal_reply(verdict.deciding))
        return
    upstream = await _open(conn, verdict, host, port)
    if upstream is None:
        return
    conn.client.writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    pending, _ = parser.trailing_data
    await conn.relay(upstream, host, port, pending=bytes(pending))


async def _forward(
    conn: Connection, parser: h11.Connection, request: h11.Request, name: str
) -> None:
    target = request.target.decode("ascii", "replace")
    parts = urlsplit(target)
    if parts.scheme.lower() != "http" or not parts.netloc:
        raise BadRequest(
            400,
            "this is an egress proxy: send an absolute http:// URI, or CONNECT host:port for TLS",
        )
    host, port = split_authority(parts.netloc.rpartition("@")[2], 80)
    method = request.method.decode("ascii", "replace")
    verdict = await conn.judge(name, host, port, via="http", http=(method, target))
    if not verdict.allowed:
        await _send(conn, refusal_reply(verdict.deciding))
        return
    upstream = await _open(conn, verdict, host, port)
    if upstream is None:
        return
    try:
        await _exchange(
            conn,
            parser=parser,
            request=request,
            upstream=upstream,
            host=host,
            port=port,
            parts=parts,
        )
    finally:
        upstream.writer.transport.abort()


async def _exchange(
    conn: Connection,
    *,
    parser: h11.Connection,
    request: h11.Request,
    upstream: Ends,
    host: str,
    port: int,
    parts: SplitResult,
) -> None:
    """Send the request on (origin-form, Host from the URI) and relay the response back."""
    origin = h11.Connection(h11.CLIENT)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    authority = parts.netloc.rpartition("@")[2].encode("ascii")
    dropped = _connection_tokens(request.headers)
    headers = [(k, v) for k, v in request.headers if k not in HOP_BY_HOP and k not in dropped]
    head = origin.send(
        h11.Request(
            method=request.method,
            target=path.encode("ascii", "replace"),
            headers=[(b"host", authority), *headers, (b"connection", b"close")],
        )
    )
    download = asyncio.create_task(_download(conn, upstream))
    try:
        if await _charge(conn, host, port, len(head or b"")):
            upstream.writer.write(head or b"")
            await _send_body(
                conn, parser=parser, origin=origin, upstream=upstream, host=host, port=port
            )
        else:
            download.cancel()
        await download
    finally:
        download.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await download


async def _send_body(
    conn: Connection,
    *,
    parser: h11.Connection,
    origin: h11.Connection,
    upstream: Ends,
    host: str,
    port: int,
) -> None:
    while True:
        event = parser.next_event()
        if event is h11.NEED_DATA:
            async with asyncio.timeout(conn.limits.idle_timeout):
                parser.receive_data(await conn.client.reader.read(conn.limits.max_body_chunk))
            continue
        if isinstance(event, h11.Data):
            out = origin.send(event) or b""
            if not await _charge(conn, host, port, len(out)):
                upstream.writer.transport.abort()
                return
            upstream.writer.write(out)
            await upstream.writer.drain()
        elif isinstance(event, h11.EndOfMessage):
            upstream.writer.write(origin.send(event) or b"")
            await upstream.writer.drain()
            return
        else:
            return


async def _download(conn: Connection, upstream: Ends) -> None:
    stats = conn.stats
    deadline = time.monotonic() + conn.limits.total_timeout
    while time.monotonic() < deadline:
        async with asyncio.timeout(conn.limits.idle_timeout):
            data = await upstream.reader.read(conn.limits.relay_chunk)
        if not data:
            break
        if stats is not None:
            stats.bytes_down += len(data)
        conn.client.writer.write(data)
        await conn.client.writer.drain()


async def _charge(conn: Connection, host: str, port: int, size: int) -> bool:
    if await conn.over_budget(host, port, size) is not None:
        return False
    if conn.stats is not None:
        conn.stats.bytes_up += size
    return True


async def _open(conn: Connection, verdict: ConnectionVerdict, host: str, port: int) -> Ends | None:
    try:
        return await conn.open_upstream(verdict.addresses, port)
    except TimeoutError:
        await _send(conn, plain_reply(504, f"connecting to {host}:{port} timed out"))
    except OSError as exc:
        await _send(conn, plain_reply(502, f"cannot connect to {host}:{port}: {exc.strerror}"))
    return None


def split_authority(authority: str, default_port: int | None) -> tuple[str, int]:
    """``host:port`` (``[v6]:port``) into its parts; BadRequest when it is not one."""
    if authority.startswith("["):
        host, _, rest = authority[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = authority.rpartition(":") if ":" in authority else (authority, "", "")
    host = host.lower().rstrip(".")
    if not port_text and default_port is not None:
        port_text = str(default_port)
    if not host or any(c in host for c in " /\\@?#%") or not port_text.isdigit():
        raise BadRequest(400, f"{authority[:200]!r} is not host:port")
    port = int(port_text)
    if not 0 < port < 65536:
        raise BadRequest(400, f"port {port} is out of range")
    return host, port


def _proxy_user(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The user name in ``Proxy-Authorization: Basic``: the session, not a login (no secret)."""
    for key, value in headers:
        if key != b"proxy-authorization":
            continue
        scheme, _, token = value.partition(b" ")
        if scheme.lower() != b"basic":
            return None
        try:
            user = base64.b64decode(token.strip(), validate=True).decode("utf-8").split(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user if user.isprintable() and 0 < len(user) <= 128 else None
    return None


def _connection_tokens(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    names = (
        token.strip().lower()
        for key, value in headers
        if key == b"connection"
        for token in value.split(b",")
    )
    return frozenset(names)


def refusal_reply(decision: Decision) -> bytes:
    """403 with the reason, the deciding rule or clause and the decision id, body and headers."""
    lead = decision.rules[0] if decision.rules else None
    rule = lead.id if lead else "none"
    listed = ", ".join(
        f"{r.id} ({r.title}{'; policy clause ' + r.clause if r.clause else ''})"
        for r in decision.rules
    )
    asked = (
        "\nThis action needs a person's approval; the proxy cannot ask, so it refuses."
        if decision.decision == "ask"
        else ""
    )
    body = (
        f"Corral refused this connection: {decision.reason}\n"
        f"rules: {listed or 'none'}\n"
        f"policy: {decision.policy}\n"
        f"decision: {decision.decision_id}{asked}\n"
    )
    extra = (
        f"X-Corral-Decision: {decision.decision}\r\n"
        f"X-Corral-Reason: {_header_text(decision.reason)}\r\n"
        f"X-Corral-Rule: {rule}\r\n"
        f"X-Corral-Decision-Id: {decision.decision_id}\r\n"
    )
    return _reply(403, body, extra)


def _header_text(text: str, limit: int = 400) -> str:
    """One header line's worth: printable ASCII only (clients show CONNECT headers, not bodies)."""
    cleaned = "".join(c if " " <= c <= "~" else "?" for c in text)
    return cleaned[:limit]


def plain_reply(status: int, message: str) -> bytes:
    return _reply(status, f"Corral proxy: {message}\n", "")


def _reply(status: int, body: str, extra_headers: str) -> bytes:
    data = body.encode("utf-8", "replace")
    head = (
        f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(data)}\r\n"
        f"{extra_headers}"
        "Connection: close\r\n\r\n"
    )
    return head.encode("latin-1", "replace") + data


async def _send(conn: Connection, data: bytes) -> None:
    with contextlib.suppress(OSError, ConnectionError):
        conn.client.writer.write(data)
        await conn.client.writer.drain()
