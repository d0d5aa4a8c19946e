"""The decision-log writer: chain recovery, torn tails, durability, locking and failures."""

from __future__ import annotations

import errno
import itertools
import json
import threading
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from log_support import KEY, build_log, decision, lines, records

from corral.model.actions import parse_action
from corral.model.decisions import Decision, Severity
from corral.sinks import DecisionLog, LogCorrupt, LogError, LogLocked, verify
from corral.sinks import decision_log as module
from corral.sinks.records import GENESIS, canonical_bytes, record_hash


def test_records_chain_from_genesis_and_continue_after_reopening(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    build_log(path, 3)
    with DecisionLog(path) as log:
        assert (log.last_seq, log.torn) == (3, None)
        log.append(decision(4))
    chain = records(path)
    assert [r["seq"] for r in chain] == [1, 2, 3, 4]
    assert chain[0]["prev"] == GENESIS
    assert all(b["prev"] == a["hash"] for a, b in itertools.pairwise(chain))
    assert all(r["hash"] == record_hash(r) for r in chain)
    assert chain[0]["decision"]["action"] == {"kind": "exec", "command": "echo 1"}
    assert "action" not in chain[3]["decision"]
    assert verify(path).ok


def test_lines_are_exactly_the_canonical_serialisation(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    build_log(path, 3, key=KEY, every=2)
    for raw in lines(path):
        record = json.loads(raw)
        assert raw == canonical_bytes(record) + b"\n"
        assert record["hash"] == record_hash(record)


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.text(max_size=8),
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers()
            | st.floats(allow_nan=False)
            | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=5), inner, max_size=3)
            ),
            max_leaves=10,
        ),
        max_size=5,
    )
)
def test_any_json_action_round_trips_through_a_verified_log(
    tmp_path_factory: pytest.TempPathFactory, action: dict[str, Any]
) -> None:
    path = tmp_path_factory.mktemp("rt") / "d.jsonl"
    with DecisionLog(path) as log:
        log.append(decision(1), action)
    assert verify(path).ok


