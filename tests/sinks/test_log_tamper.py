"""verify() names the first tampered record: edited, removed, inserted, reordered or torn."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from log_support import KEY, build_log, forge, lines, rechain

from corral.sinks import verify
from corral.sinks.records import GENESIS

RECORDS = 20  # with a key and checkpoints every 4: 25 lines


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("log") / "decisions.jsonl"
    build_log(path, RECORDS, key=KEY)
    return path.read_bytes()


def tampered(tmp_path: Path, data: bytes | list[bytes]) -> Path:
    path = tmp_path / "tampered.jsonl"
    path.write_bytes(data if isinstance(data, bytes) else b"".join(data))
    return path


def test_pristine_log_verifies(pristine: bytes, tmp_path: Path) -> None:
    path = tampered(tmp_path, pristine)
    result = verify(path)
    assert result.ok and result.last_seq == len(pristine.splitlines())
    keyed = verify(path, KEY)
    assert keyed.ok and keyed.authenticated and keyed.checkpoints == 5
    assert keyed.unauthenticated_tail == 0


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_every_single_byte_edit_is_caught_at_its_record(
    pristine: bytes, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    offset = data.draw(st.integers(0, len(pristine) - 1), label="offset")
    value = data.draw(st.integers(0, 255).filter(lambda b: b != pristine[offset]), label="byte")
    edited = bytearray(pristine)
    edited[offset] = value
    path = tampered(tmp_path_factory.mktemp("edit"), bytes(edited))
    seq = pristine.count(b"\n", 0, offset) + 1  # the record whose line holds the byte
    for key in (None, KEY):
        result = verify(path, key)
        assert result.problem is not None, offset
        assert result.problem.line == seq and result.problem.seq == seq
        assert result.problem.kind == ("torn" if offset == len(pristine) - 1 else "edited")


def test_single_byte_edits_at_random_offsets_of_every_record(
    pristine: bytes, tmp_path: Path
) -> None:
    rng = random.Random(20250101)
    starts = [0]
    for raw in lines(tampered(tmp_path, pristine))[:-1]:
        starts.append(starts[-1] + len(raw))
    for seq, start in enumerate(starts, start=1):
        end = pristine.index(b"\n", start)
        for offset in rng.sample(range(start, end), 3):
            edited = bytearray(pristine)
            edited[offset] = (edited[offset] + rng.randrange(1, 256)) % 256
            problem = verify(tampered(tmp_path, bytes(edited))).problem
            assert problem is not None and problem.kind == "edited" and problem.seq == seq


@pytest.mark.parametrize("seq", [1, 2, 9, 24, 25])
def test_a_removed_record_is_named(pristine: bytes, tmp_path: Path, seq: int) -> None:
    raw = lines(tampered(tmp_path, pristine))
    result = verify(tampered(tmp_path, raw[: seq - 1] + raw[seq:]))
    if seq == len(raw):  # the tail: indistinguishable from a log that ended earlier
        assert result.ok
        assert verify(tampered(tmp_path, raw[: seq - 1] + raw[seq:]), KEY).unauthenticated_tail == 4
        return
    assert result.problem is not None
    assert (result.problem.kind, result.problem.seq, result.problem.line) == ("removed", seq, seq)
    assert result.records == seq - 1


def test_several_removed_records_are_named_as_a_range(pristine: bytes, tmp_path: Path) -> None:
    raw = lines(tampered(tmp_path, pristine))
    problem = verify(tampered(tmp_path, raw[:4] + raw[8:])).problem
    assert problem is not None and problem.kind == "removed" and problem.seq == 5
    assert "5..8" in problem.message


@pytest.mark.parametrize("seq", [1, 5, 12, 24])
def test_a_swapped_pair_is_named(pristine: bytes, tmp_path: Path, seq: int) -> None:
    raw = lines(tampered(tmp_path, pristine))
    raw[seq - 1], raw[seq] = raw[seq], raw[seq - 1]
    problem = verify(tampered(tmp_path, raw)).problem
    assert problem is not None
    assert (problem.kind, problem.line, problem.found_seq) == ("reordered", seq, seq + 1)


def test_a_record_moved_far_ahead_is_reordered(pristine: bytes, tmp_path: Path) -> None:
    raw = lines(tampered(tmp_path, pristine))
    moved = [*raw[:3], raw[10], *raw[3:10], *raw[11:]]
    problem = verify(tampered(tmp_path, moved)).problem
    assert problem is not None and (problem.kind, problem.line, problem.found_seq) == (
        "reordered",
        4,
        11,
    )


def _insertions(raw: list[bytes], at: int) -> dict[str, bytes]:
    """Forged lines to insert before line ``at`` (1-based), each claiming to belong there."""
    before = json.loads(raw[at - 2])
    here = json.loads(raw[at - 1])
    fake = here | {"decision": here["decision"] | {"decision": "allow", "reason": "forged"}}
    return {
        "copy of an earlier record": raw[0],
        "duplicate seq linked to its predecessor": forge(fake),
        "right seq, wrong prev": forge(fake, prev="ab" * 32),
        "far-future seq": forge(fake, seq=here["seq"] + 100),
        "not JSON": b"forged line\n",
        "bad hash": json.dumps(fake).encode() + b"\n",
        "valid record with stale prev": forge(fake, prev=before["prev"]),
    }


@pytest.mark.parametrize("at", [2, 7, 18])
def test_an_inserted_forged_record_is_named(pristine: bytes, tmp_path: Path, at: int) -> None:
    raw = lines(tampered(tmp_path, pristine))
    for what, forged in _insertions(raw, at).items():
        problem = verify(tampered(tmp_path, [*raw[: at - 1], forged, *raw[at - 1 :]])).problem
        assert problem is not None, what
        assert (problem.kind, problem.line) == ("inserted", at), what


def test_a_forged_record_inserted_after_the_original_is_named(
    pristine: bytes, tmp_path: Path
) -> None:
    raw = lines(tampered(tmp_path, pristine))
    original = json.loads(raw[6])
    forged = forge(original | {"decision": original["decision"] | {"reason": "forged"}})
    problem = verify(tampered(tmp_path, [*raw[:7], forged, *raw[7:]])).problem
    assert problem is not None and (problem.kind, problem.line, problem.seq) == ("inserted", 8, 7)


def test_a_consistently_rewritten_record_is_named(pristine: bytes, tmp_path: Path) -> None:
    raw = lines(tampered(tmp_path, pristine))
    original = json.loads(raw[8])
    raw[8] = forge(original | {"decision": original["decision"] | {"reason": "rewritten"}})
    problem = verify(tampered(tmp_path, raw)).problem
    assert problem is not None and (problem.kind, problem.seq, problem.line) == ("edited", 9, 9)


def test_a_torn_last_line_is_reported_as_torn(pristine: bytes, tmp_path: Path) -> None:
    cut = pristine[: len(pristine) - 37]
    result = verify(tampered(tmp_path, cut))
    assert result.problem is not None and result.problem.kind == "torn"
    assert (
        result.problem.line == len(cut.splitlines()) and result.records == result.problem.line - 1
    )


def test_without_the_key_a_full_rewrite_passes_but_with_it_fails(
    pristine: bytes, tmp_path: Path
) -> None:
    raw = lines(tampered(tmp_path, pristine))
    record = json.loads(raw[5])
    record["decision"]["reason"] = "rewritten"
    raw[5] = json.dumps(record).encode() + b"\n"
    path = tampered(tmp_path, rechain(raw))
    assert verify(path).ok  # the documented limit of an unkeyed chain
    problem = verify(path, KEY).problem
    assert problem is not None and problem.kind == "checkpoint" and problem.seq == 10


def test_stripping_checkpoints_and_rechaining_is_caught_with_the_key(
    pristine: bytes, tmp_path: Path
) -> None:
    raw = [r for r in lines(tampered(tmp_path, pristine)) if b'"checkpoint"' not in r]
    path = tampered(tmp_path, rechain(raw))
    assert verify(path).ok
    problem = verify(path, KEY).problem
    assert problem is not None and problem.kind == "unauthenticated"


def test_removing_records_between_checkpoints_and_rechaining_is_caught(
    pristine: bytes, tmp_path: Path
) -> None:
    raw = lines(tampered(tmp_path, pristine))
    path = tampered(tmp_path, rechain(raw[:6] + raw[7:]))
    problem = verify(path, KEY).problem
    assert problem is not None and problem.kind == "checkpoint"


def test_a_wrong_key_is_named_as_such(pristine: bytes, tmp_path: Path) -> None:
    problem = verify(tampered(tmp_path, pristine), b"another-key-0123456789").problem
    assert problem is not None and problem.kind == "checkpoint" and "key id" in problem.message


def test_an_empty_log_verifies_and_the_genesis_is_fixed(tmp_path: Path) -> None:
    result = verify(tampered(tmp_path, b""))
    assert result.ok and result.last_seq == 0 and result.last_hash == GENESIS == "0" * 64
