"""Judge one connection: the engine on the action, then the addresses the name resolves to.

The order matters. The engine judges the name first, and only an allowed name is resolved, so a
refused name never reaches a DNS server (``secret.attacker.example`` would leak by being looked
up). Every address the resolver returns is then checked, and the proxy connects to those checked
addresses, never re-resolving: a name that answers with a public address to one lookup and a
private one to the next (DNS rebinding) cannot slip between the check and the connect.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from corral.engine.guard import Guard, new_decision_id
from corral.model.decisions import Decision, RuleRef, Verdict
from corral.policy import clauses as C
from corral.policy.clauses import Clause
from corral.policy.egress import is_guarded, parse_ip
from corral.policy.evaluate import finding
from corral.proxy import clauses as P
from corral.sinks import LogError

Resolver = Callable[[str, int], Awaitable[list[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


async def system_resolver(host: str, port: int) -> list[str]:
    """The host's resolver (getaddrinfo), as the proxy's default."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class DecisionRecorder(Protocol):
    """Where the proxy records each decision before acting on it: a
    :class:`corral.sinks.DecisionLog`, or a supervisor's recorder that also hands the decision to
    the run's listeners. ``append`` raises :class:`LogError` or ``OSError`` when it cannot."""

    @property
    def path(self) -> object: ...

    def append(self, decision: Decision, action: Any = ..., /) -> object: ...


@dataclass(slots=True)
class ConnectionVerdict:
    """What the proxy concluded about one connection."""

    allowed: bool
    deciding: Decision
    addresses: list[str] = field(default_factory=list)


class ProxyFailure(Exception):
    """The proxy cannot judge or record any more: it refuses everything from now on."""


