"""The agent's one way out: Corral's egress proxy, bridged into its loopback-only network.

The fence gives the agent a network namespace with loopback only. :class:`EgressBridge` starts
the egress proxy (:mod:`corral.proxy`) in the supervisor, judging with the run's own guard (so
the session's history and the budget ledger apply, and the session is the run's id), listening
on a per-run Unix socket in a private runtime directory. Once the agent's namespaces exist, the
forwarder (:mod:`corral.proxy.forwarder`) starts *outside* the agent's pid namespace and cgroup
but inside its network namespace, on 127.0.0.1:PORT, relaying to that socket; the agent's
environment points every common client at it (:func:`corral.proxy.sandbox_env`).

An agent that ignores the proxy settings has no route anywhere. The agent cannot see or signal
the forwarder (it is not in its pid namespace), and if the forwarder dies the agent is only cut
off. Every proxy decision is written to the run's decision log before the proxy acts on it and
handed to the run's listeners as an :class:`~corral.supervision.events.Event`.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from corral.engine.guard import Guard
from corral.model.decisions import Decision
from corral.proxy import ProxyLimits, ProxyService, Resolver, forwarder_argv, sandbox_env
from corral.proxy import system_resolver as default_resolver
from corral.sinks import DecisionLog
from corral.supervision.events import Event
from corral.supervision.fence import Bind, FenceContext, FenceError, Missing, SandboxAdditions

# The forwarder's port inside the agent's network namespace (its own: nothing else is there).
# Squid's port, so tools that guess a proxy port guess right; not a stratum port.
DEFAULT_PORT = 3128
READY_TIMEOUT_S = 10.0
STALE_AFTER_S = 60.0
DEGRADE_HINT = "or start without a way out (loopback only): --degraded=proxy"


class RunRecorder:
    """The proxy's decision sink for one run: the run's decision log (written before the proxy
    acts, so nothing unrecorded goes through), then the run's listeners."""

    def __init__(self, log: DecisionLog | None = None) -> None:
        self.log = log
        self.emit: Callable[[Event], None] | None = None

    @property
    def path(self) -> object:
        return self.log.path if self.log is not None else "(the run's events)"

    def append(self, decision: Decision, action: Any = None, /) -> object:
        event = proxy_event(decision, action, logged=self.log is not None)
        seq: object = None
        if self.log is not None:
            seq = self.log.append(event.record(), action)  # raises LogError: the proxy stops
        if self.emit is not None:
            self.emit(event)
        return seq


def proxy_event(decision: Decision, action: Any, *, logged: bool = False) -> Event:
    """One proxy decision as a supervisor event; a refusal is step ``refuse``."""
    refused = decision.decision != "allow"
    what = "connection"
    if isinstance(action, dict):
        if action.get("kind") == "http":
            what = f"{action.get('method', '')} {action.get('url', '')}"
        elif "host" in action:
            what = f"connection to {action['host']}:{action.get('port', '')}"
    summary = f"{'refused ' if refused else ''}{what} (egress proxy)"
    return Event(
        "net",
        summary,
        decision=decision,
        action=action if isinstance(action, dict) else None,
        step="refuse" if refused else None,
        logged=logged,
    )


def runtime_base() -> Path:
    """Where per-run sockets go: /run/corral as root, $XDG_RUNTIME_DIR, else the temp dir."""
    if os.geteuid() == 0 and os.path.isdir("/run"):
        base = Path("/run/corral")
        base.mkdir(mode=0o700, exist_ok=True)
        return base
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return Path(runtime) if runtime and os.path.isdir(runtime) else Path(tempfile.gettempdir())


def sweep_stale(base: Path) -> None:
    """Remove the runtime directories of runs whose supervisor was killed (SIGKILL leaves no
    time to clean up): their socket no longer answers."""
    for directory in base.glob("corral-*-*"):
        with contextlib.suppress(OSError):
            if time.time() - directory.stat().st_mtime < STALE_AFTER_S:
                continue  # a run that is starting right now has no socket yet
        sock = directory / "egress.sock"
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(sock))
        except (ConnectionRefusedError, FileNotFoundError):
            shutil.rmtree(directory, ignore_errors=True)
        except OSError:
            continue  # not ours to judge (permissions): leave it
        finally:
            probe.close()


