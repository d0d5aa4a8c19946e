"""Exec events in real time: the Linux process-events connector, or a /proc scan when it is shut.

The connector (``NETLINK_CONNECTOR``, ``CN_IDX_PROC``) reports every fork, exec and exit on the
host within microseconds; it needs ``CAP_NET_ADMIN`` in the initial network namespace. Where it
cannot be opened (no root, a container without the capability) :class:`ScanWatcher` polls the
agent's cgroup instead and reports each new process, or a process whose command line changed, as
an exec — slower (one poll interval) and blind to processes that live shorter than that.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

NETLINK_CONNECTOR = 11
CN_IDX_PROC = 1
CN_VAL_PROC = 1
PROC_CN_MCAST_LISTEN = 1
PROC_CN_MCAST_IGNORE = 2
NLMSG_DONE = 3
PROC_EVENT_FORK = 0x00000001
PROC_EVENT_EXEC = 0x00000002
PROC_EVENT_EXIT = 0x80000000

_NLMSGHDR = struct.Struct("=IHHII")
_CN_MSG = struct.Struct("=IIIIHH")
_EVENT_HEAD = struct.Struct("=IIQ")  # what, cpu, timestamp_ns (CLOCK_MONOTONIC)


@dataclass(frozen=True, slots=True)
class ProcEvent:
    # "lost": the kernel dropped events (execs may have gone by unseen); "blind": the watcher
    # cannot read events any more. Both are the handler's to answer: it must not trust silence.
    kind: Literal["fork", "exec", "exit", "lost", "blind"]
    pid: int  # thread-group id (the process)
    parent: int = 0  # for fork
    mono_ns: int = 0  # when the kernel saw it (CLOCK_MONOTONIC), 0 when unknown


Handler = Callable[[ProcEvent], None]


class Watcher(Protocol):
    name: str

    def start(self, handler: Handler) -> None: ...

    def stop(self) -> None: ...


class ConnectorUnavailable(Exception):
    pass


def parse_events(data: bytes) -> list[ProcEvent]:
    """Every process event in one netlink datagram (several messages may share it)."""
    events: list[ProcEvent] = []
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length = _NLMSGHDR.unpack_from(data, offset)[0]
        if length < _NLMSGHDR.size:
            break
        body = offset + _NLMSGHDR.size + _CN_MSG.size
        event = _parse_event(data, body)
        if event is not None:
            events.append(event)
        offset += (length + 3) & ~3
    return events


def _parse_event(data: bytes, at: int) -> ProcEvent | None:
    if at + _EVENT_HEAD.size > len(data):
        return None
    what, _cpu, stamp = _EVENT_HEAD.unpack_from(data, at)
    at += _EVENT_HEAD.size
    if what == PROC_EVENT_EXEC and at + 8 <= len(data):
        _pid, tgid = struct.unpack_from("=II", data, at)
        return ProcEvent("exec", tgid, 0, stamp)
    if what == PROC_EVENT_FORK and at + 16 <= len(data):
        _ppid, parent_tgid, child_pid, child_tgid = struct.unpack_from("=IIII", data, at)
        if child_pid != child_tgid:
            return None  # a new thread, not a new process
        return ProcEvent("fork", child_tgid, parent_tgid, stamp)
    if what == PROC_EVENT_EXIT and at + 8 <= len(data):
        pid, tgid = struct.unpack_from("=II", data, at)
        if pid != tgid:
            return None
        return ProcEvent("exit", tgid, 0, stamp)
    return None


def _control_message(op: int) -> bytes:
    payload = struct.pack("=I", op)
    cn = _CN_MSG.pack(CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(payload), 0)
    length = _NLMSGHDR.size + len(cn) + len(payload)
    return _NLMSGHDR.pack(length, NLMSG_DONE, 0, 0, os.getpid()) + cn + payload


class ConnectorWatcher:
    """Process events from the kernel's proc connector, delivered on a background thread."""

    name = "proc-connector"

    def __init__(self) -> None:
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_CONNECTOR)
        except OSError as exc:
            raise ConnectorUnavailable(f"netlink connector: {exc.strerror}") from exc
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            sock.bind((0, CN_IDX_PROC))
            sock.send(_control_message(PROC_CN_MCAST_LISTEN))
        except OSError as exc:
            sock.close()
            raise ConnectorUnavailable(f"proc connector: {exc.strerror}") from exc
        self._sock = sock
        self._stop_r, self._stop_w = os.pipe()
        self._thread: threading.Thread | None = None
        self.overruns = 0

    def start(self, handler: Handler) -> None:
        self._thread = threading.Thread(
            target=_run_or_blind, args=(self._loop, handler), name="corral-exec", daemon=True
        )
        self._thread.start()

    def _loop(self, handler: Handler) -> None:
        poller = select.poll()
        poller.register(self._sock, select.POLLIN)
        poller.register(self._stop_r, select.POLLIN)
        while True:
            ready = {fd for fd, _ in poller.poll()}
            if self._stop_r in ready:
                return
            try:
                data = self._sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:  # the socket broke: no event will come again
                    handler(ProcEvent("blind", 0, 0, time.monotonic_ns()))
                    return
                self.overruns += 1  # the kernel dropped events: the handler looks again itself
                handler(ProcEvent("lost", 0, 0, time.monotonic_ns()))
                continue
            for event in parse_events(data):
                handler(event)

    def stop(self) -> None:
        os.write(self._stop_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=2)
        with contextlib.suppress(OSError):
            self._sock.send(_control_message(PROC_CN_MCAST_IGNORE))
        self._sock.close()
        os.close(self._stop_r)
        os.close(self._stop_w)


class ScanWatcher:
    """The fallback: poll a pid source and report new processes and changed command lines."""

    name = "proc-scan"

    def __init__(self, pids: Callable[[], list[int]], interval_s: float = 0.05) -> None:
        self._pids = pids
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, handler: Handler) -> None:
        self._thread = threading.Thread(
            target=_run_or_blind, args=(self._loop, handler), name="corral-scan", daemon=True
        )
        self._thread.start()

    def _loop(self, handler: Handler) -> None:
        known: dict[int, bytes] = {}
        while not self._stop.wait(self._interval):
            current: dict[int, bytes] = {}
            for pid in self._pids():
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as handle:
                        current[pid] = handle.read()
                except OSError:
                    continue
                if known.get(pid) != current[pid]:
                    handler(ProcEvent("exec", pid, 0, time.monotonic_ns()))
            for pid in known.keys() - current.keys():
                handler(ProcEvent("exit", pid, 0, time.monotonic_ns()))
            known = current

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)


def _run_or_blind(loop: Callable[[Handler], None], handler: Handler) -> None:
    """Run a watcher's loop; if it breaks, the handler hears that it is blind from now on."""
    try:
        loop(handler)
    except Exception:
        handler(ProcEvent("blind", 0, 0, time.monotonic_ns()))
        raise  # the thread's traceback goes to stderr, for whoever debugs it


def open_watcher(pids: Callable[[], list[int]]) -> tuple[Watcher, str | None]:
    """The connector when it opens, else the scan; the second value says why it fell back."""
    try:
        return ConnectorWatcher(), None
    except ConnectorUnavailable as exc:
        return ScanWatcher(pids), str(exc)
