"""Corral's egress proxy: every outbound connection of a sandboxed agent, judged and logged.

:class:`EgressProxy` speaks HTTP (forward and ``CONNECT``) and SOCKS5 on one port; the bridge
(:mod:`corral.proxy.bridge`) carries it into a sandbox's network namespace through a Unix socket.
See docs/proxy.md.
"""

from corral.proxy.bridge import ProxyService, forwarder_argv, sandbox_env
from corral.proxy.judge import EgressJudge, Resolver, system_resolver
from corral.proxy.limits import ProxyLimits
from corral.proxy.server import EgressProxy, Listener, SessionStats

__all__ = [
    "EgressJudge",
    "EgressProxy",
    "Listener",
    "ProxyLimits",
    "ProxyService",
    "Resolver",
    "SessionStats",
    "forwarder_argv",
    "sandbox_env",
    "system_resolver",
]
