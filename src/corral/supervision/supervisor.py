"""The supervisor: start an agent in its fence, judge what its processes do, respond.

Threads: the exec watcher judges every exec of the agent with the engine (``corral.Guard``) and
stops a denied process at once; the sampler takes a snapshot every ``interval_s``, judges new
connections, runs the behaviour detectors and climbs the response ladder; a sink thread hands
every event to the listeners (decision log, store, timeline) so that writing never slows a kill.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import dataclasses
import functools
import os
import queue
import re
import signal
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from corral.engine.guard import Explanation, Guard, new_decision_id
from corral.model.decisions import Decision, RuleRef, Severity
from corral.supervision import procfs
from corral.supervision.config import STEP_ORDER, SupervisionSpec
from corral.supervision.detectors import Detector, Finding, default_detectors
from corral.supervision.events import Event
from corral.supervision.execwatch import ProcEvent, Watcher, open_watcher
from corral.supervision.fence import OUTER_PARTS, Fence, FenceOptions, Started
from corral.supervision.gpu import GpuProvider
from corral.supervision.identify import Identity, KnownBinaries, program_names
from corral.supervision.observe import Observer, Snapshot

PR_SET_CHILD_SUBREAPER = 36
CLONE_NEWNET = 0x40000000
DECISION_CACHE = 4096
TRACKED_MAX = 1 << 16
# Where the supervisor looks for the known binaries, after its own PATH.
KNOWN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_APPROVAL_ID = re.compile(r"\bapproval (ap-[0-9a-f]+) is pending")
T = TypeVar("T")
Listener = Callable[[Event], None]

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

DENIED_EXECS_RULE = RuleRef("CR-SUP-011", "Too many denied executions", ("T1059",))
SUPERVISOR_ERROR_RULE = RuleRef("CR-SUP-012", "Supervisor error", ())


@dataclass(slots=True)
class Outcome:
    exit_code: int
    killed_by: str | None  # the reason Corral killed the whole agent, if it did
    events: list[Event] = field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0
    unjudged: int = 0  # execs that exited before they could be judged


class Supervisor:
    """Run one agent command under supervision. ``start`` then ``wait``; ``stop`` any time."""

    def __init__(
        self,
        guard: Guard,
        spec: SupervisionSpec,
        fence_options: FenceOptions,
        *,
        gpu: GpuProvider | None = None,
        detectors: dict[str, Detector] | None = None,
        listeners: list[Listener] | None = None,
    ) -> None:
        self.guard = guard
        self.spec = spec
        self.fence = Fence(fence_options)
        self.observer = Observer(gpu)
        self.detectors = detectors if detectors is not None else default_detectors()
        self.listeners = list(listeners or [])
        self.events: list[Event] = []
        self.watcher: Watcher | None = None
        self.watcher_note: str | None = None
        self.started: Started | None = None
        # Sensitive programs on this host, to recognise them under another name at exec.
        search = f"{os.environ.get('PATH', '')}:{KNOWN_PATH}".strip(":")
        self.known = KnownBinaries(program_names(guard.rules.lists), search)
        self._own: set[int] = {os.getpid()}
        # The agent's processes as the fork events tell them (pid -> parent), so that an exec
        # that is gone before it can be read is still known to be the agent's.
        self._tracked: dict[int, int] = {}
        self._unjudged = 0
        self._cache: OrderedDict[tuple[tuple[str, ...], str | None], Explanation] = OrderedDict()
        self._judged_conns: set[tuple[int, str, int]] = set()
        self._ladder: dict[str, tuple[int, float]] = {}
        self._level = -1  # highest ladder step taken for the whole agent
        self._frozen_at: float | None = None
        self._frozen_for: tuple[RuleRef, Severity, str] | None = None
        self._denied_execs = 0
        self._killed_by: str | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._sink: queue.SimpleQueue[Event | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._sink_thread: threading.Thread | None = None
        self._watcher_stopped = False
        self._t0 = 0.0

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, argv: list[str]) -> None:
        """Set up the fence and start ``argv`` in it; raises FenceError and starts nothing."""
        self._t0 = time.monotonic()
        _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        self.fence.prepare()
        self._sink_thread = self._start_thread(self._drain, "corral-sink")
        self.watcher, self.watcher_note = open_watcher(self.agent_pids)
        self.watcher.start(self._on_proc_event)  # before launch: the first exec is seen too
        try:
            self.started = self.fence.launch(argv)
        except BaseException:
            self._shutdown_threads()
            self.fence.close()
            raise
        self._own |= {self.started.process.pid, self.started.init_pid}
        for pid in (self.started.process.pid, self.started.init_pid):
            self._tracked.setdefault(pid, 0)
        self._emit(Event("fence", self._fence_summary(argv)))
        self._start_thread(self._sample_loop, "corral-sample")

    def wait(self) -> Outcome:
        assert self.started is not None, "start() first"
        try:
            code = self.started.process.wait()
        except KeyboardInterrupt:
            self.kill_agent("interrupted (Ctrl-C)")
            code = self.started.process.wait()
        return self._finish(code)

    def stop(self, reason: str = "stopped by the supervisor's owner") -> None:
        if self.started is not None and self.started.process.poll() is None:
            self.kill_agent(reason)

    def _finish(self, code: int) -> Outcome:
        self._done.set()
        # Everything the watchers decided is recorded before the exit: a kill's response
        # precedes the exit record in the log, never follows it or goes missing.
        self._quiesce()
        if self.fence.cgroup is not None:
            self.fence.cgroup.destroy()  # whatever is left of the agent goes with it
        else:
            self._kill_tree(self.started.process.pid if self.started else 0)
        self._reap_orphans()
        exit_code = 128 + -code if code < 0 else code
        if self._killed_by is not None:
            exit_code = 128 + signal.SIGKILL
        ended = time.monotonic()
        summary = f"agent ended with status {exit_code}"
        if self._unjudged:
            summary += f"; {self._unjudged} exec(s) exited before they could be judged"
        self._emit(Event("exit", summary))
        self._shutdown_threads()
        return Outcome(
            exit_code, self._killed_by, list(self.events), self._t0, ended, self._unjudged
        )

    def _quiesce(self) -> None:
        """Stop the exec watcher and wait for the sampler: nothing is emitted after this."""
        self._done.set()
        if self.watcher is not None and not self._watcher_stopped:
            self._watcher_stopped = True
            self.watcher.stop()
        for thread in self._threads:
            if thread is not threading.current_thread() and thread is not self._sink_thread:
                thread.join(timeout=5)

    def _shutdown_threads(self) -> None:
        self._quiesce()
        self._sink.put(None)
        if self._sink_thread is not None and self._sink_thread is not threading.current_thread():
            self._sink_thread.join(timeout=5)

    def _start_thread(self, target: Callable[[], None], name: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()
        return thread

    def _fence_summary(self, argv: list[str]) -> str:
        active = sorted(self.fence.active - OUTER_PARTS)
        parts = [f"fence up: {', '.join(active) or 'nothing'}", *self.fence.notes]
        if self.fence.options.degraded:
            parts.append(f"DEGRADED without {', '.join(sorted(self.fence.options.degraded))}")
        parts.append(f"exec events via {self.watcher.name if self.watcher else '-'}")
        if self.watcher_note:
            parts.append(f"({self.watcher_note})")
        if self.fence.layout_text:
            parts.append(self.fence.layout_text)
        return "; ".join(parts) + f"; running {' '.join(argv)[:200]}"

    # -- membership and responses ---------------------------------------------------------------

    def agent_pids(self) -> list[int]:
        if self.fence.cgroup is not None:
            return self.fence.cgroup.pids()
        if self.started is None:
            return []
        root = self.started.process.pid
        return [root, *procfs.descendants(root)]

    def _member(self, pid: int) -> bool:
        if self.fence.cgroup is not None:
            return procfs.in_cgroup(pid, self.fence.cgroup.marker())
        root = self.started.process.pid if self.started else -1
        current: int | None = pid
        for _ in range(64):
            if current is None or current <= 1:
                return False
            if current == root:
                return True
            current = procfs.ppid(current)
        return False

    def kill_agent(self, reason: str) -> None:
        """Kill the whole agent (every process of its cgroup)."""
        with self._lock:
            if self._killed_by is None:
                self._killed_by = reason
        if self.fence.cgroup is not None:
            self.fence.cgroup.kill()
        elif self.started is not None:
            self._kill_tree(self.started.process.pid)

    def _kill_tree(self, pid: int) -> None:
        if pid <= 0:
            return
        tree = procfs.descendants(pid)
        for target in [pid, *tree]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(target, signal.SIGKILL)

    def _reap_orphans(self) -> None:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass

    # -- exec judgement -------------------------------------------------------------------------

    def _on_proc_event(self, event: ProcEvent) -> None:
        if self._done.is_set():
            return
        try:
            self._handle_proc_event(event)
        except Exception as exc:  # fail closed: an exec that cannot be judged must not run on
            self._kill_for_error(f"internal error while judging an exec: {exc!r}")

    def _handle_proc_event(self, event: ProcEvent) -> None:
        if event.kind == "blind":
            self._kill_for_error("the exec watcher stopped: execs can no longer be judged")
            return
        if event.kind == "lost":
            self._judge_again()
            return
        if event.kind == "fork":
            if event.parent in self._tracked:
                self._track(event.pid, event.parent)
            return
        if event.kind == "exit":
            self._tracked.pop(event.pid, None)
            return
        if event.pid in self._own:
            return
        member = self._member(event.pid)
        argv = procfs.cmdline(event.pid) if member else None
        if argv is None:
            # Gone (or a zombie) before it could be read: say so rather than drop it.
            if member or event.pid in self._tracked:
                self._record_unjudged(event)
            return
        self._track(event.pid, self._tracked.get(event.pid, 0))
        self._judge_and_respond(event, argv)

    def _judge_again(self) -> None:
        """The kernel dropped process events: an exec may have gone by unseen, so every process
        of the agent is judged again as it runs now."""
        self._emit(
            Event(
                "unjudged", "the kernel dropped process events: judging every agent process again"
            )
        )
        for pid in self.agent_pids():
            argv = procfs.cmdline(pid) if pid not in self._own else None
            if argv is not None:
                self._track(pid, self._tracked.get(pid, 0))
                self._judge_and_respond(ProcEvent("exec", pid), argv)

    def _track(self, pid: int, parent: int) -> None:
        if len(self._tracked) >= TRACKED_MAX:  # exit events were lost: start over
            self._tracked.clear()
        self._tracked[pid] = parent

    def _judge_and_respond(self, event: ProcEvent, argv: list[str]) -> None:
        self.observer.forget_static(event.pid)
        cwd = procfs.readlink(f"/proc/{event.pid}/cwd")
        identity = self.known.identify_pid(event.pid)
        renamed = identity is not None and identity.renamed(argv[0])
        judged = [identity.name, *argv[1:]] if identity is not None and renamed else argv
        if identity is not None and renamed:
            self.observer.programs[event.pid] = identity.name
        else:
            self.observer.programs.pop(event.pid, None)
        decision = self._judge_exec(judged, cwd)
        evidence = self._identity_evidence(event.pid, argv, identity) if renamed else None
        if evidence is not None:
            decision = dataclasses.replace(
                decision, reason=f"{decision.reason} ({evidence['identified']['note']})"
            )
        action = {"kind": "exec", "argv": judged, **({"cwd": cwd} if cwd else {})}
        shown = " ".join(argv)[:160]
        if decision.decision == "ask":
            decision = _ask_fails_closed(decision)
        if decision.decision != "deny":
            self._emit(
                Event(
                    "exec",
                    shown,
                    pid=event.pid,
                    decision=decision,
                    action=action,
                    evidence=evidence,
                )
            )
            return
        self._kill_tree(event.pid)
        latency = _since_kernel(event.mono_ns)
        self._denied_execs += 1
        self._emit(
            Event(
                "exec",
                f"stopped {shown}",
                pid=event.pid,
                decision=decision,
                action=action,
                step="stop",
                evidence=evidence,
                latency_ms=latency,
                # stamped with the exec's own moment: the timeline orders by it
                wall=time.time() - latency / 1000 if latency is not None else time.time(),
            )
        )
        limit = self.spec.ladder.denied_execs_kill_agent
        if limit and self._denied_execs >= limit:
            self._respond_agent(
                "kill",
                DENIED_EXECS_RULE,
                Severity.high,
                f"{self._denied_execs} executions were denied",
                snap=None,
            )

    def _identity_evidence(
        self, pid: int, argv: list[str], identity: Identity | None
    ) -> dict[str, Any] | None:
        if identity is None:
            return None
        return {
            "identified": {
                "argv0": argv[0],
                "exe": procfs.exe(pid) or "",
                "program": identity.path,
                "how": identity.how,
                "note": identity.note(argv[0]),
            }
        }

    def _record_unjudged(self, event: ProcEvent) -> None:
        """An exec that exited (or was reaped) before its command line could be read."""
        self._unjudged += 1
        parent = self._tracked.get(event.pid, 0)
        comm = procfs.comm(event.pid)
        known = [f"pid {event.pid}"]
        if parent:
            parent_comm = procfs.comm(parent)
            known.append(f"parent {parent}" + (f" ({parent_comm})" if parent_comm else ""))
        if comm:
            known.append(f"comm {comm}")
        latency = _since_kernel(event.mono_ns)
        self._emit(
            Event(
                "unjudged",
                f"exec exited before it could be judged: {', '.join(known)}",
                pid=event.pid,
                evidence={"unjudged": {"pid": event.pid, "ppid": parent, "comm": comm}},
                latency_ms=latency,
            )
        )

    def _judge_exec(self, argv: list[str], cwd: str | None) -> Decision:
        """Judge one exec. The stateless judgement of a command line is reused (a build runs the
        same compiler thousands of times), but every exec still goes through the budget ledger
        and the session: a quarantined session, or a spent budget, must stop a repeat too."""
        key = (tuple(argv), cwd)
        judged = self._cache.get(key)
        if judged is None:
            action: dict[str, Any] = {"kind": "exec", "argv": argv, "session": self.fence.run_id}
            if cwd:
                action["cwd"] = cwd
            judged = self.guard.judge_alone(action)
            self._cache[key] = judged
            if len(self._cache) > DECISION_CACHE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return self.guard.review(judged).decision

    # -- sampling, detectors, ladder ------------------------------------------------------------

    def _sample_loop(self) -> None:
        interval = self.spec.detectors.interval_s
        while not self._done.wait(interval):
            if self._killed_by is not None:
                return
            try:
                self._sample_once()
            except Exception as exc:  # fail closed: a blind supervisor kills rather than trusts
                self._kill_for_error(f"internal error while watching: {exc!r}")
                return

    def _kill_for_error(self, reason: str) -> None:
        """The supervisor cannot do its work: the agent is killed, and the log says why."""
        try:
            self._respond_agent("kill", SUPERVISOR_ERROR_RULE, Severity.high, reason, snap=None)
        finally:
            self.kill_agent(f"{SUPERVISOR_ERROR_RULE.id} {reason}")  # even if reporting broke

    def _sample_once(self) -> None:
        cgroup = self.fence.cgroup
        pids = [p for p in self.agent_pids() if p not in self._own]
        snap = self.observer.snapshot(pids, cgroup.pids_max_hits() if cgroup else 0)
        self._judge_connections(snap)
        findings = [
            f
            for detector in self.detectors.values()
            for f in detector(snap, self.observer, self.spec)
        ]
        for finding in sorted(findings, key=lambda f: -f.severity):
            self._climb(finding, snap)
            if self._killed_by is not None:
                return
        frozen_for = self._frozen_for
        if (
            self._frozen_at is not None
            and frozen_for is not None
            and time.monotonic() - self._frozen_at >= self.spec.ladder.step_after_s
        ):
            rule, severity, reason = frozen_for
            self._respond_agent(
                "kill", rule, severity, f"{reason} (frozen, not released)", snap=snap
            )

    def _judge_connections(self, snap: Snapshot) -> None:
        for pid in snap.procs:
            for conn in snap.outbound(pid):
                key = (pid, conn.remote[0], conn.remote[1])
                if key in self._judged_conns:
                    continue
                self._judged_conns.add(key)
                action = {
                    "kind": "net",
                    "host": conn.remote[0],
                    "port": conn.remote[1],
                    "session": self.fence.run_id,
                }
                decision = self.guard.decide(action)
                stop = decision.decision == "deny"
                if stop:
                    self._kill_tree(pid)
                self._emit(
                    Event(
                        "net",
                        f"{'stopped ' if stop else ''}connection to "
                        f"{conn.remote[0]}:{conn.remote[1]}",
                        pid=pid,
                        decision=decision,
                        action=action,
                        step="stop" if stop else None,
                    )
                )

    def _climb(self, finding: Finding, snap: Snapshot) -> None:
        steps = self.spec.ladder.steps(finding.severity.name)
        if not steps:
            return
        now = time.monotonic()
        state = self._ladder.get(finding.key)
        if state is None:
            index = 0
        elif now - state[1] >= self.spec.ladder.step_after_s and state[0] + 1 < len(steps):
            index = state[0] + 1
        else:
            return
        self._ladder[finding.key] = (index, now)
        step = steps[index]
        if step != "alert" and STEP_ORDER[step] <= self._level:
            return  # the whole agent is already there
        self._respond_agent(
            step, finding.rule, finding.severity, finding.reason, snap=snap, finding=finding
        )

    def _respond_agent(
        self,
        step: str,
        rule: RuleRef,
        severity: Severity,
        reason: str,
        *,
        snap: Snapshot | None,
        finding: Finding | None = None,
    ) -> None:
        age_ms = self._behaviour_age(finding)  # before a kill takes the processes away
        decision = Decision(
            decision="allow" if step == "alert" else "deny",
            severity=severity,
            reason=f"{rule.id} {reason}; response: {step}",
            policy=self.guard.policy.name,
            decision_id=new_decision_id(),
            rules=[rule],
            session=self.fence.run_id,
        )
        # Recorded before acting: the agent's exit (which the kill causes) comes after it.
        self._emit(
            Event(
                "response",
                f"{step}: {reason}",
                decision=decision,
                step=step,
                evidence=self._evidence(snap, finding),
                latency_ms=age_ms,
            )
        )
        self._act(step, rule, severity, reason)

    def _act(self, step: str, rule: RuleRef, severity: Severity, reason: str) -> None:
        cgroup = self.fence.cgroup
        if step == "throttle" and cgroup is not None:
            cgroup.set_cpu(self.spec.ladder.throttle_cores)
        elif step == "freeze":
            if cgroup is not None:
                cgroup.freeze()
            self._frozen_at = time.monotonic()
            self._frozen_for = (rule, severity, reason)
        elif step == "kill":
            self.kill_agent(f"{rule.id} {reason}")
        if step != "alert":
            self._level = max(self._level, STEP_ORDER[step])

    def _evidence(self, snap: Snapshot | None, finding: Finding | None) -> dict[str, Any]:
        if snap is None:
            return {}
        out: dict[str, Any] = {
            "tree": snap.evidence_tree(),
            "connections": snap.evidence_connections(),
        }
        if finding is not None:
            out["finding"] = {
                "rule": finding.rule.id,
                "pids": list(finding.pids),
                **finding.details,
            }
            out["samples"] = {str(p): self.observer.samples(p) for p in finding.pids[:4]}
        return out

    def _behaviour_age(self, finding: Finding | None) -> float | None:
        """Milliseconds since the oldest implicated process started."""
        if finding is None:
            return None
        starts = []
        for pid in finding.pids:
            with contextlib.suppress(OSError, ValueError, IndexError):
                starts.append(_start_time(pid))
        return (time.time() - min(starts)) * 1000 if starts else None

    # -- events ---------------------------------------------------------------------------------

    def report(self, event: Event) -> None:
        """Add an event from another component of this run (the egress proxy's decisions): it
        joins the run's events and goes to every listener like the supervisor's own."""
        self._emit(event)

    def _emit(self, event: Event) -> None:
        self.events.append(event)
        self._sink.put(event)

    def _drain(self) -> None:
        while (event := self._sink.get()) is not None:
            for listener in self.listeners:
                listener(event)

    # -- the agent's network namespace (the demo's test servers, the egress proxy) --------------

    def in_agent_netns(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on a thread inside the agent's network namespace; sockets it creates stay
        there (usable from any thread)."""
        if self.started is None:
            raise RuntimeError("the agent is not running")
        path = f"/proc/{self.started.init_pid}/ns/net"
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    if _libc.setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns into the agent's network")
                finally:
                    os.close(fd)
                box["value"] = fn()
            except BaseException as exc:
                box["error"] = exc

        thread = threading.Thread(target=run, name="corral-netns")
        thread.start()
        thread.join()
        if "error" in box:
            raise box["error"]
        return box["value"]  # type: ignore[no-any-return]

    def listen_in_agent_netns(self, port: int = 0) -> socket.socket:
        """A TCP listener on 127.0.0.1 inside the agent's network namespace."""

        def make() -> socket.socket:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen(16)
            return sock

        return self.in_agent_netns(make)


def _since_kernel(mono_ns: int) -> float | None:
    if not mono_ns:
        return None
    return (time.monotonic_ns() - mono_ns) / 1e6


_CLK_TCK = os.sysconf("SC_CLK_TCK")


@functools.cache
def _boot_time() -> float:
    with open("/proc/stat") as handle:
        return next(float(line.split()[1]) for line in handle if line.startswith("btime"))


def _start_time(pid: int) -> float:
    """Wall-clock start of ``pid`` from /proc (psutil's create_time without the import cost)."""
    text = procfs.read_text(f"/proc/{pid}/stat") or ""
    fields = text[text.rfind(")") + 2 :].split()
    return _boot_time() + int(fields[19]) / _CLK_TCK


def _ask_fails_closed(decision: Decision) -> Decision:
    """An ``ask`` at exec: nobody can answer while the process runs, so it is stopped. When the
    ledger opened an approval, its id is named; the agent's retry after approval is allowed."""
    found = _APPROVAL_ID.search(decision.reason)
    how = (
        f"approval {found.group(1)} is pending; after `corral approvals approve "
        f"{found.group(1)}` the agent's retry runs"
        if found
        else "a person's approval is needed and nobody can answer at exec time"
    )
    return dataclasses.replace(
        decision, decision="deny", reason=f"stopped until approved ({how}): {decision.reason}"
    )
