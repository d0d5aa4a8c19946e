"""Verify a decision log: walk the chain and name the first record that was tampered with.

Each line is first checked on its own (valid UTF-8 JSON, the writer's canonical bytes, a hash that
matches its contents); then its place in the chain (``seq`` one more than the record before,
``prev`` equal to that record's hash). When something is off, a bounded look-ahead tells the
kinds of tampering apart: an *edited* record, *removed* records (a seq gap), an *inserted* record
(the chain continues without it), *reordered* records (a record appears before its predecessor)
or a *torn* last line (a writer stopped mid-append). With the key, checkpoint MACs are checked too.
"""

from __future__ import annotations

import hmac
import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Literal

from corral.sinks.records import GENESIS, checkpoint_mac, key_id, parse_record

ProblemKind = Literal[
    "edited", "removed", "inserted", "reordered", "torn", "checkpoint", "unauthenticated"
]


@dataclass(frozen=True, slots=True)
class Problem:
    """The first record that is not what the writer wrote.

    ``seq`` is the seq the finding is about (the edited record's, the first missing one, the
    inserted or misplaced record's); ``found_seq`` is what the line itself says, when readable.
    """

    kind: ProblemKind
    line: int
    offset: int
    seq: int | None
    found_seq: int | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "line": self.line,
            "offset": self.offset,
            "seq": self.seq,
            "found_seq": self.found_seq,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class VerifyResult:
    path: str
    problem: Problem | None
    records: int
    last_seq: int
    last_hash: str
    checkpoints: int
    authenticated: bool
    unauthenticated_tail: int
    events: tuple[dict[str, Any], ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "ok": self.ok,
            "problem": self.problem.to_dict() if self.problem else None,
            "records": self.records,
            "last_seq": self.last_seq,
            "last_hash": self.last_hash,
            "checkpoints": self.checkpoints,
            "authenticated": self.authenticated,
            "unauthenticated_tail": self.unauthenticated_tail,
            "events": list(self.events),
        }

    def describe(self) -> str:
        """A short report for people."""
        if self.problem is not None:
            p = self.problem
            about = f"seq {p.seq}" if p.seq is not None else "seq unknown"
            return (
                f"FAIL {self.path}:{p.line}: {p.kind} ({about}): {p.message}\n"
                f"  the chain is intact up to seq {self.last_seq} (hash {self.last_hash})"
            )
        lines = [
            f"ok {self.path}: {self.records} records, seq 1..{self.last_seq}, "
            f"last hash {self.last_hash}"
        ]
        if self.authenticated:
            lines.append(
                f"  {self.checkpoints} checkpoints verified with the key; "
                f"{self.unauthenticated_tail} records after the last one are not yet covered"
            )
        elif self.checkpoints:
            lines.append(f"  {self.checkpoints} checkpoints not checked (no key given)")
        else:
            lines.append("  no key: this proves the chain is intact, not who wrote it")
        for event in self.events:
            if event.get("type") == "torn-tail":
                lines.append(
                    f"  seq {event.get('seq')}: a writer moved an incomplete tail "
                    f"({event.get('bytes')} bytes) to {event.get('moved_to')}"
                )
        return "\n".join(lines)


@dataclass(slots=True)
class _Entry:
    line: int
    offset: int
    size: int
    complete: bool
    record: dict[str, Any] | None
    error: str | None

    def _get(self, name: str) -> Any:
        return self.record.get(name) if self.record is not None else None

    @property
    def seq(self) -> int | None:
        seq = self._get("seq")
        return seq if type(seq) is int else None

    @property
    def prev(self) -> Any:
        return self._get("prev")

    @property
    def hash(self) -> Any:
        return self._get("hash")

    @property
    def sound(self) -> bool:
        return self.complete and self.error is None


def verify(
    path: str | os.PathLike[str], key: bytes | None = None, *, window: int = 256
) -> VerifyResult:
    """Check a decision log end to end and name the first record that was tampered with.

    Raises ``OSError`` when the file cannot be read. ``window`` bounds how far ahead the
    classifier looks to tell a reordered record from an inserted or a removed one.
    """
    with open(path, "rb") as handle:
        return _Verifier(str(path), key, max(1, window)).run(handle)


