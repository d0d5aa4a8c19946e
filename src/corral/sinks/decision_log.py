"""The tamper-evident decision log's writer: append-only, hash-chained, fsynced, single-writer.

Every record is one line of JSON Lines (the format is in :mod:`corral.sinks.records`)::

    {"decision": {...}, "hash": "<hex>", "prev": "<hex>", "redactions": [...], "seq": 7,
     "ts": "2025-01-02T03:04:05.678901Z"}

:class:`DecisionLog` is the single writer (``fcntl.flock``); :func:`verify` (re-exported from
:mod:`corral.sinks.verify`) reads a log and names the first record that is not what the writer
wrote. See docs/decision-log.md for the guarantees and their limits.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import math
import os
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from corral.model.actions import ACTION_TYPES
from corral.model.decisions import Decision
from corral.sinks.records import (
    GENESIS,
    MIN_KEY_BYTES,
    LogCorrupt,
    LogError,
    LogLocked,
    checkpoint_mac,
    dump_strict,
    key_id,
    load_key,
    parse_record,
)
from corral.sinks.redact import Redactor, default_redactor
from corral.sinks.verify import Problem, VerifyResult, verify

__all__ = [
    "GENESIS",
    "DecisionLog",
    "LogCorrupt",
    "LogError",
    "LogLocked",
    "Problem",
    "SyncMode",
    "TornTail",
    "VerifyResult",
    "load_key",
    "verify",
]

SyncMode = Literal["always", "batch"]

_CHUNK = 64 * 1024
_datasync: Callable[[int], None] = getattr(os, "fdatasync", os.fsync)


def _encode(seq: int, ts: str, prev: str, body: dict[str, Any]) -> tuple[bytes, str]:
    """The record's line (canonical, with ``hash``) and its hash; each value is dumped once.

    ``ts`` and ``prev`` are plain ASCII (a timestamp, a hex digest) and need no escaping.
    """
    parts = {"seq": str(seq), "ts": f'"{ts}"', "prev": f'"{prev}"'}
    try:
        parts.update((key, dump_strict(value)) for key, value in body.items())
        canonical = _join(parts)
    except (TypeError, ValueError):  # NaN, lone surrogates, foreign objects: make them JSON
        parts.update((key, dump_strict(_jsonable(value))) for key, value in body.items())
        canonical = _join(parts)
    digest = hashlib.sha256(canonical).hexdigest()
    parts["hash"] = f'"{digest}"'
    return _join(parts) + b"\n", digest


def _join(parts: dict[str, str]) -> bytes:
    # Top-level keys are fixed ASCII names, so this is exactly json.dumps(sort_keys=True, ...).
    return ("{" + ",".join(f'"{key}":{parts[key]}' for key in sorted(parts)) + "}").encode()


def _jsonable(value: Any) -> Any:
    """A copy that strict JSON can carry: non-finite floats and lone surrogates become text."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, bool | int) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {_jsonable(str(k)): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return _jsonable(str(value))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------------------------------------
# Low-level file helpers
# ---------------------------------------------------------------------------------------------


def _pread(fd: int, size: int, offset: int) -> bytes:
    chunks = []
    while size > 0:
        chunk = os.pread(fd, size, offset)
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _prev_newline(fd: int, before: int) -> int:
    """Offset of the last newline strictly before ``before``, or -1."""
    pos = before
    while pos > 0:
        start = max(0, pos - _CHUNK)
        index = _pread(fd, pos - start, start).rfind(b"\n")
        if index >= 0:
            return start + index
        pos = start
    return -1


