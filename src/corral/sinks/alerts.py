"""Alert sinks: where "Policy Violation" alerts go (JSONL file, stdout, webhook, syslog).

An alert is a JSON object (built by the session layer, stored grouped in the store). Sinks must
never block or change a decision: local sinks (JSONL, stdout) swallow and count their errors;
network sinks (webhook, syslog) hand alerts to a background thread through a bounded queue, retry
with exponential backoff, and count every alert they drop (queue full, retries exhausted).
:meth:`AlertDispatcher.stats` reports the counts; ``corral check`` prints drops on exit.

The webhook uses the standard library's HTTP client (one POST per alert, no connection pooling
needed at alert rates); syslog messages follow RFC 5424, with octet-counting framing (RFC 6587)
over TCP and one datagram per message over UDP.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, Protocol

from corral import __version__
from corral.policy.model import AlertSinkSpec

ALERT_TITLE = "Policy Violation"
# RFC 5424 severities for Corral's severities (alert=1 ... informational=6).
SYSLOG_SEVERITY = {"critical": 2, "high": 3, "medium": 4, "low": 5, "info": 6}
SYSLOG_FACILITY_SECURITY = 13  # "log audit"
_SD_ID = "corral@32473"  # an SD-ID under the documentation-reserved enterprise number


def dumps(alert: Mapping[str, Any]) -> str:
    return json.dumps(alert, ensure_ascii=False, sort_keys=True, default=str)


@dataclass(slots=True)
class SinkStats:
    sent: int = 0
    dropped: int = 0
    errors: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "dropped": self.dropped, "errors": self.errors}


class AlertSink(Protocol):
    name: str
    stats: SinkStats

    def emit(self, alert: Mapping[str, Any]) -> None:
        """Deliver or queue one alert; never raises, never blocks for long."""
        ...

    def close(self, timeout_s: float = 2.0) -> None: ...


class JsonlSink:
    """Appends one line per alert (O_APPEND: concurrent writers' lines do not interleave)."""

    def __init__(self, path: str):
        self.name = f"jsonl:{path}"
        self.path = os.path.expanduser(path)
        self.stats = SinkStats()

    def emit(self, alert: Mapping[str, Any]) -> None:
        line = (dumps(alert) + "\n").encode("utf-8", "replace")
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
            self.stats.sent += 1
        except OSError:
            self.stats.errors += 1
            self.stats.dropped += 1

    def close(self, timeout_s: float = 2.0) -> None:
        return None


class StreamSink:
    """Writes each alert as one JSON line to a text stream (standard output by default)."""

    def __init__(self, stream: IO[str] | None = None, name: str = "stdout"):
        self.name = name
        self.stream = stream
        self.stats = SinkStats()

    def emit(self, alert: Mapping[str, Any]) -> None:
        stream = self.stream or sys.stdout
        try:
            stream.write(dumps(alert) + "\n")
            stream.flush()
            self.stats.sent += 1
        except (OSError, ValueError):
            self.stats.errors += 1
            self.stats.dropped += 1

    def close(self, timeout_s: float = 2.0) -> None:
        return None


_STOP = object()


class QueuedSink:
    """A sink that delivers from a background thread: bounded queue, retries, backoff, drops."""

    def __init__(self, name: str, spec: AlertSinkSpec):
        self.name = name
        self.stats = SinkStats()
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=spec.queue)
        self._retries = spec.retries
        self._backoff_s = spec.backoff_s
        self.timeout_s = spec.timeout_s
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"corral-{name}", daemon=True)
        self._thread.start()

    def emit(self, alert: Mapping[str, Any]) -> None:
        try:
            self._queue.put_nowait(dict(alert))
        except queue.Full:
            with self._lock:
                self.stats.dropped += 1

    def deliver(self, alert: Mapping[str, Any]) -> None:
        """Send one alert or raise; subclasses implement it."""
        raise NotImplementedError

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                self._send_with_retries(item)
            finally:
                self._queue.task_done()

    def _send_with_retries(self, alert: Mapping[str, Any]) -> None:
        delay = self._backoff_s
        for attempt in range(self._retries + 1):
            try:
                self.deliver(alert)
            except Exception:
                with self._lock:
                    self.stats.errors += 1
                if attempt == self._retries or self._closing.wait(delay):
                    break
                delay *= 2
            else:
                with self._lock:
                    self.stats.sent += 1
                return
        with self._lock:
            self.stats.dropped += 1

    def close(self, timeout_s: float = 2.0) -> None:
        """Let the queue drain for up to ``timeout_s``; whatever is left is counted as dropped."""
        deadline = time.monotonic() + timeout_s
        # unfinished_tasks counts queued alerts and the one being retried.
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        self._closing.set()
        left = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                left += 1
        with self._lock:
            self.stats.dropped += left
        self._queue.put(_STOP)
        self._thread.join(max(0.1, deadline - time.monotonic()))


