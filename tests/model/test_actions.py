"""The action contract: every kind parses, and every malformed action says what and where."""

from __future__ import annotations

from typing import Any

import pytest

from corral import Guard
from corral.model.actions import ActionError, ExecAction, ToolAction, parse_action


@pytest.mark.parametrize(
    "raw",
    [
        {"kind": "exec", "command": "ls -la"},
        {"kind": "exec", "argv": ["ls", "-la"], "cwd": "/workspace", "env": {"A": "1"}},
        {"kind": "file", "op": "write", "path": "/workspace/a.txt", "content": "hi"},
        {"kind": "file", "op": "chmod", "path": "a.sh", "mode": 755},
        {"kind": "net", "host": "127.0.0.1", "port": 8000, "proto": "udp", "direction": "listen"},
        {"kind": "http", "method": "POST", "url": "https://pypi.org/x", "body": {"a": 1}},
        {"kind": "spend", "amount": 0, "currency": "USD", "recipient": "acme"},
        {"kind": "tool", "name": "search", "args": {"q": "x"}},
    ],
)
def test_every_kind_parses(raw: dict[str, Any]) -> None:
    action = parse_action({**raw, "id": "a-1", "session": "s", "agent": "bot", "ts": 1.5})
    assert action.kind == raw["kind"]
    assert action.id == "a-1"


def test_unknown_fields_are_kept_as_metadata() -> None:
    action = parse_action({"kind": "exec", "command": "ls", "trace_id": "t-9"})
    assert isinstance(action, ExecAction)
    assert action.metadata() == {"trace_id": "t-9"}


def test_json_text_is_accepted() -> None:
    assert isinstance(parse_action('{"kind": "tool", "name": "x"}'), ToolAction)


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ({"kind": "net", "host": "h", "port": "443"}, "port", "integer"),
        ({"kind": "net", "host": "h", "port": 70000}, "port", "65535"),
        ({"kind": "spend", "amount": True, "currency": "USD"}, "amount", "number"),
        ({"kind": "spend", "amount": -1, "currency": "USD"}, "amount", "greater than"),
        ({"kind": "http", "method": "GET"}, "url", "required"),
        ({"kind": "file", "op": "steal", "path": "x"}, "op", "read"),
        ({"kind": "exec", "argv": []}, "argv", "at least 1"),
        ({"kind": "exec", "argv": "ls"}, "argv", "list"),
        ({"kind": "teleport"}, "kind", "must be one of"),
        ({"command": "ls"}, "kind", "missing"),
    ],
)
def test_bad_actions_name_the_field(raw: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ActionError) as info:
        parse_action(raw)
    assert info.value.field == field
    assert words in info.value.message


def test_exec_needs_command_or_argv() -> None:
    with pytest.raises(ActionError, match="'command'"):
        parse_action({"kind": "exec", "cwd": "/"})


@pytest.mark.parametrize("raw", ["[1, 2]", "42", "not json", '"a string"'])
def test_non_objects_are_rejected(raw: str) -> None:
    with pytest.raises(ActionError):
        parse_action(raw)


def test_huge_field_is_rejected_not_crashing() -> None:
    with pytest.raises(ActionError, match="command"):
        parse_action({"kind": "exec", "command": "a" * (2 * 1024 * 1024)})


@pytest.mark.parametrize("bad_id", [True, False, 1.5, [1], {"a": 1}])
def test_a_malformed_action_never_echoes_an_id_that_is_not_a_string_or_integer(
    bad_id: object,
) -> None:
    decision = Guard("default").decide({"id": bad_id, "kind": "nope"})
    assert decision.decision == "deny"
    assert decision.id is None
