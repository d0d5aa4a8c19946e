"""Load the rule library (or extra rule files) into a RuleSet; every error names file:line."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import ahocorasick
from pydantic import ValidationError

from corral.analysis.facts import Analysis
from corral.rules.conditions import (
    ConditionCompiler,
    ConditionError,
    present_facets,
    to_source_error,
)
from corral.rules.model import Rule, RuleSpec
from corral.rules.registry import LIST_FILE, RULE_FILES, library_dir
from corral.util.yamlfile import LineDict, LineList, SourceError, first_validation_error, load_yaml


@dataclass(slots=True)
class RuleSet:
    """Rules by id, indexed so that one action only evaluates the rules it could trigger.

    Each trigger of a rule (see ``Trigger``) is filed under the programs it needs, else under
    one required literal, else under the facets it needs. Matching collects candidates from
    those indexes, re-checks every trigger and only then runs the rule's condition. Literals are
    found in one pass over the action's text with an Aho-Corasick automaton, whatever their number.
    """

    rules: dict[str, Rule]
    lists: dict[str, list[Any]]
    by_program: dict[str, list[Rule]] = field(default_factory=dict)
    by_literal: dict[str, list[Rule]] = field(default_factory=dict)
    by_facets: dict[frozenset[str], list[Rule]] = field(default_factory=dict)
    order: dict[str, int] = field(default_factory=dict)
    literal_finder: Any = None

    def __post_init__(self) -> None:
        for index, rule in enumerate(self.rules.values()):
            self.order[rule.id] = index
            for trigger in rule.condition.triggers:
                if trigger.programs is not None:
                    for program in trigger.programs:
                        self.by_program.setdefault(program, []).append(rule)
                elif trigger.literals:
                    group = max(trigger.literals, key=lambda g: min(len(lit) for lit in g))
                    for literal in group:
                        self.by_literal.setdefault(literal, []).append(rule)
                else:
                    self.by_facets.setdefault(trigger.facets, []).append(rule)
        finder = ahocorasick.Automaton()
        for literal in self.by_literal:
            finder.add_word(literal, literal)
        if self.by_literal:
            finder.make_automaton()
        self.literal_finder = finder

    def _present_literals(self, blob: str) -> set[str]:
        """Indexed literals that occur in ``blob`` (already case-folded)."""
        if not self.by_literal:
            return set()
        return {literal for _, literal in self.literal_finder.iter(blob)}

    def candidates(self, analysis: Analysis) -> list[Rule]:
        """Rules that one of whose triggers is filed under something this action has."""
        found: dict[str, Rule] = {}
        for program in {command.program for command in analysis.commands}:
            for rule in self.by_program.get(program, ()):
                found[rule.id] = rule
        for literal in self._present_literals(analysis.search_blob()):
            for rule in self.by_literal[literal]:
                found[rule.id] = rule
        facets = present_facets(analysis)
        for needed, rules in self.by_facets.items():  # a handful of distinct facet sets
            if needed <= facets:
                for rule in rules:
                    found[rule.id] = rule
        return sorted(found.values(), key=lambda r: self.order[r.id])

    def match(self, analysis: Analysis) -> list[tuple[Rule, str]]:
        hits: list[tuple[Rule, str]] = []
        facets = present_facets(analysis)
        programs = {command.program for command in analysis.commands}
        blob = analysis.search_blob()
        for rule in self.candidates(analysis):
            if not rule.condition.may_match(facets, programs, blob):
                continue
            evidence = rule.condition.test(analysis)
            if evidence is not None:
                hits.append((rule, evidence))
        return hits


def load_lists(path: Path) -> dict[str, list[Any]]:
    data = load_yaml(path)
    name = str(path)
    if not isinstance(data, LineDict) or not isinstance(data.get("lists"), LineDict):
        raise SourceError(
            name, getattr(data, "line", 1), "lists", "expected a top-level 'lists:' mapping"
        )
    lists: dict[str, list[Any]] = {}
    for key, items in data["lists"].items():
        if not isinstance(items, LineList) or not items:
            raise SourceError(
                name,
                data["lists"].line_of(key),
                f"lists.{key}",
                "a list must be a non-empty sequence",
            )
        lists[key] = list(items)
    return lists


def load_rule_file(path: Path, compiler: ConditionCompiler) -> list[Rule]:
    data = load_yaml(path)
    name = str(path)
    if not isinstance(data, LineDict) or not isinstance(data.get("rules"), LineList):
        raise SourceError(
            name, getattr(data, "line", 1), "rules", "expected a top-level 'rules:' list"
        )
    rules: list[Rule] = []
    for index, raw in enumerate(data["rules"]):
        base = f"rules[{index}]"
        line = data["rules"].item_lines[index]
        if not isinstance(raw, LineDict):
            raise SourceError(name, line, base, "each rule must be a mapping")
        try:
            spec = RuleSpec.model_validate(raw)
        except ValidationError as exc:
            raise first_validation_error(exc, raw, name, base=(base,)) from exc
        try:
            condition = compiler.compile(raw["when"], "when")
        except ConditionError as exc:
            raise to_source_error(exc, name, f"{base}[{spec.id}]", raw.line_of("when")) from exc
        rules.append(Rule(spec=spec, condition=condition, file=name, line=raw.line))
    return rules


def load_rules(
    directory: Path | None = None, files: Iterable[str] | None = None, extra: Iterable[Path] = ()
) -> RuleSet:
    """Load the registry's files from ``directory`` (the packaged library by default)."""
    directory = directory or library_dir()
    lists = load_lists(directory / LIST_FILE)
    compiler = ConditionCompiler(lists)
    paths = [directory / f for f in (files if files is not None else RULE_FILES.values())]
    rules: dict[str, Rule] = {}
    for path in [*paths, *extra]:
        if not path.exists():
            raise SourceError(str(path), 0, "", "rule file named in the registry is missing")
        for rule in load_rule_file(path, compiler):
            if rule.id in rules:
                first = rules[rule.id]
                raise SourceError(
                    rule.file,
                    rule.line,
                    "id",
                    f"duplicate rule id {rule.id} (first defined at {first.file}:{first.line})",
                    "rule ids are permanent: give the new rule the next free number",
                )
            rules[rule.id] = rule
    return RuleSet(rules=rules, lists=lists)


@cache
def builtin_rules() -> RuleSet:
    return load_rules()