class WebhookSink(QueuedSink):
    """HTTP POST of each alert as JSON to ``url``."""

    def __init__(self, spec: AlertSinkSpec):
        super().__init__(f"webhook:{spec.url}", spec)
        self.url = spec.url or ""
        self.headers = {
            "Content-Type": "application/json",
            "User-Agent": f"corral/{__version__}",
            **spec.headers,
        }

    def deliver(self, alert: Mapping[str, Any]) -> None:
        request = urllib.request.Request(
            self.url, data=dumps(alert).encode("utf-8"), headers=self.headers, method="POST"
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            if not 200 <= response.status < 300:
                raise urllib.error.HTTPError(
                    self.url, response.status, "not a 2xx answer", response.headers, None
                )


def syslog_message(alert: Mapping[str, Any], *, hostname: str | None = None) -> bytes:
    """One RFC 5424 message: header, structured data with the key fields, the alert as JSON."""
    severity = SYSLOG_SEVERITY.get(str(alert.get("severity")), 4)
    pri = SYSLOG_FACILITY_SECURITY * 8 + severity
    stamp = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    host = _header_field(hostname or socket.gethostname(), 255)
    rules = ",".join(str(r.get("id")) for r in alert.get("rules", []) if isinstance(r, Mapping))
    params = {
        "id": alert.get("id", ""),
        "session": alert.get("session") or "",
        "severity": alert.get("severity", ""),
        "decision": alert.get("decision", ""),
        "rules": rules,
        "count": alert.get("count", 1),
    }
    data = " ".join(f'{key}="{_sd_escape(str(value))}"' for key, value in params.items())
    header = f"<{pri}>1 {stamp} {host} corral {os.getpid()} {ALERT_TITLE.replace(' ', '')}"
    return f"{header} [{_SD_ID} {data}] ".encode() + b"\xef\xbb\xbf" + dumps(alert).encode()


def _header_field(value: str, limit: int) -> str:
    printable = "".join(c for c in value if 33 <= ord(c) <= 126)
    return printable[:limit] or "-"


def _sd_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


class SyslogSink(QueuedSink):
    """RFC 5424 syslog over UDP (one datagram each) or TCP (octet-counted frames)."""

    def __init__(self, spec: AlertSinkSpec):
        super().__init__(f"syslog:{spec.protocol}:{spec.host}:{spec.port}", spec)
        self.address = (spec.host, spec.port)
        self.protocol = spec.protocol
        self._tcp: socket.socket | None = None

    def deliver(self, alert: Mapping[str, Any]) -> None:
        message = syslog_message(alert)
        if self.protocol == "udp":
            with socket.socket(_family(self.address[0]), socket.SOCK_DGRAM) as udp:
                udp.sendto(message[:65000], self.address)
            return
        frame = b"%d " % len(message) + message
        try:
            if self._tcp is None:
                self._tcp = socket.create_connection(self.address, timeout=self.timeout_s)
            self._tcp.sendall(frame)
        except OSError:
            self._drop_connection()
            raise

    def _drop_connection(self) -> None:
        if self._tcp is not None:
            self._tcp.close()
            self._tcp = None

    def close(self, timeout_s: float = 2.0) -> None:
        super().close(timeout_s)
        self._drop_connection()


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class AlertDispatcher:
    """Hands each alert to every sink; a sink's failure is counted, never raised."""

    def __init__(self, sinks: Iterable[AlertSink] = ()):
        self.sinks: list[AlertSink] = list(sinks)

    def publish(self, alert: Mapping[str, Any]) -> None:
        for sink in self.sinks:
            try:
                sink.emit(alert)
            except Exception:
                sink.stats.errors += 1
                sink.stats.dropped += 1

    def stats(self) -> dict[str, dict[str, int]]:
        return {sink.name: sink.stats.to_dict() for sink in self.sinks}

    def dropped(self) -> int:
        return sum(sink.stats.dropped for sink in self.sinks)

    def close(self, timeout_s: float = 2.0) -> None:
        for sink in self.sinks:
            try:
                sink.close(timeout_s)
            except Exception:
                sink.stats.errors += 1


SinkFactory = Callable[[AlertSinkSpec, "IO[str] | None"], AlertSink]

SINK_TYPES: dict[str, SinkFactory] = {
    "jsonl": lambda spec, stream: JsonlSink(spec.path or ""),
    "stdout": lambda spec, stream: StreamSink(stream),
    "webhook": lambda spec, stream: WebhookSink(spec),
    "syslog": lambda spec, stream: SyslogSink(spec),
}


def build_dispatcher(
    specs: Iterable[AlertSinkSpec], stdout: IO[str] | None = None
) -> AlertDispatcher:
    """The sinks a policy names; ``stdout`` replaces standard output for the ``stdout`` sink."""
    return AlertDispatcher(SINK_TYPES[spec.type](spec, stdout) for spec in specs)
