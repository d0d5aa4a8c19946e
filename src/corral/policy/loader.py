"""Load a policy: a built-in by name or a YAML file, with ``extends`` and compiled exceptions."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from corral.analysis.paths import normalize_path
from corral.policy.clauses import CLAUSES
from corral.policy.egress import EgressAllowlist
from corral.policy.model import PolicySpec
from corral.rules.conditions import Compiled, ConditionCompiler, ConditionError, to_source_error
from corral.rules.loader import RuleSet, builtin_rules
from corral.util.yamlfile import LineDict, LineList, SourceError, first_validation_error, load_yaml

BUILTIN_POLICIES = ("default", "permissive")

# Where Corral keeps its own state and configuration: always protected from the agent.
CORRAL_PATHS = (
    "~/.corral",
    "~/.config/corral",
    "/etc/corral",
    "/var/lib/corral",
    "/var/log/corral",
)

# Lists that an extending policy adds to its parent's rather than replacing.
_ADDITIVE = {
    ("workspace",),
    ("protected",),
    ("egress", "allow"),
    ("programs", "deny"),
    ("exceptions",),
    ("tests",),
}


@dataclass(frozen=True, slots=True)
class PolicyException:
    rules: frozenset[str]
    condition: Compiled
    reason: str


@dataclass(slots=True)
class Policy:
    spec: PolicySpec
    source: str
    workspace: tuple[str, ...]
    protected: tuple[str, ...]
    egress: EgressAllowlist
    exceptions: list[PolicyException] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.spec.name


def builtin_path(name: str) -> Path:
    return Path(str(resources.files("corral.policy") / "builtin" / f"{name}.yaml"))


def load_policy(
    ref: str | Path = "default", *, workspace: list[str] | None = None, rules: RuleSet | None = None
) -> Policy:
    """``ref`` is a built-in name or a path. Raises SourceError with file:line on any problem."""
    rules = rules or builtin_rules()
    raw, source, own_path = _resolve(str(ref), seen=())
    try:
        spec = PolicySpec.model_validate(raw)
    except ValidationError as exc:
        raise first_validation_error(exc, raw, source) from exc
    exceptions = _compile_exceptions(spec, raw, source, rules)
    roots = _workspace_roots(workspace if workspace is not None else spec.workspace)
    protected = [*CORRAL_PATHS, *spec.protected]
    if own_path is not None:
        protected.append(str(own_path))
    return Policy(
        spec=spec,
        source=source,
        workspace=roots,
        protected=tuple(normalize_path(p) for p in protected),
        egress=EgressAllowlist.build(spec.egress.allow, source),
        exceptions=exceptions,
    )


def _resolve(ref: str, seen: tuple[str, ...]) -> tuple[Any, str, Path | None]:
    """The merged raw mapping for ``ref`` following ``extends``, its display name and file path."""
    if ref in BUILTIN_POLICIES:
        path, own = builtin_path(ref), None
    else:
        path = Path(ref).expanduser().resolve()
        own = path
        if not path.is_file():
            raise SourceError(
                ref,
                0,
                "",
                "policy file not found",
                f"use a built-in ({', '.join(BUILTIN_POLICIES)}) or an existing YAML file",
            )
    name = str(path) if own else f"<builtin:{ref}>"
    if name in seen:
        raise SourceError(
            name,
            0,
            "extends",
            "policies extend each other in a loop: " + " -> ".join([*seen, name]),
        )
    data = load_yaml(path)
    if not isinstance(data, LineDict):
        raise SourceError(
            name, getattr(data, "line", 1), "", "a policy file must be a YAML mapping"
        )
    parent_ref = data.get("extends")
    if parent_ref is None:
        return data, name, own
    if not isinstance(parent_ref, str):
        raise SourceError(
            name,
            data.line_of("extends"),
            "extends",
            "extends names a built-in policy or a file path",
        )
    if parent_ref not in BUILTIN_POLICIES and not os.path.isabs(parent_ref):
        parent_ref = str(path.parent / parent_ref)
    parent, _, _ = _resolve(parent_ref, (*seen, name))
    return _merge(parent, data, ()), name, own


def _merge(parent: Any, child: Any, path: tuple[str, ...]) -> Any:
    if isinstance(parent, dict) and isinstance(child, dict):
        merged = LineDict(parent)
        merged.line = getattr(child, "line", 0)
        merged.key_lines = {**getattr(parent, "key_lines", {}), **getattr(child, "key_lines", {})}
        for key, value in child.items():
            if key == "extends":
                continue
            merged[key] = _merge(parent[key], value, (*path, key)) if key in parent else value
        merged.pop("extends", None)
        return merged
    if path in _ADDITIVE and isinstance(parent, list) and isinstance(child, list):
        combined = LineList([*parent, *child])
        combined.line = getattr(child, "line", 0)
        combined.item_lines = [0] * len(parent) + list(
            getattr(child, "item_lines", [0] * len(child))
        )
        return combined
    return child


def _workspace_roots(entries: list[str]) -> tuple[str, ...]:
    roots = []
    for entry in entries:
        if entry == ".":
            roots.append(os.getcwd())
        else:
            roots.append(normalize_path(entry, os.getcwd()))
    return tuple(dict.fromkeys(roots))


def _compile_exceptions(
    spec: PolicySpec, raw: LineDict, source: str, rules: RuleSet
) -> list[PolicyException]:
    compiler = ConditionCompiler(rules.lists)
    out: list[PolicyException] = []
    raw_list = raw.get("exceptions") or []
    for index, exc_spec in enumerate(spec.exceptions):
        node = raw_list[index] if index < len(raw_list) else raw
        line = getattr(node, "line", 0)
        for rule_id in exc_spec.rules:
            if rule_id not in rules.rules and rule_id not in CLAUSES:
                raise SourceError(
                    source,
                    line,
                    f"exceptions[{index}].rules",
                    f"unknown rule id {rule_id}",
                    "run 'corral rules list' for the ids",
                )
        try:
            condition = compiler.compile(exc_spec.when, "when")
        except ConditionError as err:
            raise to_source_error(err, source, f"exceptions[{index}]", line) from err
        out.append(PolicyException(frozenset(exc_spec.rules), condition, exc_spec.reason))
    for rule_id in spec.rules:
        if rule_id not in rules.rules and rule_id not in CLAUSES:
            line = raw["rules"].line_of(rule_id) if isinstance(raw.get("rules"), LineDict) else 0
            raise SourceError(
                source,
                line,
                f"rules.{rule_id}",
                f"override names unknown rule id {rule_id}",
                "run 'corral rules list' for the ids",
            )
    return out