def _fsync_dir(directory: Path) -> None:
    """Make a new or truncated file's directory entry durable (best effort where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------
# The writer
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TornTail:
    """An incomplete end of the log that a writer found on opening and moved aside."""

    offset: int
    size: int
    moved_to: Path
    sha256: str


_NO_ACTION: Any = object()


class DecisionLog:
    """The single appender of one decision log.

    ``sync="always"`` writes and fsyncs each record before :meth:`append` returns (and calls its
    ``on_durable``). ``sync="batch"`` writes each record at once but fsyncs at most every
    ``batch_ms`` milliseconds or every ``batch_records`` records, on a background thread; a record
    is acknowledged (``on_durable`` runs, in order) only after an fsync that covers it, so
    ``append`` returning means "written", not "durable". Use batch where many decisions arrive at
    once: it trades a few milliseconds of latency for an order of magnitude of throughput, and a
    crash loses only records nobody was told about.

    With ``key`` every ``checkpoint_every`` records (and on close) the writer adds a checkpoint
    record carrying an HMAC of the chain so far; someone without the key cannot rewrite the chain
    so that :func:`verify` with the key accepts it.

    Opening takes an exclusive ``flock`` (a second writer gets :class:`LogLocked`) and recovers the
    tail: an incomplete last line is moved to ``<log>.torn-<time>`` and an ``event`` record notes
    it (:attr:`torn`). Any write or fsync error makes the log unusable and is raised: callers must
    stop rather than act on decisions that were not logged.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        sync: SyncMode = "always",
        batch_records: int = 1000,
        batch_ms: float = 10.0,
        key: bytes | None = None,
        checkpoint_every: int = 1000,
        redactor: Redactor | None = None,
    ) -> None:
        if sync not in ("always", "batch"):
            raise ValueError(f"sync must be 'always' or 'batch', not {sync!r}")
        if batch_records < 1 or batch_ms <= 0 or checkpoint_every < 1:
            raise ValueError("batch_records, batch_ms and checkpoint_every must be positive")
        if key is not None and len(key) < MIN_KEY_BYTES:
            raise ValueError(f"a checkpoint key needs at least {MIN_KEY_BYTES} bytes")
        self.path = Path(path)
        self.sync_mode: SyncMode = sync
        self.torn: TornTail | None = None
        self._batch_records = batch_records
        self._batch_s = batch_ms / 1000.0
        self._key = key
        self._key_id = key_id(key) if key is not None else ""
        self._every = checkpoint_every
        self._redactor = redactor or default_redactor()
        self._cond = threading.Condition()
        self._seq = 0
        self._prev = GENESIS
        self._written = 0
        self._durable = 0
        self._since_checkpoint = 0
        self._first_unsynced = 0.0
        self._pending: deque[tuple[int, Callable[[], None]]] = deque()
        self._failure: LogError | None = None
        self._callback_error: BaseException | None = None
        self._closing = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._fd = self._open()
        try:
            with self._cond:
                self._recover()
                if key is not None:
                    self._resume_checkpoints()
                self._sync_locked()
        except OSError as exc:
            self._release()
            raise LogError(f"cannot recover {self.path}: {exc.strerror or exc}") from exc
        except BaseException:
            self._release()
            raise
        if sync == "batch":
            self._thread = threading.Thread(
                target=self._syncer, name="corral-log-sync", daemon=True
            )
            self._thread.start()

    # -- public -------------------------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        return self._seq

    @property
    def last_hash(self) -> str:
        return self._prev

    @property
    def durable_seq(self) -> int:
        return self._durable

    def append(
        self,
        decision: Decision | Mapping[str, Any],
        action: Any = _NO_ACTION,
        *,
        on_durable: Callable[[], None] | None = None,
    ) -> int:
        """Append one decision (and the action it judged, redacted); returns its seq.

        ``on_durable`` runs once the record is on disk: before ``append`` returns with
        ``sync="always"``, later (from the sync thread, in append order) with ``sync="batch"``.
        Raises :class:`LogError` if the record could not be written or an earlier one failed.
        """
        payload = decision.to_dict() if isinstance(decision, Decision) else dict(decision)
        if action is not _NO_ACTION:
            payload["action"] = _plain(action)
        redacted, found = self._redactor.redact(payload, "$.decision")
        body = {"decision": redacted, "redactions": [r.to_dict() for r in found]}
        with self._cond:
            self._check_usable()
            seq = self._append_locked(body)
            if on_durable is not None:
                self._pending.append((seq, on_durable))
            self._after_write()
        return seq

    def sync(self) -> int:
        """Fsync now and acknowledge everything written; returns the durable seq."""
        with self._cond:
            self._check_usable()
            self._sync_locked()
            return self._durable

    def close(self) -> None:
        """Write the closing checkpoint (with a key), fsync, acknowledge, unlock. Idempotent."""
        if not self._stop_syncer():
            return
        error: BaseException | None = None
        with self._cond:
            try:
                if self._failure is None and self._callback_error is None:
                    if self._key is not None and self._since_checkpoint > 0:
                        self._write_checkpoint()
                    self._sync_locked()
            except BaseException as exc:
                error = exc
            finally:
                self._closed = True
                self._release()
        if error is not None:
            raise error
        if self._failure is not None:
            raise self._failure
        if self._callback_error is not None:
            raise self._callback_error

    def abort(self) -> None:
        """Release the log without acknowledging anything still pending."""
        if not self._stop_syncer():
            return
        with self._cond:
            self._pending.clear()
            self._closed = True
            self._release()

    def __enter__(self) -> DecisionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- opening and recovery -----------------------------------------------------------------

    def _open(self) -> int:
        flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC
        try:
            try:
                fd = os.open(self.path, flags | os.O_CREAT | os.O_EXCL, 0o600)
                created = True
            except FileExistsError:
                fd = os.open(self.path, flags)
                created = False
        except OSError as exc:
            raise LogError(f"cannot open {self.path}: {exc.strerror}") from exc
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise LogError(f"{self.path} is not a regular file")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LogLocked(
                    f"{self.path} is already open for writing by another process; "
                    "a decision log has exactly one writer"
                ) from None
            if created:
                _fsync_dir(self.path.parent)
        except OSError as exc:
            os.close(fd)
            raise LogError(f"cannot open {self.path}: {exc.strerror or exc}") from exc
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _recover(self) -> None:
        """Find the last good record; move an incomplete or unreadable last line aside."""
        fd = self._fd
        size = os.fstat(fd).st_size
        if size == 0:
            return
        good_end = size if _pread(fd, 1, size - 1) == b"\n" else _prev_newline(fd, size) + 1
        unreadable_taken = False
        while good_end > 0:
            start = _prev_newline(fd, good_end - 1) + 1
            record, why = parse_record(_pread(fd, good_end - 1 - start, start))
            if record is None and not unreadable_taken:
                # A complete line that is not even JSON: the remains of a torn write.
                good_end, unreadable_taken = start, True
                continue
            if why is not None or record is None:
                raise LogCorrupt(
                    f"{self.path}: the last record (at byte {start}) {why}; the log was changed "
                    f"after it was written. Run `corral log verify {self.path}` and start a new log"
                )
            self._seq = self._written = self._durable = record["seq"]
            self._prev = record["hash"]
            break
        if good_end < size:
            self.torn = self._move_aside(good_end, size)
            event = {
                "type": "torn-tail",
                "moved_to": self.torn.moved_to.name,
                "offset": self.torn.offset,
                "bytes": self.torn.size,
                "sha256": self.torn.sha256,
            }
            self._append_locked({"event": event})

    def _move_aside(self, offset: int, size: int) -> TornTail:
        data = _pread(self._fd, size - offset, offset)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        base = f"{self.path}.torn-{stamp}"
        target = Path(base)
        for attempt in range(1, 1000):
            try:
                out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
                break
            except FileExistsError:
                target = Path(f"{base}-{attempt}")
        else:
            raise LogError(f"cannot find a free name to move the torn tail of {self.path} to")
        try:
            _write_all(out, data)
            os.fsync(out)
        finally:
            os.close(out)
        _fsync_dir(target.parent)
        os.ftruncate(self._fd, offset)
        os.fsync(self._fd)
        return TornTail(offset, len(data), target, hashlib.sha256(data).hexdigest())

    def _resume_checkpoints(self) -> None:
        """Count the records since the last checkpoint, so the interval holds across restarts."""
        fd, end, since = self._fd, os.fstat(self._fd).st_size, 0
        while end > 0 and since <= self._every:
            start = _prev_newline(fd, end - 1) + 1
            record, why = parse_record(_pread(fd, end - 1 - start, start))
            if record is None or why is not None:
                break
            if "checkpoint" in record:
                found = record["checkpoint"]["key_id"]
                if found != self._key_id:
                    raise LogError(
                        f"{self.path} was checkpointed with another key (key id {found}; this "
                        f"key's id is {self._key_id}); use one key per log"
                    )
                self._since_checkpoint = since
                return
            since, end = since + 1, start
        if self._seq > 0:  # no checkpoint nearby: authenticate what is there from here on
            self._write_checkpoint()

    # -- writing ------------------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._closed or self._closing:
            raise LogError(f"{self.path} is closed")
        if self._failure is not None:
            raise self._failure
        if self._callback_error is not None:
            raise self._callback_error

    def _append_locked(self, body: dict[str, Any]) -> int:
        seq = self._write(body)
        if self._key is not None:
            self._since_checkpoint += 1
            if self._since_checkpoint >= self._every:
                self._write_checkpoint()
        return seq

    def _write_checkpoint(self) -> None:
        assert self._key is not None
        checkpoint = {
            "covers": self._seq,
            "hash": self._prev,
            "every": self._every,
            "key_id": self._key_id,
            "mac": checkpoint_mac(self._key, self._seq, self._prev, self._every),
        }
        self._write({"checkpoint": checkpoint})
        self._since_checkpoint = 0

    def _write(self, body: dict[str, Any]) -> int:
        seq = self._seq + 1
        line, digest = _encode(seq, _now(), self._prev, body)
        try:
            _write_all(self._fd, line)
        except OSError as exc:
            raise self._fail(f"cannot append to {self.path}: {exc.strerror}") from exc
        self._seq = self._written = seq
        self._prev = digest
        return seq

    def _after_write(self) -> None:
        if self.sync_mode == "always":
            self._sync_locked()
            return
        unsynced = self._written - self._durable
        if unsynced == 1:
            self._first_unsynced = time.monotonic()
            self._cond.notify_all()
        elif unsynced >= self._batch_records:
            self._cond.notify_all()
        # Back-pressure: never run more than a few batches ahead of the disk.
        while (
            self._written - self._durable >= 4 * self._batch_records
            and self._failure is None
            and self._callback_error is None
        ):
            self._cond.wait()
        self._check_usable()

    def _sync_locked(self) -> None:
        target = self._written
        if target > self._durable:
            try:
                _datasync(self._fd)
            except OSError as exc:
                raise self._fail(f"cannot sync {self.path}: {exc.strerror}") from exc
            self._durable = target
        self._acknowledge()

    def _acknowledge(self) -> None:
        pending = self._pending
        while pending and pending[0][0] <= self._durable:
            _, callback = pending.popleft()
            callback()

    def _fail(self, message: str) -> LogError:
        self._failure = LogError(message)
        self._pending.clear()
        self._cond.notify_all()
        return self._failure

    def _syncer(self) -> None:
        """Batch mode: fsync when a batch is full or its oldest record has waited ``batch_ms``."""
        cond = self._cond
        with cond:
            while True:
                while not self._closing and self._failure is None:
                    unsynced = self._written - self._durable
                    if unsynced >= self._batch_records:
                        break
                    if unsynced > 0:
                        remaining = self._first_unsynced + self._batch_s - time.monotonic()
                        if remaining <= 0:
                            break
                        cond.wait(remaining)
                    else:
                        cond.wait()
                if self._closing or self._failure is not None:
                    return
                target = self._written
                cond.release()
                try:
                    _datasync(self._fd)
                    error: OSError | None = None
                except OSError as exc:
                    error = exc
                finally:
                    cond.acquire()
                if error is not None:
                    self._fail(f"cannot sync {self.path}: {error.strerror}")
                    return
                self._durable = max(self._durable, target)
                if self._written > self._durable:
                    self._first_unsynced = time.monotonic()
                try:
                    self._acknowledge()
                except BaseException as exc:  # e.g. the reader of our output went away
                    self._callback_error = exc
                    cond.notify_all()
                    return
                cond.notify_all()

    def _stop_syncer(self) -> bool:
        """Stop the sync thread; False if the log was already closed."""
        with self._cond:
            if self._closed:
                return False
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        return True

    def _release(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1


def _plain(action: Any) -> Any:
    """An action as JSON-like data: a parsed Action's fields, or raw input text."""
    if isinstance(action, ACTION_TYPES):
        return action.model_dump(mode="json", exclude_none=True)
    if isinstance(action, bytes | bytearray):
        return bytes(action).decode("utf-8", "replace").rstrip("\r\n")
    return action