class _Verifier:
    def __init__(self, path: str, key: bytes | None, window: int) -> None:
        self.path = path
        self.key = key
        self.key_id = key_id(key) if key is not None else None
        self.window = window

    def _entries(self, handle: IO[bytes]) -> Iterator[_Entry]:
        offset = 0
        for number, raw in enumerate(handle, start=1):
            complete = raw.endswith(b"\n")
            record, error = parse_record(raw[:-1] if complete else raw)
            yield _Entry(number, offset, len(raw), complete, record, error)
            offset += len(raw)

    def run(self, handle: IO[bytes]) -> VerifyResult:
        entries = self._entries(handle)
        ahead: deque[_Entry] = deque()
        expected, last_hash, last = 1, GENESIS, None
        checkpoints, since, every = 0, 0, None
        events: list[dict[str, Any]] = []

        def result(problem: Problem | None, *, blames_last: bool = False) -> VerifyResult:
            good, good_hash = expected - 1, last_hash
            if blames_last and last is not None:  # the record before turned out to be the culprit
                good, good_hash = expected - 2, str(last.prev)
                if events and events[-1]["seq"] == last.seq:
                    events.pop()
            return VerifyResult(
                path=self.path,
                problem=problem,
                records=good,
                last_seq=good,
                last_hash=good_hash,
                checkpoints=checkpoints,
                authenticated=self.key is not None,
                unauthenticated_tail=since if self.key is not None else 0,
                events=tuple(events),
            )

        while True:
            while len(ahead) <= self.window:
                entry = next(entries, None)
                if entry is None:
                    break
                ahead.append(entry)
            if not ahead:
                break
            entry = ahead.popleft()
            problem = self._classify(entry, ahead, expected, last_hash, last)
            if problem is None and entry.record is not None:
                problem, every, since, is_checkpoint = self._authenticate(entry, every, since)
                checkpoints += is_checkpoint
            if problem is not None:
                blames_last = last is not None and problem.line == last.line
                return result(problem, blames_last=blames_last)
            assert entry.record is not None
            if "event" in entry.record:
                events.append({"seq": entry.seq, **entry.record["event"]})
            last, expected, last_hash = entry, expected + 1, str(entry.hash)

        if self.key is not None and expected > 1 and checkpoints == 0:
            first = Problem(
                "unauthenticated",
                1,
                0,
                1,
                1,
                "the log has no checkpoint: it was written without this key, or its checkpoints "
                "were removed and the chain rebuilt; nothing in it is authenticated",
            )
            return result(first)
        return result(None)

    def _authenticate(
        self, entry: _Entry, every: int | None, since: int
    ) -> tuple[Problem | None, int | None, int, int]:
        """Checkpoint bookkeeping for an accepted record; MACs are checked only with a key."""
        assert entry.record is not None
        checkpoint = entry.record.get("checkpoint")
        if checkpoint is None:
            since += 1
            if self.key is not None and every is not None and since > every:
                return (
                    self._problem(
                        "unauthenticated",
                        entry,
                        entry.seq,
                        f"{since} records since the last checkpoint, whose interval is {every}: "
                        "a checkpoint was removed and the chain rebuilt after it",
                    ),
                    every,
                    since,
                    0,
                )
            return None, every, since, 0
        if self.key is not None:
            if checkpoint["key_id"] != self.key_id:
                why = (
                    f"the checkpoint names key id {checkpoint['key_id']}, but the key given has "
                    f"id {self.key_id}: wrong key, or a forged checkpoint"
                )
                return self._problem("checkpoint", entry, entry.seq, why), every, since, 1
            mac = checkpoint_mac(
                self.key, checkpoint["covers"], checkpoint["hash"], checkpoint["every"]
            )
            if not hmac.compare_digest(mac, checkpoint["mac"]):
                why = (
                    f"the checkpoint MAC over seq {checkpoint['covers']} does not verify: the "
                    "chain up to here was rewritten by someone without the key"
                )
                return self._problem("checkpoint", entry, entry.seq, why), every, since, 1
        return None, checkpoint["every"], 0, 1

    def _problem(self, kind: ProblemKind, entry: _Entry, seq: int | None, message: str) -> Problem:
        return Problem(kind, entry.line, entry.offset, seq, entry.seq, message)

    def _classify(
        self, r: _Entry, ahead: deque[_Entry], e: int, h: str, last: _Entry | None
    ) -> Problem | None:
        """None if ``r`` is the next record of the chain, else what is wrong (see the docs)."""
        nxt = ahead[0] if ahead else None

        def continues(n: _Entry | None) -> bool:
            return n is not None and n.sound and n.seq == e and n.prev == h

        if not r.complete:
            return self._problem(
                "torn",
                r,
                e,
                f"the last line is incomplete ({r.size} bytes, no newline): a writer stopped in "
                "the middle of an append; the next writer moves it aside",
            )
        if r.error is not None:
            if continues(nxt):
                return self._problem(
                    "inserted",
                    r,
                    r.seq,
                    f"line {r.line} {r.error}, and the chain continues without it",
                )
            return self._problem("edited", r, e, f"the record at line {r.line} {r.error}")
        seq = r.seq
        assert seq is not None
        if seq == e and r.prev == h:
            return None
        if r.prev == h and not continues(nxt):  # linked to the record before, misnumbered
            return self._problem(
                "edited",
                r,
                e,
                f"line {r.line} links to seq {e - 1} but says seq {seq}: its seq was rewritten",
            )
        if last is not None and seq == e - 1 and r.prev == last.prev:
            # Two records claim the same place in the chain: one of them was inserted.
            if nxt is not None and nxt.sound and nxt.prev == r.hash and nxt.prev != last.hash:
                return self._problem(
                    "inserted",
                    last,
                    e - 1,
                    f"lines {last.line} and {r.line} both claim seq {e - 1}; the chain continues "
                    f"from line {r.line}, so line {last.line} was inserted",
                )
            return self._problem(
                "inserted", r, seq, f"line {r.line} repeats seq {seq} (already at line {last.line})"
            )
        if seq < e:
            return self._problem(
                "inserted",
                r,
                seq,
                f"seq goes backwards from {e - 1} to {seq}: line {r.line} is an extra copy or a "
                "forged record",
            )
        if seq > e:
            for later in ahead:
                if later.sound and later.seq == seq - 1 and later.hash == r.prev:
                    return self._problem(
                        "reordered",
                        r,
                        seq,
                        f"seq {seq} appears at line {r.line}, before seq {seq - 1} (line "
                        f"{later.line}); records were moved or swapped",
                    )
            if continues(nxt) or any(later.sound and later.seq == e for later in ahead):
                return self._problem(
                    "inserted",
                    r,
                    seq,
                    f"line {r.line} (seq {seq}) does not belong here: seq {e} comes later",
                )
            missing = f"seq {e}" if seq == e + 1 else f"seqs {e}..{seq - 1}"
            return self._problem(
                "removed", r, e, f"{missing} missing before line {r.line}, which holds seq {seq}"
            )
        # Right seq, wrong link.
        if continues(nxt):
            return self._problem(
                "inserted",
                r,
                seq,
                f"line {r.line} claims seq {seq} but does not link to seq {e - 1}, and the next "
                "line does: it was inserted",
            )
        if last is not None and nxt is not None and nxt.sound and nxt.prev == r.hash:
            return self._problem(
                "edited",
                last,
                e - 1,
                f"seq {e - 1} (line {last.line}) was rewritten: its hash is no longer the one "
                f"seq {e} recorded as prev",
            )
        return self._problem(
            "edited",
            r,
            e,
            f"seq {e} does not link to the record before it (prev is not its hash): it was "
            "rewritten or a record before it was replaced",
        )
