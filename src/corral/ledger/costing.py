"""What an action costs: the amount a ``spend`` says, or an estimate for actions that cost money
without saying so (instance and GPU launches, cluster and batch jobs, payment and plan calls).

Which actions are costly is the rule library's finding (resource acquisition and wallet rules
match them, through wrappers, encodings and tool calls alike); this module only puts a price on
them from the policy's price table. An action it cannot price is ``known=False``: the gate then
asks (or does what ``ledger.unknown_cost`` says) rather than guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from corral.analysis.facts import Analysis
from corral.ledger.prices import GPU_PRICES, INSTANCE_GPUS, INSTANCE_PRICES
from corral.model.decisions import RuleRef
from corral.policy.loader import Policy
from corral.rules.loader import RuleSet

COSTLY_CATEGORIES = frozenset({"resource_acquisition", "wallet_abuse"})
SPEND_CLAUSES = frozenset({"CR-POL-006", "CR-POL-009"})

_KEY_END = r"""["']?\s*[:= ]\s*["']?"""
_TYPE = re.compile(
    r"(?i)(?<![\w-])(?:--instance-type|--machine-type|--size|--shape|--node-type|--vm-size|"
    r"--node-vm-size|--type|instance_?type(?:_?name)?|machine_?type|vm_?size|node_?type)"
    + _KEY_END
    + r"([A-Za-z0-9_./-]+)"
)
_COUNT = re.compile(
    r"(?i)(?<![\w-])(?:--count|--instance-count|--num-nodes|--node-count|--nodes|"
    r"--desired-capacity|--new-capacity|--replicas|maxcount|instance_?count|count|num_?nodes|"
    r"node_?count|replicas|replica_?count)" + _KEY_END + r"(\d{1,6})\b"
)
_GPU_COUNT = [
    re.compile(r"(?i)--gres[= ]\S*?gpu(?::([a-z][\w-]*))?:(\d{1,5})"),
    re.compile(r"(?i)--gpus(?:-per-node)?[= ](?:([a-z][\w-]*):)?(\d{1,5})\b"),
    re.compile(r"(?i)--accelerator[= ]type=([\w-]+),count=(\d{1,5})"),
    re.compile(r"(?i)()(?:nvidia|amd)\.com/gpu" + _KEY_END + r"(\d{1,5})"),
    re.compile(
        r"(?i)()(?<![\w-])(?:gpu_?count|num_?gpus|gpuCount|accelerator_?count)"
        + _KEY_END
        + r"(\d{1,5})"
    ),
    re.compile(r"(?i)(?<![\w-])gpus?" + _KEY_END + r"([a-z][\w-]*):(\d{1,5})"),
]
_GPU_MODEL = re.compile(
    r"(?i)(?:gpu_?type|gpuType(?:Id)?|accelerator_?type)" + _KEY_END + r"([^\"',}]+)"
)


@dataclass(frozen=True, slots=True)
class Cost:
    """``charges`` maps units (currency, ``gpu_hours``) to amounts; ``basis`` says how."""

    costly: bool
    known: bool = True
    charges: dict[str, float] = field(default_factory=dict)
    basis: str = ""


NOT_COSTLY = Cost(costly=False)


def is_costly(findings: list[RuleRef], rules: RuleSet) -> bool:
    for ref in findings:
        rule = rules.rules.get(ref.id)
        if rule is not None and rule.spec.category in COSTLY_CATEGORIES:
            return True
        if ref.id in SPEND_CLAUSES:
            return True
    return False


def estimate(analysis: Analysis, findings: list[RuleRef], rules: RuleSet, policy: Policy) -> Cost:
    if analysis.spend is not None:
        spend = analysis.spend
        return Cost(
            True,
            True,
            {spend.currency: spend.amount},
            f"a spend of {spend.amount:g} {spend.currency}",
        )
    if not is_costly(findings, rules):
        return NOT_COSTLY
    text = _text_of(analysis)
    return _priced(text, policy) or Cost(
        True, False, {}, "costly action with no instance type, GPU count or amount to price"
    )


def _text_of(analysis: Analysis) -> str:
    parts = [" ".join(c.argv) for c in analysis.commands]
    if analysis.tool is not None:
        parts.append(analysis.tool.args_text)
    if analysis.http is not None:
        parts.extend((analysis.http.url, analysis.http.body))
    parts.extend(p.text for p in analysis.payloads)
    return "\n".join(parts)


def _count(text: str) -> int:
    match = _COUNT.search(text)
    return max(1, int(match.group(1))) if match else 1


def _priced(text: str, policy: Policy) -> Cost | None:
    table = policy.spec.ledger.prices
    currency = policy.spec.spend.currency
    # Corral's reference prices are in USD; a budget in another currency uses only its own table.
    instances = {
        **(INSTANCE_PRICES if currency == "USD" else {}),
        **{k.lower(): v for k, v in table.instances.items()},
    }
    gpu_prices = {
        **(GPU_PRICES if currency == "USD" else {}),
        **{k.lower(): v for k, v in table.gpus.items()},
    }
    hours = table.hours
    count = _count(text)
    type_match = _TYPE.search(text)
    if type_match:
        kind = type_match.group(1).rsplit("/", 1)[-1].lower()
        price = instances.get(kind, table.default)
        if price is None:
            return None
        gpus = INSTANCE_GPUS.get(kind, 0) * count
        basis = f"{count} x {kind} at {price:g} {currency}/h for {hours:g} h"
        if kind not in instances:
            basis += " (not in the price table: its default price)"
        return _cost(price * count * hours, currency, gpus * hours, basis)
    for pattern in _GPU_COUNT:
        gpu_match = pattern.search(text)
        if gpu_match:
            model = gpu_match.group(1) or _model_named(text)
            n = int(gpu_match.group(2)) * (count if pattern is _GPU_COUNT[0] else 1)
            per_gpu = _gpu_price(model, gpu_prices, table.gpu_default)
            if per_gpu is None:
                return None
            basis = f"{n} x {model or 'GPU'} at {per_gpu:g} {currency}/GPU-h for {hours:g} h"
            return _cost(per_gpu * n * hours, currency, n * hours, basis)
    return None


def _model_named(text: str) -> str:
    match = _GPU_MODEL.search(text)
    return match.group(1).strip() if match else ""


def _gpu_price(model: str, prices: dict[str, float], default: float | None) -> float | None:
    folded = re.sub(r"[^a-z0-9]", "", model.lower())
    for name, price in sorted(prices.items(), key=lambda kv: -len(kv[0])):
        if name in folded:
            return price
    return default


def _cost(money: float, currency: str, gpu_hours: float, basis: str) -> Cost:
    charges: dict[str, float] = {currency: round(money, 6)}
    if gpu_hours > 0:
        charges["gpu_hours"] = round(gpu_hours, 6)
    return Cost(True, True, charges, basis)
