"""The egress allowlist: hosts (with wildcards), host:port pairs and CIDRs."""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from dataclasses import dataclass

from corral.util.yamlfile import SourceError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Addresses an agent must never reach by default, even when named by a hostname elsewhere:
# RFC 1918, CGNAT, link-local (cloud metadata lives there), unique-local IPv6, and the
# metadata names clouds publish.
ALWAYS_GUARDED: tuple[Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "fc00::/7",
        "fe80::/10",
        "0.0.0.0/8",
    )
)
METADATA_NAMES = frozenset(
    {
        "metadata.google.internal",
        "metadata",
        "metadata.azure.com",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def parse_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return _legacy_ipv4(host)


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """inet_aton spellings that curl accepts: ``2852039166``, ``0xa9fea9fe``, ``0251.0...``."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(
        re.fullmatch(r"0x[0-9a-f]+|[0-9]+", p, re.I) for p in parts
    ):
        return None
    try:
        nums = [int(p, 0) if not re.fullmatch(r"0[0-7]+", p) else int(p, 8) for p in parts]
    except ValueError:
        return None
    value = 0
    for num in nums[:-1]:
        if num > 255:
            return None
        value = value * 256 + num
    last_bits = 8 * (5 - len(nums))
    if nums[-1] >= 1 << last_bits:
        return None
    value = (value << last_bits) | nums[-1]
    return ipaddress.IPv4Address(value) if value < 1 << 32 else None


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    addr = parse_ip(host)
    if addr is None:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped.is_loopback
    return addr.is_loopback


def is_guarded(host: str) -> bool:
    """Private, link-local, metadata or unspecified: refused unless the policy names it."""
    if host in METADATA_NAMES:
        return True
    addr = parse_ip(host)
    if addr is None:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr in net for net in ALWAYS_GUARDED if addr.version == net.version)


@dataclass(frozen=True, slots=True)
class EgressAllowlist:
    host_patterns: re.Pattern[str] | None
    host_port: frozenset[tuple[str, int]]
    networks: tuple[Network, ...]
    named_hosts: frozenset[str]

    @classmethod
    def build(cls, entries: list[str], source: str) -> EgressAllowlist:
        globs: list[str] = []
        pairs: set[tuple[str, int]] = set()
        nets: list[Network] = []
        for entry in entries:
            item = entry.strip().lower()
            if "/" in item:
                try:
                    nets.append(ipaddress.ip_network(item, strict=False))
                except ValueError as exc:
                    raise SourceError(
                        source, 0, "egress.allow", f"invalid CIDR {entry!r}: {exc}"
                    ) from exc
                continue
            host, port = _split_port(item)
            if not host:
                raise SourceError(
                    source,
                    0,
                    "egress.allow",
                    f"empty host in {entry!r}",
                    "write host, host:port, *.domain or a CIDR",
                )
            if port is None:
                globs.append(host)
            else:
                pairs.add((host, port))
        pattern = re.compile("|".join(fnmatch.translate(g) for g in globs)) if globs else None
        named = frozenset(g for g in globs if "*" not in g) | frozenset(h for h, _ in pairs)
        return cls(pattern, frozenset(pairs), tuple(nets), named)

    def allows(self, host: str, port: int | None) -> bool:
        host = host.lower().rstrip(".")
        if self.host_patterns is not None and self.host_patterns.match(host):
            return True
        if port is not None and (host, port) in self.host_port:
            return True
        addr = parse_ip(host)
        return addr is not None and any(
            addr in n for n in self.networks if n.version == addr.version
        )

    def names(self, host: str, port: int | None) -> bool:
        """Whether the policy names this host itself (wildcards do not count): guarded
        addresses such as metadata endpoints are reachable only when named on purpose."""
        host = host.lower().rstrip(".")
        if host in self.named_hosts and (
            port is None
            or (host, port) in self.host_port
            or (self.host_patterns is not None and self.host_patterns.match(host))
        ):
            return True
        addr = parse_ip(host)
        return addr is not None and any(
            addr in n for n in self.networks if n.version == addr.version
        )


def _split_port(item: str) -> tuple[str, int | None]:
    if item.startswith("["):
        host, _, rest = item[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if item.count(":") == 1:
        host, port = item.split(":")
        if port.isdigit():
            return host, int(port)
    return item, None
