"""Every rule's own examples: each `match` produces the rule, each `not_match` does not."""

from __future__ import annotations

from typing import Any

import pytest

from corral import Guard
from corral.rules.loader import builtin_rules

RULES = builtin_rules()
GUARD = Guard("permissive")


def _action(example: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(example, str):
        return {"kind": "exec", "command": example, "cwd": "/workspace"}
    return dict(example)


def _cases(which: str) -> list[Any]:
    cases = []
    for rule in RULES.rules.values():
        examples = getattr(rule.spec.examples, which)
        for index, example in enumerate(examples):
            cases.append(pytest.param(rule.id, example, id=f"{rule.id}-{which}-{index}"))
    return cases


@pytest.mark.parametrize(("rule_id", "example"), _cases("match"))
def test_match_example_fires(rule_id: str, example: str | dict[str, Any]) -> None:
    decision = GUARD.decide(_action(example))
    assert decision.error is None, decision.error
    assert rule_id in {r.id for r in decision.rules}, decision.to_dict()


@pytest.mark.parametrize(("rule_id", "example"), _cases("not_match"))
def test_not_match_example_is_quiet(rule_id: str, example: str | dict[str, Any]) -> None:
    decision = GUARD.decide(_action(example))
    assert rule_id not in {r.id for r in decision.rules}, decision.to_dict()
