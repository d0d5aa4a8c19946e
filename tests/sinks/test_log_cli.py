"""`corral check --log` and `corral log verify` as real processes."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from log_support import KEY, build_log, lines, records

from corral.sinks import LogError, load_key, verify

STRIPE = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
AWS_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
URL_PASSWORD = "Tr0ub4dor-3"
BODY_PASSWORD = "correct horse battery staple"


def run(
    corral: list[str], *args: str, stdin: bytes = b"", **kwargs: Any
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*corral, *args], input=stdin, capture_output=True, timeout=60, check=False, **kwargs
    )


def jsonl(*actions: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(a).encode() + b"\n" for a in actions)


NET = {"kind": "net", "host": "127.0.0.1", "port": 8000}


def test_check_logs_redacted_actions_and_where_it_redacted(
    tmp_path: Path, corral: list[str]
) -> None:
    log = tmp_path / "decisions.jsonl"
    actions = jsonl(
        {
            "id": "stripe",
            "kind": "exec",
            "command": f"curl https://api.stripe.com/v1/charges -u {STRIPE}:",
        },
        {
            "id": "aws",
            "kind": "exec",
            "command": "aws s3 ls",
            "env": {"AWS_ACCESS_KEY_ID": AWS_ID, "AWS_SECRET_ACCESS_KEY": AWS_SECRET},
        },
        {
            "id": "url",
            "kind": "http",
            "method": "GET",
            "url": f"https://deploy:{URL_PASSWORD}@example.com/",
        },
        {
            "id": "body",
            "kind": "http",
            "method": "POST",
            "url": "https://example.com/login",
            "body": {"user": "bob", "password": BODY_PASSWORD},
        },
    )
    proc = run(corral, "check", "--log", str(log), stdin=actions)
    assert proc.returncode == 0, proc.stderr.decode()
    printed = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [d["id"] for d in printed] == ["stripe", "aws", "url", "body"]
    data = log.read_bytes()
    for secret in (STRIPE, AWS_ID, AWS_SECRET, URL_PASSWORD, BODY_PASSWORD):
        assert secret.encode() not in data
    logged = {r["decision"]["id"]: r for r in records(log)}
    assert [r["decision"]["decision_id"] for r in records(log)] == [
        d["decision_id"] for d in printed
    ]

    def where(record_id: str) -> set[tuple[str, str]]:
        return {(r["path"], r["kind"]) for r in logged[record_id]["redactions"]}

    assert ("$.decision.action.command", "stripe-key") in where("stripe")
    assert where("aws") == {
        ("$.decision.action.env.AWS_ACCESS_KEY_ID", "aws-access-key"),
        ("$.decision.action.env.AWS_SECRET_ACCESS_KEY", "aws-secret-key"),
    }
    assert ("$.decision.action.url", "password") in where("url")
    assert ("$.decision.action.body.password", "password") in where("body")
    assert logged["body"]["decision"]["action"]["body"]["user"] == "bob"
    assert verify(log).ok


def test_a_second_writer_is_refused_while_the_first_runs(tmp_path: Path, corral: list[str]) -> None:
    log = tmp_path / "decisions.jsonl"
    first = subprocess.Popen(
        [*corral, "check", "--log", str(log)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert first.stdin is not None and first.stdout is not None
        first.stdin.write(jsonl(NET))
        first.stdin.flush()
        assert json.loads(first.stdout.readline())["decision"] == "allow"  # it holds the log now
        second = run(corral, "check", "--log", str(log), stdin=jsonl(NET))
        assert second.returncode == 2
        assert b"already open for writing by another process" in second.stderr
        assert second.stdout == b""
        first.stdin.write(jsonl(NET))
        first.stdin.close()
        assert first.wait(timeout=60) == 0
    finally:
        first.kill()
        first.wait(timeout=60)
    assert len(records(log)) == 2
    assert verify(log).ok


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG from write() instead of dying
    resource.setrlimit(resource.RLIMIT_FSIZE, (4000, 4000))


def test_a_log_write_failure_stops_check_before_unlogged_decisions(
    tmp_path: Path, corral: list[str]
) -> None:
    log = tmp_path / "decisions.jsonl"
    proc = run(
        corral, "check", "--log", str(log), stdin=jsonl(*[NET] * 50), preexec_fn=_limit_file_size
    )
    assert proc.returncode == 2
    assert b"could not be written" in proc.stderr and b"File too large" in proc.stderr
    printed = [json.loads(line)["decision_id"] for line in proc.stdout.splitlines()]
    logged = [r["decision"]["decision_id"] for r in records(log)]
    assert 0 < len(printed) < 50
    assert printed == logged[: len(printed)]  # everything printed was logged first
    assert len(logged) <= len(printed) + 1


def test_a_log_that_cannot_be_opened_stops_check_before_any_decision(
    tmp_path: Path, corral: list[str]
) -> None:
    proc = run(corral, "check", "--log", str(tmp_path / "missing" / "d.jsonl"), stdin=jsonl(NET))
    assert proc.returncode == 2 and proc.stdout == b""
    assert b"corral: decision log: cannot open" in proc.stderr


def test_check_refuses_to_continue_a_tampered_log(tmp_path: Path, corral: list[str]) -> None:
    log = tmp_path / "decisions.jsonl"
    build_log(log, 2)
    log.write_bytes(log.read_bytes().replace(b"reason 2", b"reason X"))
    proc = run(corral, "check", "--log", str(log), stdin=jsonl(NET))
    assert proc.returncode == 2 and proc.stdout == b""
    assert b"corral log verify" in proc.stderr


def test_keyed_checkpoints_from_check_verify_only_with_the_key(
    tmp_path: Path, corral: list[str]
) -> None:
    log, key, wrong = tmp_path / "decisions.jsonl", tmp_path / "log.key", tmp_path / "wrong.key"
    key.write_bytes(KEY + b"\n")
    wrong.write_bytes(b"another-key-0123456789\n")
    proc = run(corral, "check", "--log", str(log), "--log-key", str(key), stdin=jsonl(NET, NET))
    assert proc.returncode == 0, proc.stderr.decode()
    assert any("checkpoint" in r for r in records(log))
    ok = run(corral, "log", "verify", str(log), "--key", str(key), "--json")
    assert ok.returncode == 0
    assert json.loads(ok.stdout)["authenticated"] is True
    assert verify(log, wrong.read_bytes().strip()).problem is not None
    assert run(corral, "check", "--log-key", str(key), stdin=jsonl(NET)).returncode == 2


def test_verify_exit_statuses_and_json(tmp_path: Path, corral: list[str]) -> None:
    log = tmp_path / "decisions.jsonl"
    build_log(log, 5)
    ok = run(corral, "log", "verify", str(log))
    assert ok.returncode == 0 and ok.stdout.startswith(b"ok ")
    raw = lines(log)
    log.write_bytes(b"".join(raw[:2] + raw[3:]))
    bad = run(corral, "log", "verify", str(log), "--json")
    assert bad.returncode == 1
    result = json.loads(bad.stdout)
    assert result["ok"] is False
    assert result["problem"]["kind"] == "removed" and result["problem"]["seq"] == 3
    assert result["problem"]["line"] == 3 and result["records"] == 2
    assert verify(log).describe().startswith(f"FAIL {log}:3: removed (seq 3)")
    missing = run(corral, "log", "verify", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and b"cannot read" in missing.stderr


def test_short_or_missing_keys_are_refused(tmp_path: Path) -> None:
    short_key = tmp_path / "short.key"
    short_key.write_bytes(b"abc\n")
    with pytest.raises(LogError, match="at least 16"):
        load_key(short_key)
    with pytest.raises(LogError, match="cannot read key file"):
        load_key(tmp_path / "none.key")
