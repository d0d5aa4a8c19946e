"""Bridge the proxy into a sandbox, and what the supervisor needs to do so.

The sandbox's network namespace has loopback only. The proxy listens on a Unix socket outside it
(a path socket is reachable from any network namespace that can see the file, so it is
bind-mounted into the sandbox's mount namespace when it has one); :mod:`corral.proxy.forwarder`
runs inside, listening on the sandbox's 127.0.0.1:PORT and relaying to that socket. The agent's
environment points every common client at 127.0.0.1:PORT (:func:`sandbox_env`). A client that
ignores the settings has no route anywhere.

Why not a veth pair: it needs root, and it makes every service on the host's end of the pair
reachable from the sandbox (anything bound to 0.0.0.0), where the Unix socket leads to the proxy
and nothing else. The measured cost of the forwarder is in bench/RESULTS-proxy.md.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from corral.engine.guard import Guard
from corral.proxy.judge import DecisionRecorder, Resolver, system_resolver
from corral.proxy.limits import ProxyLimits
from corral.proxy.server import EgressProxy, SessionStats

FORWARDER = Path(__file__).with_name("forwarder.py")
T = TypeVar("T")


def sandbox_env(port: int, host: str = "127.0.0.1") -> dict[str, str]:
    """Environment that sends curl, Python (urllib, requests, pip), npm, git and most other
    clients through the forwarder at ``host:port``; the sandbox's own loopback stays direct."""
    http = f"http://{host}:{port}"
    socks = f"socks5h://{host}:{port}"  # h: names go to the proxy, never to a local resolver
    no_proxy = "localhost,127.0.0.1,::1"
    env = {
        "HTTP_PROXY": http,
        "HTTPS_PROXY": http,
        "ALL_PROXY": socks,
        "NO_PROXY": no_proxy,
        # curl reads only the lower-case http_proxy; most tools read either.
        "http_proxy": http,
        "https_proxy": http,
        "all_proxy": socks,
        "no_proxy": no_proxy,
        "PIP_PROXY": http,
        "npm_config_proxy": http,
        "npm_config_https_proxy": http,
        "npm_config_noproxy": no_proxy,
        "YARN_HTTP_PROXY": http,
        "YARN_HTTPS_PROXY": http,
        # git: the documented way to pass config through the environment (git >= 2.31).
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": "http.proxy",
        "GIT_CONFIG_VALUE_0": http,
        "GIT_CONFIG_KEY_1": "https.proxy",
        "GIT_CONFIG_VALUE_1": http,
    }
    return env


def forwarder_argv(
    unix_path: str | Path,
    port: int,
    *,
    python: str = sys.executable,
    netns: str | Path | None = None,
) -> list[str]:
    """The command that runs the forwarder; with ``netns`` (a ``/proc/PID/ns/net`` or a bind
    mount of one) it enters that namespace first. It prints ``ready PORT`` once listening."""
    argv = [python, "-I", str(FORWARDER), "--unix", str(unix_path), "--port", str(port)]
    if netns is not None:
        argv = ["nsenter", f"--net={netns}", "--", *argv]
    return argv


class ProxyService:
    """The proxy on its own thread and event loop, for a synchronous caller (the supervisor).

    ``with ProxyService(guard, log=log) as proxy: path = proxy.add_unix(sock, session="run-1")``
    """

    def __init__(
        self,
        guard: Guard,
        *,
        limits: ProxyLimits | None = None,
        resolver: Resolver = system_resolver,
        log: DecisionRecorder | None = None,
    ):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="corral-proxy", daemon=True)
        self._started = threading.Event()
        self._guard, self._limits, self._resolver, self._log = guard, limits, resolver, log
        self.proxy: EgressProxy | None = None

    def start(self) -> ProxyService:
        self._thread.start()
        self._started.wait()
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self.proxy = self._loop.run_until_complete(self._make())
        self._started.set()
        self._loop.run_forever()

    async def _make(self) -> EgressProxy:
        return EgressProxy(self._guard, limits=self._limits, resolver=self._resolver, log=self._log)

    def _call(self, coro: Any, timeout: float = 30.0) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    def add_unix(self, path: str | Path, *, session: str | None = None) -> str:
        assert self.proxy is not None, "start() first"
        listener = self._call(self.proxy.listen_unix(path, session=session))
        return str(listener.address)

    def add_tcp(self, host: str, port: int, *, session: str | None = None) -> str:
        assert self.proxy is not None, "start() first"
        listener = self._call(self.proxy.listen_tcp(host, port, session=session))
        return str(listener.address)

    def stats(self, session: str) -> SessionStats | None:
        assert self.proxy is not None, "start() first"
        return self.proxy.sessions.get(session)

    @property
    def failed(self) -> bool:
        return self.proxy is not None and self.proxy.failed.is_set()

    def stop(self) -> None:
        if self.proxy is not None and self._thread.is_alive():
            self._call(self.proxy.close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        if not self._loop.is_running():
            self._loop.close()

    def __enter__(self) -> ProxyService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