class EgressBridge:
    """Pass :meth:`extension` in ``FenceOptions.extensions``; set :attr:`emit` to the
    supervisor's ``report``; :meth:`close` when the run ends (also on failure)."""

    def __init__(
        self,
        guard: Guard,
        *,
        log: DecisionLog | None = None,
        resolver: Resolver = default_resolver,
        limits: ProxyLimits | None = None,
        port: int = DEFAULT_PORT,
    ) -> None:
        self.recorder = RunRecorder(log)
        self.service = ProxyService(guard, limits=limits, resolver=resolver, log=self.recorder)
        self.port = port
        self.runtime_dir: Path | None = None
        self.socket_path: Path | None = None
        self.forwarder: subprocess.Popen[bytes] | None = None
        self._started = False
        self._closing = threading.Event()

    @property
    def emit(self) -> Callable[[Event], None] | None:
        return self.recorder.emit

    @emit.setter
    def emit(self, value: Callable[[Event], None] | None) -> None:
        self.recorder.emit = value

    def extension(self, context: FenceContext) -> SandboxAdditions:
        """Start the proxy on this run's socket; say what the sandbox needs to use it."""
        if shutil.which("nsenter") is None:
            raise _missing("nsenter (util-linux) is not installed", "apt-get install util-linux")
        try:
            self.service.start()
            self._started = True
            base = runtime_base()
            sweep_stale(base)
            self.runtime_dir = Path(tempfile.mkdtemp(prefix=f"corral-{context.run_id}-", dir=base))
            self.socket_path = self.runtime_dir / "egress.sock"
            self.service.add_unix(self.socket_path, session=context.run_id)
        except (OSError, RuntimeError, TimeoutError) as exc:
            raise _missing(f"cannot start the egress proxy: {exc}", "see the error") from exc
        where = str(self.runtime_dir)
        return SandboxAdditions(
            binds=[Bind(where, where)],
            env=sandbox_env(self.port),
            on_started=self._start_forwarder,
            note=f"egress only through Corral's proxy at 127.0.0.1:{self.port}",
        )

    def _start_forwarder(self, init_pid: int) -> None:
        assert self.socket_path is not None
        argv = forwarder_argv(self.socket_path, self.port, netns=f"/proc/{init_pid}/ns/net")
        if os.geteuid() != 0:  # the agent's namespaces belong to its user namespace
            argv[1:1] = [f"--user=/proc/{init_pid}/ns/user", "--preserve-credentials"]
        setpriv = shutil.which("setpriv")
        if setpriv is not None:  # the forwarder dies with the supervisor (fail closed)
            argv = [setpriv, "--pdeathsig", "KILL", "--", *argv]
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, start_new_session=True
        )
        self.forwarder = process
        line = _first_line(process, READY_TIMEOUT_S)
        if not line.startswith("ready "):
            self._stop_forwarder()
            raise _missing(f"the egress forwarder did not start ({line or 'no answer'})", "")
        threading.Thread(target=self._watch_forwarder, name="corral-forwarder", daemon=True).start()

    def _watch_forwarder(self) -> None:
        process = self.forwarder
        if process is None:
            return
        code = process.wait()
        if not self._closing.is_set() and self.emit is not None:
            self.emit(
                Event(
                    "fence", f"egress forwarder exited ({code}): the agent is cut off the network"
                )
            )

    def _stop_forwarder(self) -> None:
        process = self.forwarder
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        if process.stdout is not None:
            process.stdout.close()

    def close(self) -> None:
        self._closing.set()
        self._stop_forwarder()
        if self._started:
            self.service.stop()
        if self.runtime_dir is not None:
            shutil.rmtree(self.runtime_dir, ignore_errors=True)


def _first_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    """The forwarder's first line (``ready PORT``), or "" when it says nothing in time."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return process.stdout.readline().decode(errors="replace").strip()


def _missing(what: str, fix: str) -> FenceError:
    return FenceError([Missing("proxy", what, f"{fix}; {DEGRADE_HINT}" if fix else DEGRADE_HINT)])


class SerializedHook:
    """One lock around a guard's session (or ledger) hook: the supervisor's exec watcher, its
    sampler and the proxy's loop judge at the same time, and the session store's SQLite
    connection takes one transaction at a time."""

    def __init__(self, hook: Any, lock: threading.RLock) -> None:
        self._hook = hook
        self._lock = lock

    def review(self, step: Any) -> Decision:
        with self._lock:
            return self._hook.review(step)  # type: ignore[no-any-return]

    def settle(self, step: Any, final: Decision) -> None:
        with self._lock:
            self._hook.settle(step, final)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hook, name)


def serialize_state(guard: Guard) -> Guard:
    """Make ``guard``'s session and ledger hooks safe to call from several threads, and open the
    session store now: opening it on the agent's first exec would slow that first judgement
    (by milliseconds in which a short command could finish)."""
    lock = threading.RLock()
    if guard.sessions is not None:
        with contextlib.suppress(Exception):  # a store that cannot open denies, at first use
            getattr(guard.sessions, "store", None)
        guard.sessions = SerializedHook(guard.sessions, lock)
    if guard.ledger is not None:
        guard.ledger = SerializedHook(guard.ledger, lock)
    return guard