class EgressJudge:
    """The engine plus the proxy's own checks, with every final decision logged."""

    def __init__(
        self,
        guard: Guard,
        *,
        resolver: Resolver = system_resolver,
        log: DecisionRecorder | None = None,
        max_addresses: int = 16,
        resolve_timeout: float = 10.0,
    ):
        self.guard = guard
        self.resolver = resolver
        self.log = log
        self.max_addresses = max_addresses
        self.resolve_timeout = resolve_timeout
        self.failure: str | None = None
        # One writer thread: an fsync per decision never stalls the event loop, and records
        # keep the order in which connections were judged.
        self._log_thread = ThreadPoolExecutor(1, "corral-proxy-log") if log else None

    @property
    def policy_name(self) -> str:
        return self.guard.policy.name

    async def connection(
        self, session: str, host: str, port: int, *, via: str, http: tuple[str, str] | None = None
    ) -> ConnectionVerdict:
        """Judge a new connection to ``host:port`` (and the HTTP request it carries, if any)."""
        net: dict[str, Any] = {
            "kind": "net",
            "host": host,
            "port": port,
            "session": session,
            "via": via,
        }
        decisions = [(self.guard.decide(net), net)]
        if http is not None:
            request = {"kind": "http", "method": http[0], "url": http[1], "session": session}
            request["via"] = via
            decisions.append((self.guard.decide(request), request))
        refused = [d for d, _ in decisions if not d.allowed]
        if refused:
            await self.record_all(decisions)
            return ConnectionVerdict(False, refused[0])
        addresses, refusal = await self._resolve_and_check(session, host, port, net)
        if refusal is not None:
            decisions[0] = (refusal, net)
        if refusal is not None and not refusal.allowed:  # allowed: monitor mode, noted only
            await self.record_all(decisions)
            return ConnectionVerdict(False, refusal)
        net["resolved"] = addresses
        await self.record_all(decisions)
        return ConnectionVerdict(True, decisions[0][0], addresses)

    async def _resolve_and_check(
        self, session: str, host: str, port: int, net: dict[str, Any]
    ) -> tuple[list[str], Decision | None]:
        literal = parse_ip(host.strip("[]"))
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                async with asyncio.timeout(self.resolve_timeout):
                    addresses = (await self.resolver(host, port))[: self.max_addresses]
            except (OSError, TimeoutError, UnicodeError) as exc:
                reason = f"{host} could not be resolved ({exc or type(exc).__name__})"
                return [], self.refusal(P.UNRESOLVABLE, reason, session)
            if not addresses:
                return [], self.refusal(P.UNRESOLVABLE, f"{host} resolved to nothing", session)
        for address in addresses:
            problem = address_problem(self.guard, host, port, address)
            if problem is not None:
                net["resolved"] = addresses
                return addresses, self.refusal(C.PRIVATE_NET, problem, session)
        return addresses, None

    def refusal(
        self, clause: Clause, evidence: str, session: str | None, verdict: Verdict | None = None
    ) -> Decision:
        """A decision by one of the proxy's own checks, shaped like the engine's."""
        ref: RuleRef = finding(clause, evidence)
        decided: Verdict = verdict or clause.verdict
        monitor = self.guard.policy.spec.mode == "monitor"
        return Decision(
            decision="allow" if monitor else decided,
            severity=clause.severity,
            reason=f"{clause.id} {clause.title}: {evidence}",
            policy=self.policy_name,
            decision_id=new_decision_id(),
            rules=[ref],
            mode="monitor" if monitor else "enforce",
            would_decide=decided if monitor else None,
            session=session,
        )

    def failed(self, message: str, session: str | None) -> Decision:
        """Once the log fails, every connection is denied: nothing unrecorded is let through."""
        return Decision(
            decision="deny",
            severity=C.UNANALYSABLE.severity,
            reason=f"internal error: denied because Corral could not record it ({message})",
            policy=self.policy_name,
            decision_id=new_decision_id(),
            error=message,
            session=session,
        )

    async def record(self, decision: Decision, action: dict[str, Any] | None) -> None:
        await self.record_all([(decision, action)])

    async def record_all(self, items: Sequence[tuple[Decision, dict[str, Any] | None]]) -> None:
        """Append decisions to the log before the proxy acts on them; raise if it cannot."""
        if self.failure is not None:
            raise ProxyFailure(self.failure)
        if self.log is None or self._log_thread is None:
            return
        log = self.log
        loop = asyncio.get_running_loop()
        try:
            for decision, action in items:
                if action is None:
                    await loop.run_in_executor(self._log_thread, log.append, decision)
                else:
                    await loop.run_in_executor(self._log_thread, log.append, decision, action)
        except (LogError, OSError) as exc:
            self.failure = f"decision log {log.path} could not be written: {exc}"
            raise ProxyFailure(self.failure) from exc

    def close(self) -> None:
        if self._log_thread is not None:
            self._log_thread.shutdown(wait=True)


def address_problem(guard: Guard, host: str, port: int, address: str) -> str | None:
    """Why the proxy must not connect to ``address`` (resolved from ``host``), or None.

    Loopback counts here although policies allow it for the agent: through the proxy, loopback
    is the proxy's own machine, not the sandbox. Any of these is allowed when the policy names
    the host itself (not by a wildcard) or the address (by itself or a CIDR).
    """
    egress = guard.policy.egress
    if egress.names(host, port) or egress.names(address, port):
        return None
    addr = parse_ip(address.split("%", 1)[0])
    if addr is None:
        return f"{host} resolved to {address!r}, which is not an IP address"
    kind = _special_kind(addr)
    if kind is None:
        return None
    if host == address:
        return f"{host} is a {kind} address that the policy does not name"
    return f"{host} resolved to {address}, a {kind} address that the policy does not name"


def _special_kind(addr: IPAddress) -> str | None:
    candidates: list[IPAddress] = [addr]
    if isinstance(addr, ipaddress.IPv6Address):
        for embedded in (addr.ipv4_mapped, addr.sixtofour):
            if embedded is not None:
                candidates.append(embedded)
        if addr.teredo is not None:
            candidates.append(addr.teredo[1])
        if addr in _NAT64:
            candidates.append(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
    for candidate in candidates:
        if candidate.is_loopback:
            return "loopback (the proxy's own machine)"
        if is_guarded(str(candidate)):
            return "private, link-local or metadata"
        if candidate.is_unspecified or candidate.is_multicast or candidate.is_reserved:
            return "unspecified, multicast or reserved"
    return None