def test_values_strict_json_cannot_carry_are_made_text(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    with DecisionLog(path) as log:
        log.append(
            decision(1), {"kind": "spend", "amount": float("nan"), "note": "bad \ud800 half"}
        )
    text = path.read_text(encoding="utf-8")
    assert "NaN" not in text.replace('"nan"', "")
    assert verify(path).ok


def test_absurdly_nested_actions_are_cut_off_not_fatal(tmp_path: Path) -> None:
    action: dict[str, Any] = {"kind": "tool", "name": "x", "args": {}}
    inner = action["args"]
    for _ in range(950):  # about what json.loads accepts
        inner["a"] = {}
        inner = inner["a"]
    path = tmp_path / "d.jsonl"
    with DecisionLog(path) as log:
        log.append(decision(1), json.loads(json.dumps(action)))
    assert verify(path).ok
    assert records(path)[0]["redactions"][0]["kind"] == "too-deep"


def test_a_decision_object_and_a_parsed_action_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    verdict = Decision("deny", Severity.high, "why", "default", "id-1", id="a")
    with DecisionLog(path) as log:
        log.append(verdict, parse_action({"kind": "net", "host": "h", "port": 1}))
        log.append(verdict, b"raw line password=hunter2\n")
    chain = records(path)
    assert chain[0]["decision"]["action"]["host"] == "h"
    assert chain[1]["decision"]["action"] == "raw line password=[REDACTED:password]"


# -- torn tails and damaged ends ---------------------------------------------------------------


@pytest.mark.parametrize("fragment", [b'{"decision":{"act', b"\x00\x00\x00\x00", b"{not json}\n"])
def test_a_torn_tail_is_moved_aside_and_noted_in_the_chain(tmp_path: Path, fragment: bytes) -> None:
    path = tmp_path / "d.jsonl"
    build_log(path, 3)
    with path.open("ab") as handle:
        handle.write(fragment)
    result = verify(path)
    assert result.problem is not None and result.problem.kind in ("torn", "edited")
    with DecisionLog(path) as log:
        torn = log.torn
        assert torn is not None and torn.size == len(fragment)
        log.append(decision(4))
    assert torn.moved_to.read_bytes() == fragment
    assert torn.moved_to.name.startswith("d.jsonl.torn-")
    result = verify(path)
    assert result.ok and result.last_seq == 5
    assert result.events[0]["type"] == "torn-tail" and result.events[0]["bytes"] == len(fragment)
    assert result.events[0]["moved_to"] == torn.moved_to.name


def test_a_log_that_is_only_a_torn_line_starts_from_genesis(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"decision":')
    with DecisionLog(path) as log:
        assert log.torn is not None
        log.append(decision(1))
    assert verify(path).ok and records(path)[0]["prev"] == GENESIS


def test_a_tampered_last_record_is_refused_not_continued(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    build_log(path, 3)
    path.write_bytes(path.read_bytes().replace(b"reason 3", b"reason X"))
    with pytest.raises(LogCorrupt, match="changed after it was written"):
        DecisionLog(path)
    DecisionLog(tmp_path / "other.jsonl").close()  # the failed open left no lock behind
    with pytest.raises(LogCorrupt):
        DecisionLog(path)


# -- locking -----------------------------------------------------------------------------------


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    with DecisionLog(path) as first:
        with pytest.raises(LogLocked, match="already open for writing"):
            DecisionLog(path)
        first.append(decision(1))
    with DecisionLog(path) as second:  # released on close
        second.append(decision(2))
    assert verify(path).ok


def test_only_regular_files(tmp_path: Path) -> None:
    with pytest.raises(LogError, match="not a regular file"):
        DecisionLog("/dev/null")
    with pytest.raises(LogError, match="cannot open"):
        DecisionLog(tmp_path / "missing" / "d.jsonl")


# -- acknowledgement ---------------------------------------------------------------------------


def test_always_acknowledges_before_append_returns(tmp_path: Path) -> None:
    acknowledged: list[int] = []
    with DecisionLog(tmp_path / "d.jsonl") as log:
        for index in range(1, 4):
            seq = log.append(decision(index), on_durable=partial(acknowledged.append, index))
            assert acknowledged[-1] == index and log.durable_seq == seq


def test_batch_acknowledges_in_order_and_only_after_the_covering_fsync(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    done = threading.Event()
    log = DecisionLog(tmp_path / "d.jsonl", sync="batch", batch_records=7, batch_ms=5)
    seqs = []
    for index in range(1, 51):

        def ack(index: int = index) -> None:
            seen.append((index, log.durable_seq))
            if index == 50:
                done.set()

        seqs.append(log.append(decision(index), on_durable=ack))
    assert done.wait(30)  # the sync thread acknowledges without further appends or a close
    log.close()
    assert [index for index, _ in seen] == list(range(1, 51))
    assert all(durable >= seq for (_, durable), seq in zip(seen, seqs, strict=True))
    assert verify(tmp_path / "d.jsonl").ok


def test_close_acknowledges_everything_pending(tmp_path: Path) -> None:
    acknowledged: list[int] = []
    log = DecisionLog(tmp_path / "d.jsonl", sync="batch", batch_records=10_000, batch_ms=60_000)
    for index in range(5):
        log.append(decision(index + 1), on_durable=partial(acknowledged.append, index))
    log.close()
    assert acknowledged == [0, 1, 2, 3, 4]
    log.close()  # idempotent
    with pytest.raises(LogError, match="closed"):
        log.append(decision(6))


# -- failures close the log --------------------------------------------------------------------


def test_a_write_error_fails_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    acknowledged: list[int] = []
    log = DecisionLog(tmp_path / "d.jsonl")
    log.append(decision(1), on_durable=lambda: acknowledged.append(1))

    def disk_full(fd: int, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(module, "_write_all", disk_full)
    with pytest.raises(LogError, match="No space left"):
        log.append(decision(2), on_durable=lambda: acknowledged.append(2))
    monkeypatch.undo()
    with pytest.raises(LogError, match="No space left"):  # and it stays failed
        log.append(decision(3), on_durable=lambda: acknowledged.append(3))
    with pytest.raises(LogError):
        log.close()
    assert acknowledged == [1]


def test_an_fsync_error_in_batch_mode_acknowledges_nothing_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    acknowledged: list[int] = []
    log = DecisionLog(tmp_path / "d.jsonl", sync="batch", batch_records=1000, batch_ms=1)

    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(module, "_datasync", broken)
    log.append(decision(1), on_durable=lambda: acknowledged.append(1))
    with pytest.raises(LogError, match="Input/output error"):
        for index in range(2, 100_000):  # the sync thread fails; a later append reports it
            log.append(decision(index), on_durable=lambda: acknowledged.append(0))
    log.abort()
    assert acknowledged == []


# -- keyed checkpoints -------------------------------------------------------------------------


def test_checkpoints_keep_their_interval_across_writers(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    for start in (1, 4, 9):
        with DecisionLog(path, key=KEY, checkpoint_every=3) as log:
            for index in range(start, start + 3):
                log.append(decision(index))
    result = verify(path, KEY)
    assert result.ok and result.unauthenticated_tail == 0
    chain = records(path)
    gaps, since = [], 0
    for record in chain:
        if "checkpoint" in record:
            gaps.append(since)
            since = 0
        else:
            since += 1
    assert max(gaps) <= 3 and "checkpoint" in chain[-1]


def test_a_writer_with_another_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    build_log(path, 2, key=KEY)
    with pytest.raises(LogError, match="another key"):
        DecisionLog(path, key=b"a-different-key-0123456789")


def test_a_key_added_later_starts_checkpointing_at_once(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    build_log(path, 3)
    assert verify(path, KEY).problem is not None  # no checkpoint yet: unauthenticated
    with DecisionLog(path, key=KEY):
        pass
    assert verify(path, KEY).ok
