"""The decision log's record format: canonical bytes, the hash chain and checkpoint MACs.

A record is one JSON object on one line. ``prev`` is the ``hash`` of the record before it
(:data:`GENESIS` for the first) and ``hash`` is the SHA-256 of the record's canonical bytes without
``hash``: ``json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` encoded
as UTF-8. The line itself is the canonical serialisation of the whole record, so a changed byte
anywhere changes either the parsed record or its serialisation. There are three kinds of record:
``decision`` (with ``redactions``), ``checkpoint`` (an HMAC-SHA256 over the previous record's seq
and hash, written every K records when the writer has a key) and ``event`` (a writer's note, such
as having moved a torn tail aside).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
"""The ``prev`` of the first record of every log."""

MIN_KEY_BYTES = 16
_MAC_LABEL = b"corral-decision-log-checkpoint-v1"
_KEY_ID_LABEL = b"corral-decision-log-key-id-v1"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_BASE_KEYS = frozenset({"seq", "ts", "prev", "hash"})
_BODY_KEYS = {
    "decision": frozenset({"decision", "redactions"}),
    "checkpoint": frozenset({"checkpoint"}),
    "event": frozenset({"event"}),
}
_CHECKPOINT_KEYS = frozenset({"covers", "hash", "every", "key_id", "mac"})
dump = partial(json.dumps, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
dump_strict = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode


class LogError(Exception):
    """The log cannot be opened or written. Callers must fail closed."""


class LogLocked(LogError):
    """Another process is already appending to this log."""


class LogCorrupt(LogError):
    """The end of the log is not a record this writer can continue from."""


def canonical_bytes(record: Mapping[str, Any]) -> bytes:
    """The bytes a record's hash covers (the record must not contain ``hash``)."""
    return dump(record).encode("utf-8")


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical bytes of ``record`` without its ``hash`` field."""
    return hashlib.sha256(
        canonical_bytes({k: v for k, v in record.items() if k != "hash"})
    ).hexdigest()


def load_key(path: str | os.PathLike[str]) -> bytes:
    """A checkpoint key from a file (raw bytes; a trailing newline is ignored)."""
    try:
        key = Path(path).read_bytes().rstrip(b"\r\n")
    except OSError as exc:
        raise LogError(f"cannot read key file {path}: {exc.strerror}") from exc
    if len(key) < MIN_KEY_BYTES:
        raise LogError(
            f"key file {path} holds {len(key)} bytes; a key needs at least {MIN_KEY_BYTES}"
        )
    return key


def key_id(key: bytes) -> str:
    """A short public name for a key, so verify can tell a wrong key from a forged checkpoint."""
    return hashlib.sha256(_KEY_ID_LABEL + key).hexdigest()[:16]


def checkpoint_mac(key: bytes, covers: int, covered_hash: str, every: int) -> str:
    """HMAC-SHA256 over the covered record's seq and hash and the checkpoint interval."""
    message = b"\n".join((_MAC_LABEL, b"%d" % covers, covered_hash.encode("ascii"), b"%d" % every))
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def parse_record(line: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """Parse one line (without its newline) and check it on its own.

    Returns ``(record, None)`` for a well-formed record whose hash matches its contents, and
    ``(record_or_None, why)`` otherwise (the record when the line was at least a JSON object).
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"is not valid UTF-8 (byte {exc.start})"
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):
        return None, "is not valid JSON"
    if not isinstance(record, dict):
        return None, "is not a JSON object"
    why = _shape_error(record)
    if why is not None:
        return record, why
    try:
        canonical = dump(record)
    except (TypeError, ValueError, RecursionError):
        return record, "cannot be serialised canonically"
    if canonical != text:
        return record, "is not in canonical form (its bytes were changed)"
    if record_hash(record) != record["hash"]:
        return record, "does not match its hash (its contents were changed)"
    return record, None


def _shape_error(record: dict[str, Any]) -> str | None:
    bodies = [k for k in _BODY_KEYS if k in record]
    if len(bodies) != 1:
        return "is not a decision, checkpoint or event record"
    if set(record) != _BASE_KEYS | _BODY_KEYS[bodies[0]]:
        return f"has unexpected fields {sorted(set(record) ^ (_BASE_KEYS | _BODY_KEYS[bodies[0]]))}"
    seq, prev, digest = record["seq"], record["prev"], record["hash"]
    if type(seq) is not int or seq < 1:
        return "has no valid seq"
    if not isinstance(record["ts"], str):
        return "has no valid ts"
    if not isinstance(prev, str) or not _HEX64.fullmatch(prev):
        return "has no valid prev"
    if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
        return "has no valid hash"
    body = bodies[0]
    if body == "decision":
        redactions = record["redactions"]
        if not isinstance(record["decision"], dict) or not isinstance(redactions, list):
            return "has a malformed decision or redaction list"
    elif body == "event":
        event = record["event"]
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return "has a malformed event"
    else:
        return _checkpoint_error(record)
    return None


def _checkpoint_error(record: dict[str, Any]) -> str | None:
    checkpoint = record["checkpoint"]
    if not isinstance(checkpoint, dict) or set(checkpoint) != _CHECKPOINT_KEYS:
        return "has a malformed checkpoint"
    every, mac = checkpoint["every"], checkpoint["mac"]
    if type(every) is not int or every < 1 or not isinstance(checkpoint["key_id"], str):
        return "has a malformed checkpoint"
    if not isinstance(mac, str) or not _HEX64.fullmatch(mac):
        return "has a malformed checkpoint MAC"
    if checkpoint["covers"] != record["seq"] - 1 or checkpoint["hash"] != record["prev"]:
        return "has a checkpoint that does not describe the record before it"
    return None
