"""Read the server name (SNI) from the first bytes a client sends through a tunnel.

The proxy compares it with the host the client asked to reach: a ``CONNECT allowed.example`` whose
TLS handshake names ``blocked.example`` is domain fronting. The parser reads only what it needs
(record and handshake headers, then the extension list), checks every length against the bytes
it holds, and reassembles a ClientHello split across records, up to :data:`MAX_HELLO` bytes.

Written here rather than taken from a TLS library because no library exposes a parse of a
ClientHello it did not itself produce; the format is small and fixed (RFC 8446 section 4.1.2,
RFC 6066 section 3).
"""

from __future__ import annotations

import re

RECORD_HANDSHAKE = 0x16
HANDSHAKE_CLIENT_HELLO = 0x01
EXT_SERVER_NAME = 0x0000
NAME_TYPE_HOST = 0x00
RECORD_HEADER = 5
MAX_RECORD = 16384 + 2048  # TLSPlaintext may not exceed 2^14; leave room for odd stacks
MAX_HELLO = 64 * 1024  # a ClientHello with post-quantum key shares and ECH is a few KiB

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*"
    r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.?$"
)


class ClientHelloError(ValueError):
    """The bytes start like a TLS handshake but are not a well-formed ClientHello."""


class Incomplete(Exception):
    """More bytes are needed; ``need`` is the total length known to be required so far."""

    def __init__(self, need: int):
        super().__init__(f"need {need} bytes")
        self.need = need


def looks_like_tls(first: bytes) -> bool:
    """A TLS handshake record starts 0x16 0x03: the proxy then insists on reading its SNI."""
    return len(first) >= 1 and first[0] == RECORD_HANDSHAKE and (len(first) < 2 or first[1] == 3)


def server_name(data: bytes) -> str | None:
    """The SNI host name in the ClientHello at the start of ``data`` (None when it names none).

    Raises :class:`Incomplete` when ``data`` is a prefix of a longer ClientHello and
    :class:`ClientHelloError` when it is malformed or ambiguous (two names, bad lengths).
    """
    return _parse_hello(_handshake_message(data))


def _handshake_message(data: bytes) -> bytes:
    """The ClientHello handshake message, joined from as many records as it spans."""
    body = bytearray()
    offset = 0
    need_total: int | None = None
    while need_total is None or len(body) < need_total:
        if len(data) < offset + RECORD_HEADER:
            raise Incomplete(offset + RECORD_HEADER)
        content_type, major = data[offset], data[offset + 1]
        length = int.from_bytes(data[offset + 3 : offset + 5], "big")
        if content_type != RECORD_HANDSHAKE or major != 3:
            raise ClientHelloError("the handshake is interrupted by a record that is not one")
        if length == 0 or length > MAX_RECORD:
            raise ClientHelloError(f"TLS record length {length} is out of range")
        end = offset + RECORD_HEADER + length
        if len(data) < end:
            raise Incomplete(end)
        body += data[offset + RECORD_HEADER : end]
        offset = end
        if need_total is None and len(body) >= 4:
            if body[0] != HANDSHAKE_CLIENT_HELLO:
                raise ClientHelloError("the first handshake message is not a ClientHello")
            need_total = 4 + int.from_bytes(body[1:4], "big")
            if need_total > MAX_HELLO:
                raise ClientHelloError(f"ClientHello of {need_total} bytes is too large")
        if offset > MAX_HELLO + 64 * RECORD_HEADER:
            raise ClientHelloError("ClientHello split into too many records")
    return bytes(body[4:need_total])


class _Reader:
    """Bounds-checked reads from one byte string: every overrun is a ClientHelloError."""

    def __init__(self, data: bytes, what: str):
        self.data = data
        self.pos = 0
        self.what = what

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise ClientHelloError(f"{self.what} is truncated")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def number(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def vector(self, length_size: int) -> bytes:
        return self.take(self.number(length_size))

    @property
    def left(self) -> int:
        return len(self.data) - self.pos


def _parse_hello(message: bytes) -> str | None:
    hello = _Reader(message, "ClientHello")
    hello.take(2 + 32)  # legacy_version, random
    if len(hello.vector(1)) > 32:
        raise ClientHelloError("ClientHello session id is longer than 32 bytes")
    suites = hello.vector(2)
    if not suites or len(suites) % 2:
        raise ClientHelloError("ClientHello cipher suite list is empty or odd")
    if not hello.vector(1):
        raise ClientHelloError("ClientHello has no compression method")
    if hello.left == 0:
        return None  # no extensions at all (very old clients): no name to compare
    extensions = _Reader(hello.vector(2), "ClientHello extensions")
    if hello.left:
        raise ClientHelloError("bytes after the ClientHello extensions")
    seen: set[int] = set()
    name: str | None = None
    while extensions.left:
        kind = extensions.number(2)
        data = extensions.vector(2)
        if kind in seen:
            raise ClientHelloError(f"ClientHello repeats extension {kind}")
        seen.add(kind)
        if kind == EXT_SERVER_NAME:
            name = _parse_server_name(data)
    return name


def _parse_server_name(data: bytes) -> str:
    outer = _Reader(data, "server_name extension")
    names = _Reader(outer.vector(2), "server_name list")
    if outer.left:
        raise ClientHelloError("bytes after the server_name list")
    found: list[str] = []
    while names.left:
        name_type = names.number(1)
        raw = names.vector(2)
        if name_type == NAME_TYPE_HOST:
            found.append(_host_name(raw))
    if len(found) != 1:
        raise ClientHelloError(f"server_name lists {len(found)} host names; exactly one allowed")
    return found[0]


def _host_name(raw: bytes) -> str:
    try:
        text = raw.decode("ascii").lower()
    except UnicodeDecodeError as exc:
        raise ClientHelloError("SNI host name is not ASCII") from exc
    if not _HOSTNAME.match(text):
        raise ClientHelloError(f"SNI host name {text[:80]!r} is not a DNS name")
    return text.rstrip(".")
