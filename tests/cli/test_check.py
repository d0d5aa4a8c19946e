"""`corral check` as a real process: streaming, exit statuses, fail-closed errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ALLOWED = {"kind": "net", "host": "127.0.0.1", "port": 8000, "id": "ok-1"}
DENIED = {"kind": "http", "method": "GET", "url": "https://example.com/", "id": "no-1"}


def run_check(
    corral: list[str], stdin: bytes, *args: str
) -> tuple[int, list[dict[str, object]], str]:
    proc = subprocess.run(
        [*corral, "check", *args], input=stdin, capture_output=True, timeout=60, check=False
    )
    lines = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    return proc.returncode, lines, proc.stderr.decode()


def test_decisions_in_order_with_ids(corral: list[str]) -> None:
    text = "\n".join(json.dumps(a) for a in (ALLOWED, DENIED)) + "\n"
    status, out, _ = run_check(corral, text.encode())
    assert status == 0
    assert [d["id"] for d in out] == ["ok-1", "no-1"]
    assert [d["decision"] for d in out] == ["allow", "deny"]
    assert all(d["decision_id"] and d["policy"] == "default" for d in out)
    assert out[1]["rules"][0]["id"] == "CR-POL-001"


def test_permissive_policy_flag(corral: list[str]) -> None:
    status, out, _ = run_check(
        corral, json.dumps(DENIED).encode() + b"\n", "--policy", "permissive"
    )
    assert status == 0
    assert out[0]["decision"] == "allow"
    assert out[0]["policy"] == "permissive"


def test_malformed_lines_are_denied_with_line_numbers(corral: list[str]) -> None:
    lines = [
        json.dumps(ALLOWED).encode(),
        b"{not json",
        b'{"kind": "net", "host": "h", "port": "80"}',
        b"\xff\xfe garbage",
        b"[]",
        b"",
        json.dumps(DENIED).encode(),
    ]
    status, out, _ = run_check(corral, b"\n".join(lines) + b"\n")
    assert status == 1
    assert len(out) == 6  # the blank line is skipped, every other line gets a decision
    errors = [d for d in out if "error" in d]
    assert [d["line"] for d in errors] == [2, 3, 4, 5]
    assert all(d["decision"] == "deny" for d in errors)
    assert "JSON" in str(errors[0]["error"])
    assert "port" in str(errors[1]["error"])
    assert "UTF-8" in str(errors[2]["error"])
    assert out[-1]["id"] == "no-1"


def test_file_argument(corral: list[str], tmp_path: Path) -> None:
    path = tmp_path / "actions.jsonl"
    path.write_text(json.dumps(ALLOWED) + "\n")
    status, out, _ = run_check(corral, b"", str(path))
    assert status == 0
    assert out[0]["decision"] == "allow"


def test_bad_policy_exits_2_naming_file_and_line(corral: list[str], tmp_path: Path) -> None:
    policy = tmp_path / "bad.yaml"
    policy.write_text("name: bad\nmode: enforce\negress:\n  open: maybe\n")
    status, out, err = run_check(corral, json.dumps(ALLOWED).encode(), "--policy", str(policy))
    assert status == 2
    assert out == []
    assert f"{policy}:4" in err
    assert "egress.open" in err


def test_missing_input_file_exits_2(corral: list[str], tmp_path: Path) -> None:
    status, _, err = run_check(corral, b"", str(tmp_path / "nope.jsonl"))
    assert status == 2
    assert "nope.jsonl" in err


def test_streaming_answers_before_the_next_line(corral: list[str]) -> None:
    with subprocess.Popen(
        [*corral, "check"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        for action in (ALLOWED, DENIED, ALLOWED):
            proc.stdin.write(json.dumps(action).encode() + b"\n")
            proc.stdin.flush()
            decision = json.loads(proc.stdout.readline())
            assert decision["id"] == action["id"]
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0


def test_overlong_line_is_denied_and_the_run_goes_on(corral: list[str]) -> None:
    huge = b'{"kind": "exec", "command": "' + b"a" * (5 * 1024 * 1024) + b'"}'
    status, out, _ = run_check(corral, huge + b"\n" + json.dumps(ALLOWED).encode() + b"\n")
    assert status == 1
    assert out[0]["decision"] == "deny"
    assert "limit" in str(out[0]["error"])
    assert out[1]["decision"] == "allow"
