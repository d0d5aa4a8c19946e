"""The Guard facade: fail-closed behaviour, tool mapping and decision shape."""

from __future__ import annotations

from typing import Any

import pytest

from corral import Guard
from corral.analysis.facts import Analysis
from corral.rules.conditions import Compiled
from corral.rules.loader import RuleSet, builtin_rules
from corral.rules.model import Rule


def _exploding_rules() -> RuleSet:
    """The real library plus one rule whose condition raises, as a buggy rule would."""
    base = builtin_rules()
    template = next(iter(base.rules.values()))

    def boom(analysis: Analysis) -> str | None:
        raise RuntimeError("condition bug")

    broken = Rule(
        spec=template.spec.model_copy(update={"id": "CR-TST-999"}),
        condition=Compiled(boom),
        file="t",
        line=1,
    )
    return RuleSet(rules={**base.rules, "CR-TST-999": broken}, lists=base.lists)


def test_internal_error_denies_with_error() -> None:
    guard = Guard("permissive", rules=_exploding_rules())
    decision = guard.decide({"kind": "net", "host": "127.0.0.1", "port": 80, "id": 7})
    assert decision.decision == "deny"
    assert decision.error is not None and "condition bug" in decision.error
    assert decision.id == 7


@pytest.mark.parametrize(("sent", "echoed"), [("a-1", "a-1"), (7, 7), (True, None), ([1], None)])
def test_internal_error_decision_for_callers(sent: Any, echoed: Any) -> None:
    """What a caller above the engine (the API) answers when judging itself broke."""
    guard = Guard("permissive")
    decision = guard.internal_error(sent, RuntimeError("store gone"), line=3)
    assert decision.decision == "deny"
    assert decision.id == echoed
    assert decision.error == "internal error: RuntimeError: store gone"
    assert decision.reason.startswith("internal error: denied because Corral could not judge it")
    assert decision.line == 3
    assert decision.policy == "permissive"


def test_monitor_mode_still_denies_internal_errors(tmp_path: Any) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("name: m\nextends: permissive\nmode: monitor\n")
    guard = Guard(path, rules=_exploding_rules())
    assert guard.decide({"kind": "net", "host": "127.0.0.1", "port": 80}).decision == "deny"


@pytest.mark.parametrize(
    ("tool", "kind"),
    [
        (
            {"name": "mcp__files__write_file", "args": {"path": "/workspace/a", "content": "x"}},
            "file",
        ),
        ({"name": "Read", "args": {"file_path": "/workspace/a"}}, "file"),
        ({"name": "WebFetch", "args": {"url": "https://pypi.org/simple"}}, "http"),
        ({"name": "send_payment", "args": {"amount": 5, "currency": "USD", "to": "acme"}}, "spend"),
        ({"name": "search_docs", "args": {"query": "x"}}, "tool"),
    ],
)
def test_tools_are_judged_as_what_they_are(tool: dict[str, Any], kind: str) -> None:
    explained = Guard("default").explain({"kind": "tool", **tool})
    assert explained.analysis is not None
    assert explained.analysis.kind == kind
    assert explained.analysis.declared_kind == "tool"


def test_payment_tool_hits_the_budget() -> None:
    decision = Guard("default").decide(
        {"kind": "tool", "name": "send_payment", "args": {"amount": 5, "currency": "USD"}}
    )
    assert decision.decision == "deny"
    assert "CR-POL-006" in {r.id for r in decision.rules}


def test_opaque_tool_urls_meet_the_egress_list() -> None:
    decision = Guard("default").decide(
        {"kind": "tool", "name": "notify", "args": {"webhook_url": "https://hooks.example.net/x"}}
    )
    assert "CR-POL-001" in {r.id for r in decision.rules}


def test_tool_with_invalid_mapped_fields_is_denied() -> None:
    decision = Guard("default").decide(
        {
            "kind": "tool",
            "name": "fetch",
            "args": {"url": "https://pypi.org", "method": "GET", "body": 12},
        }
    )
    assert decision.decision == "deny"
    assert decision.error is not None


def test_decision_ids_are_unique() -> None:
    guard = Guard("default")
    ids = {
        guard.decide({"kind": "net", "host": "127.0.0.1", "port": 1}).decision_id for _ in range(50)
    }
    assert len(ids) == 50


def test_url_without_host_is_denied() -> None:
    decision = Guard("permissive").decide(
        {"kind": "http", "method": "GET", "url": "file:///etc/passwd"}
    )
    assert decision.decision == "deny"
    assert "CR-POL-008" in {r.id for r in decision.rules}
