"""The rule index is only a shortcut: it must never hide a match that brute force finds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corral.analysis.analyze import analyze
from corral.model.actions import ActionError, parse_action
from corral.rules.loader import builtin_rules
from corral.util.literals import required_literals

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def corpus_actions() -> list[dict[str, object]]:
    actions = []
    for path in sorted(CORPUS.glob("*/*.jsonl")):
        actions.extend(json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return actions


def example_actions() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for rule in builtin_rules().rules.values():
        for ex in [*rule.spec.examples.match, *rule.spec.examples.not_match]:
            out.append({"kind": "exec", "command": ex} if isinstance(ex, str) else dict(ex))
    return out


def test_indexed_matching_equals_brute_force() -> None:
    rules = builtin_rules()
    differences = []
    for raw in [*corpus_actions(), *example_actions()]:
        try:
            analysis = analyze(parse_action(raw))
        except ActionError:
            continue
        indexed = {rule.id for rule, _ in rules.match(analysis)}
        brute = {
            rule.id for rule in rules.rules.values() if rule.condition.test(analysis) is not None
        }
        if indexed != brute:
            differences.append((raw.get("id"), sorted(brute - indexed), sorted(indexed - brute)))
    assert not differences


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"stratum\+(?:tcp|ssl)://", {"stratum+"}),
        (r"(?:xmrig|minerd)\b", {"xmrig", "minerd"}),
        (r"--Donate-Level", {"--donate-level"}),
        (r"a|bcd", None),
        (r"[0-9a-f]{40}", None),
    ],
)
def test_required_literals(pattern: str, expected: set[str] | None) -> None:
    found = required_literals(pattern)
    assert (None if found is None else set(found)) == expected


@given(
    st.text(alphabet="abcXYZ+./-", min_size=3, max_size=12),
    st.text(max_size=20),
    st.text(max_size=20),
)
def test_literal_is_necessary(word: str, before: str, after: str) -> None:
    """Whenever a pattern matches a text, one of its required literals occurs in that text."""
    pattern = re.escape(word) + r"\d*"
    literals = required_literals(pattern)
    text = before + word + after
    if re.search(pattern, text, re.IGNORECASE) and literals:
        assert any(lit in text.casefold() for lit in literals)
