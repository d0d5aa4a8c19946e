"""Load the rule library (or extra rule files) into a RuleSet; every error names file:line."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

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
    """Rules by id, indexed by the programs that can trigger them."""

    rules: dict[str, Rule]
    lists: dict[str, list[Any]]
    by_program: dict[str, list[Rule]] = field(default_factory=dict)
    anywhere: list[Rule] = field(default_factory=list)

    def __post_init__(self) -> None:
        for rule in self.rules.values():
            programs = rule.condition.programs
            if programs is None:
                self.anywhere.append(rule)
            else:
                for program in programs:
                    self.by_program.setdefault(program, []).append(rule)

    def candidates(self, analysis: Analysis) -> list[Rule]:
        """Rules that could match: program-indexed ones only when their program is present."""
        found = list(self.anywhere)
        seen: set[str] = set()
        for command in analysis.commands:
            if command.program in seen:
                continue
            seen.add(command.program)
            found.extend(self.by_program.get(command.program, ()))
        return found

    def match(self, analysis: Analysis) -> list[tuple[Rule, str]]:
        hits: list[tuple[Rule, str]] = []
        done: set[str] = set()
        present = present_facets(analysis)
        for rule in self.candidates(analysis):
            if rule.id in done or not rule.condition.requires <= present:
                continue
            done.add(rule.id)
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
