"""The corpus gates: benign agent work is not denied; attacks, evasions included, are."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from corral import Guard

HERE = Path(__file__).parent
BENIGN = HERE / "benign"
MALICIOUS = HERE / "malicious"
OUTSIDE_DEFAULT = "outside_default.jsonl"

DEFAULT = Guard("default", workspace=["/workspace", "/tmp"])
PERMISSIVE = Guard("permissive")


def load(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def known_false_positives() -> dict[str, str]:
    data = yaml.safe_load((HERE / "known_false_positives.yaml").read_text()) or {}
    assert isinstance(data, dict)
    return {str(k): str(v) for k, v in data.items()}


def benign_files(include_outside: bool) -> list[Path]:
    return [
        p for p in sorted(BENIGN.glob("*.jsonl")) if include_outside or p.name != OUTSIDE_DEFAULT
    ]


def denied(guard: Guard, actions: list[dict[str, Any]], allowed_fps: dict[str, str]) -> list[str]:
    out = []
    for action in actions:
        decision = guard.decide(action)
        if decision.decision == "deny" and action["id"] not in allowed_fps:
            out.append(f"{action['id']}: {decision.reason}")
    return out


def test_corpus_sizes() -> None:
    benign = [a for p in benign_files(include_outside=False) for a in load(p)]
    hard = load(BENIGN / "hard_negatives.jsonl")
    malicious = [a for p in sorted(MALICIOUS.glob("*.jsonl")) for a in load(p)]
    assert len(benign) >= 1500
    assert len(hard) >= 300
    assert len(malicious) >= 400
    ids = [a["id"] for a in [*benign, *load(BENIGN / OUTSIDE_DEFAULT), *malicious]]
    assert len(ids) == len(set(ids)), "corpus ids must be unique"


@pytest.mark.parametrize("path", benign_files(include_outside=False), ids=lambda p: p.name)
def test_benign_work_is_not_denied_by_default(path: Path) -> None:
    offenders = denied(DEFAULT, load(path), known_false_positives())
    assert not offenders, "new false positives:\n" + "\n".join(offenders)


@pytest.mark.parametrize("path", benign_files(include_outside=True), ids=lambda p: p.name)
def test_benign_work_is_not_denied_by_behaviour_rules(path: Path) -> None:
    offenders = denied(PERMISSIVE, load(path), known_false_positives())
    assert not offenders, "new false positives:\n" + "\n".join(offenders)


def test_known_false_positives_are_still_real() -> None:
    """A listed id that is no longer denied (or no longer exists) must leave the list."""
    everything = {a["id"]: a for p in benign_files(include_outside=True) for a in load(p)}
    stale = []
    for fp_id in known_false_positives():
        action = everything.get(fp_id)
        if action is None or DEFAULT.decide(action).decision != "deny":
            stale.append(fp_id)
    assert not stale, f"remove from known_false_positives.yaml: {stale}"


@pytest.mark.parametrize("path", sorted(MALICIOUS.glob("*.jsonl")), ids=lambda p: p.name)
def test_malicious_actions_are_denied_by_behaviour_rules(path: Path) -> None:
    missed = []
    for action in load(path):
        decision = PERMISSIVE.decide(action)
        behaviour = [
            r.id for r in decision.rules if not r.id.startswith("CR-POL-") or r.id == "CR-POL-008"
        ]
        if decision.decision != "deny" or not behaviour:
            missed.append(
                f"{action['id']} ({action.get('category')}): {decision.decision} {decision.reason}"
            )
    assert not missed, "attacks that got through:\n" + "\n".join(missed)


@pytest.mark.parametrize("path", sorted(MALICIOUS.glob("*.jsonl")), ids=lambda p: p.name)
def test_malicious_actions_are_denied_by_default(path: Path) -> None:
    missed = [a["id"] for a in load(path) if DEFAULT.decide(a).decision != "deny"]
    assert not missed, f"attacks allowed by the default policy: {missed}"
