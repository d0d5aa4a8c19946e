"""The SOCKS5 side of the proxy (RFC 1928): CONNECT only; UDP ASSOCIATE and BIND are refused.

Names given to the proxy (``socks5h://``, address type 3) are judged as names and resolved by the
proxy, exactly like HTTP ``CONNECT``. A user name (RFC 1929) names the session on a shared
listener; the password is not checked (it is not a login).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from typing import TYPE_CHECKING

from corral.proxy import clauses as P

if TYPE_CHECKING:
    from corral.proxy.server import Connection

NO_AUTH = 0x00
USER_PASS = 0x02
NO_METHOD = 0xFF
CMD_CONNECT = 0x01
ATYP_IPV4, ATYP_NAME, ATYP_IPV6 = 0x01, 0x03, 0x04

SUCCEEDED = 0x00
GENERAL_FAILURE = 0x01
NOT_ALLOWED = 0x02
HOST_UNREACHABLE = 0x04
CONNECTION_REFUSED = 0x05
TTL_EXPIRED = 0x06
COMMAND_NOT_SUPPORTED = 0x07
ADDRESS_NOT_SUPPORTED = 0x08
COMMANDS = {0x02: "BIND", 0x03: "UDP ASSOCIATE"}


class SocksError(Exception):
    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


async def serve(conn: Connection) -> None:
    """Called after the version byte (5) has been read."""
    try:
        async with asyncio.timeout(conn.limits.header_timeout):
            user = await _negotiate(conn)
            if user is None:
                return
            command, host, port = await _request(conn)
    except SocksError as exc:
        await _reply(conn, exc.code)
        return
    name = conn.session_name(user or None)
    if not await conn.claim(name):
        await _reply(conn, NOT_ALLOWED)
        return
    if command != CMD_CONNECT:
        await _unsupported(conn, command, host, port, name)
        return
    verdict = await conn.judge(name, host, port, via="socks5")
    if not verdict.allowed:
        await _reply(conn, NOT_ALLOWED)
        return
    try:
        upstream = await conn.open_upstream(verdict.addresses, port)
    except TimeoutError:
        await _reply(conn, TTL_EXPIRED)
        return
    except ConnectionRefusedError:
        await _reply(conn, CONNECTION_REFUSED)
        return
    except OSError:
        await _reply(conn, HOST_UNREACHABLE)
        return
    await _reply(conn, SUCCEEDED)
    await conn.relay(upstream, host, port)


async def _negotiate(conn: Connection) -> str | None:
    """Pick an auth method; returns the user name ('' without one) or None when none fits."""
    reader, writer = conn.client.reader, conn.client.writer
    count = (await reader.readexactly(1))[0]
    methods = await reader.readexactly(count)
    if USER_PASS in methods:
        writer.write(bytes((5, USER_PASS)))
        version = (await reader.readexactly(1))[0]
        user = await reader.readexactly((await reader.readexactly(1))[0])
        await reader.readexactly((await reader.readexactly(1))[0])  # password: not a login
        ok = version == 1
        writer.write(bytes((1, 0 if ok else 1)))
        if not ok:
            return None
        text = user.decode("utf-8", "replace")
        return text if text.isprintable() else ""
    if NO_AUTH in methods:
        writer.write(bytes((5, NO_AUTH)))
        return ""
    writer.write(bytes((5, NO_METHOD)))
    await writer.drain()
    return None


async def _request(conn: Connection) -> tuple[int, str, int]:
    reader = conn.client.reader
    version, command, _, atyp = await reader.readexactly(4)
    if version != 5:
        raise SocksError(GENERAL_FAILURE)
    if atyp == ATYP_IPV4:
        host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
    elif atyp == ATYP_IPV6:
        host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
    elif atyp == ATYP_NAME:
        raw = await reader.readexactly((await reader.readexactly(1))[0])
        try:
            host = raw.decode("ascii").lower().rstrip(".")
        except UnicodeDecodeError:
            raise SocksError(ADDRESS_NOT_SUPPORTED) from None
        if not host or not host.isprintable() or any(c in host for c in " /\\@?#%:"):
            raise SocksError(ADDRESS_NOT_SUPPORTED)
    else:
        raise SocksError(ADDRESS_NOT_SUPPORTED)
    port = int.from_bytes(await reader.readexactly(2), "big")
    return command, host, port


async def _unsupported(conn: Connection, command: int, host: str, port: int, name: str) -> None:
    what = COMMANDS.get(command, f"command {command}")
    decision = conn.refusal(
        P.UNSUPPORTED, f"SOCKS {what} to {host}:{port}: the proxy relays TCP CONNECT only", name
    )
    proto = "udp" if command == 0x03 else "tcp"
    action = {"kind": "net", "host": host, "port": port, "proto": proto, "session": name}
    await conn.proxy.judge.record(decision, action)
    await _reply(conn, COMMAND_NOT_SUPPORTED)


async def _reply(conn: Connection, code: int) -> None:
    # BND.ADDR 0.0.0.0:0: the client needs no address of ours.
    conn.client.writer.write(bytes((5, code, 0, ATYP_IPV4, 0, 0, 0, 0, 0, 0)))
    with contextlib.suppress(OSError, ConnectionError):
        await conn.client.writer.drain()
