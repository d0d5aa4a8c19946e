"""The YAML shape of a policy file, validated with pydantic."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from corral.rules.model import RULE_ID

RuleId = Annotated[str, StringConstraints(pattern=RULE_ID)]


class EgressSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    open: bool = False
    loopback: bool = True
    allow: list[str] = Field(default_factory=list)
    # Bytes one session may send out through Corral's egress proxy (an exfiltration volume
    # budget; downloads do not count). null: no budget.
    upload_budget: Annotated[int, Field(ge=0)] | None = 64 * 1024 * 1024


class ProgramsSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deny: list[str] = Field(default_factory=list)


# ISO 4217 currency codes in use: a budget or price in any other unit is a typo, and a typo in a
# budget must stop the policy from loading rather than quietly never match.
_ISO_CODES = """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL
    BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL
    GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW
    KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN
    NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK
    SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS
    VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL"""
ISO_CURRENCIES = frozenset(_ISO_CODES.split())
# Compute quotas kept in the same ledger as money (the supervisor reports usage into them).
QUOTA_UNITS = frozenset({"gpu_hours", "cpu_hours"})
# Larger than any real budget or price: a value above it is a unit mistake (cents for dollars,
# a pasted account number) and is refused rather than taken as "unlimited".
MAX_AMOUNT = 1e9

Amount = Annotated[float, Field(ge=0, le=MAX_AMOUNT, allow_inf_nan=False)]
HourlyPrice = Annotated[float, Field(ge=0, le=1e6, allow_inf_nan=False)]


def check_currency(value: str) -> str:
    code = value.strip().upper()
    if code not in ISO_CURRENCIES:
        raise ValueError(f"unknown currency {value!r}; use an ISO 4217 code such as USD or EUR")
    return code


def check_unit(value: str) -> str:
    """A ledger unit: an ISO 4217 currency or one of the compute quotas."""
    if value.strip().lower() in QUOTA_UNITS:
        return value.strip().lower()
    try:
        return check_currency(value)
    except ValueError:
        raise ValueError(
            f"unknown unit {value!r}; use an ISO 4217 currency code (USD, EUR...) "
            f"or one of {', '.join(sorted(QUOTA_UNITS))}"
        ) from None


class SpendSpec(BaseModel):
    """``budget`` is the per-action limit; ``currency`` is the currency of every money budget."""

    model_config = ConfigDict(extra="forbid")

    budget: Amount | None = 0.0
    currency: str = "USD"

    _currency = field_validator("currency")(check_currency)


class BudgetLimit(BaseModel):
    """One budget in the ledger: how much ``unit`` one ``scope`` may use per ``window``.

    ``hard`` denies what would go over it; ``soft`` asks a person first. ``unit`` defaults to the
    policy's ``spend.currency``.
    """

    model_config = ConfigDict(extra="forbid")

    scope: Literal["session", "agent", "account", "global"]
    window: Literal["action", "hour", "day", "total"]
    unit: str | None = None
    hard: Amount | None = None
    soft: Amount | None = None

    _unit = field_validator("unit")(lambda v: None if v is None else check_unit(v))

    @model_validator(mode="after")
    def _has_a_limit(self) -> BudgetLimit:
        if self.hard is None and self.soft is None:
            raise ValueError("a limit needs 'hard' (deny above) or 'soft' (ask above), or both")
        if self.hard is not None and self.soft is not None and self.soft > self.hard:
            raise ValueError(
                f"soft ({self.soft:g}) is above hard ({self.hard:g}); it would never ask"
            )
        return self


class PriceTable(BaseModel):
    """Hourly prices the ledger uses to estimate what a launch costs.

    Entries add to (and override) Corral's built-in reference prices. ``default`` prices an
    instance type the table does not know; without it such a launch asks.
    """

    model_config = ConfigDict(extra="forbid")

    hours: Annotated[float, Field(gt=0, le=8760, allow_inf_nan=False)] = 1.0
    default: HourlyPrice | None = None
    gpu_default: HourlyPrice | None = None
    instances: dict[
        Annotated[str, StringConstraints(min_length=1, max_length=100)], HourlyPrice
    ] = Field(default_factory=dict)
    gpus: dict[Annotated[str, StringConstraints(min_length=1, max_length=100)], HourlyPrice] = (
        Field(default_factory=dict)
    )


class LedgerSpec(BaseModel):
    """Budgets over time, the price table and how the wallet and quota ledger behaves."""

    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = None
    limits: list[BudgetLimit] = Field(default_factory=list)
    prices: PriceTable = Field(default_factory=PriceTable)
    unknown_cost: Literal["allow", "ask", "deny"] = "ask"
    reservation_ttl: Annotated[int, Field(ge=1, le=7 * 86400)] = 600
    approval_ttl: Annotated[int, Field(ge=1, le=30 * 86400)] = 3600


class RuleOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    decision: Literal["allow", "ask", "deny"] | None = None
    severity: Literal["info", "low", "medium", "high", "critical"] | None = None


class ExceptionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: Annotated[list[RuleId], Field(min_length=1)]
    when: dict[str, Any]
    reason: Annotated[str, StringConstraints(min_length=5)]


class PolicyTest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    action: str | dict[str, Any]
    expect: Literal["allow", "ask", "deny"]
    rules: list[RuleId] = Field(default_factory=list)


class RiskSpec(BaseModel):
    """How a session's risk score grows and fades, and where it hardens verdicts."""

    model_config = ConfigDict(extra="forbid")

    half_life_s: Annotated[float, Field(gt=0)] = 900.0
    ask_at: Annotated[float, Field(ge=0)] = 60.0
    deny_at: Annotated[float, Field(ge=0)] = 100.0


class ChainSpec(BaseModel):
    """Kill-chain stages reached by one session: when they raise an alert and when a deny."""

    model_config = ConfigDict(extra="forbid")

    alert_stages: Annotated[int, Field(ge=1, le=5)] = 2
    deny_stages: Annotated[int, Field(ge=1, le=5)] = 3
    window_s: Annotated[float, Field(gt=0)] = 7 * 24 * 3600.0


class QuarantineSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    denies: Annotated[int, Field(ge=1, le=10000)] = 5
    window_s: Annotated[float, Field(gt=0)] = 600.0


class OffTaskSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weight: Annotated[float, Field(ge=1)] = 2.0
    decision: Literal["allow", "ask", "deny"] = "ask"


class MemorySpec(BaseModel):
    """Caps on what a session remembers (hosts) and shows (the timeline steps an alert carries),
    so a flooding agent cannot grow either without bound."""

    model_config = ConfigDict(extra="forbid")

    timeline: Annotated[int, Field(ge=1, le=1000)] = 20
    hosts: Annotated[int, Field(ge=1, le=100000)] = 1000


class AlertSinkSpec(BaseModel):
    """One place alerts go: ``jsonl`` (path), ``stdout``, ``webhook`` (url), ``syslog``."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["jsonl", "stdout", "webhook", "syslog"]
    path: str | None = None
    url: str | None = None
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 514
    protocol: Literal["udp", "tcp"] = "udp"
    retries: Annotated[int, Field(ge=0, le=20)] = 3
    backoff_s: Annotated[float, Field(ge=0, le=60)] = 0.5
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 5.0
    queue: Annotated[int, Field(ge=1, le=100000)] = 1000
    headers: dict[str, str] = Field(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        if self.type == "jsonl" and not self.path:
            raise ValueError("a jsonl alert sink needs 'path' (the file alerts are appended to)")
        if self.type == "webhook" and not (self.url or "").startswith(("http://", "https://")):
            raise ValueError("a webhook alert sink needs 'url' starting with http:// or https://")


class SessionsSpec(BaseModel):
    """Session analysis: risk, kill chains, quarantine, off-task steps and alert sinks."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    risk: RiskSpec = Field(default_factory=RiskSpec)
    chains: ChainSpec = Field(default_factory=ChainSpec)
    quarantine: QuarantineSpec = Field(default_factory=QuarantineSpec)
    off_task: OffTaskSpec = Field(default_factory=OffTaskSpec)
    memory: MemorySpec = Field(default_factory=MemorySpec)
    alerts: list[AlertSinkSpec] = Field(default_factory=list)


# -- supervision: what `corral run` enforces on a live agent ----------------------------

SupervisionStep = Literal["alert", "throttle", "freeze", "kill"]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]


def _steps(*steps: SupervisionStep) -> list[SupervisionStep]:
    return list(steps)


class LimitsSpec(BaseModel):
    """The agent's cgroup limits (``null``: none) and whether it may use a GPU."""

    model_config = ConfigDict(extra="forbid")

    cpu_cores: PositiveFloat | None = Field(None, description="CPU quota in cores; none: unlimited")
    memory_mb: Annotated[int, Field(ge=16)] | None = 4096
    pids: Annotated[int, Field(ge=8)] | None = 512
    gpu: bool = Field(True, description="whether the agent may use a GPU at all")
    gpu_memory_mb: Annotated[int, Field(ge=1)] | None = None


class DetectorSpec(BaseModel):
    """Thresholds of the behaviour detectors (miner, fork bomb...)."""

    model_config = ConfigDict(extra="forbid")

    interval_s: Annotated[float, Field(ge=0.05, le=5)] = 0.25
    saturation: Annotated[float, Field(gt=0, le=1)] = 0.85  # of one core (or of the GPU)
    sustain_s: Annotated[float, Field(ge=0.1, le=3600)] = 1.0
    connection_age_s: Annotated[float, Field(ge=0, le=3600)] = 0.75
    fork_rate: Annotated[int, Field(ge=10)] = 200  # new processes per second
    stratum_ports: list[Annotated[int, Field(ge=1, le=65535)]] = Field(
        default_factory=lambda: [3333, 3334, 4444, 5555, 7777, 8888, 9999, 14433, 14444, 45700]
    )


class LadderSpec(BaseModel):
    """Per finding severity, the steps taken in order while the behaviour persists."""

    model_config = ConfigDict(extra="forbid")

    medium: list[SupervisionStep] = Field(default_factory=lambda: _steps("alert"))
    high: list[SupervisionStep] = Field(
        default_factory=lambda: _steps("throttle", "freeze", "kill")
    )
    critical: list[SupervisionStep] = Field(default_factory=lambda: _steps("kill"))
    step_after_s: Annotated[float, Field(ge=0, le=3600)] = 1.0
    throttle_cores: PositiveFloat = 0.1
    # A denied exec stops that process (like a pre-execution deny would have); after this many
    # denied execs the next step is the whole agent (0: never).
    denied_execs_kill_agent: Annotated[int, Field(ge=0)] = 0

    def steps(self, severity: str) -> list[SupervisionStep]:
        return list(getattr(self, severity, []) or [])


class SupervisionSpec(BaseModel):
    """``corral run``: resource limits, detector thresholds and the response ladder."""

    model_config = ConfigDict(extra="forbid")

    limits: LimitsSpec = Field(default_factory=LimitsSpec)
    detectors: DetectorSpec = Field(default_factory=DetectorSpec)
    ladder: LadderSpec = Field(default_factory=LadderSpec)


class PolicySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    description: str = ""
    extends: str | None = None
    mode: Literal["enforce", "monitor"] = "enforce"
    workspace: list[str] = Field(default_factory=list)
    protected: list[str] = Field(default_factory=list)
    egress: EgressSpec = Field(default_factory=EgressSpec)
    programs: ProgramsSpec = Field(default_factory=ProgramsSpec)
    privilege: Literal["allow", "deny"] = "deny"
    spend: SpendSpec = Field(default_factory=SpendSpec)
    ledger: LedgerSpec = Field(default_factory=LedgerSpec)
    rules: dict[RuleId, RuleOverride] = Field(default_factory=dict)
    exceptions: list[ExceptionSpec] = Field(default_factory=list)
    tests: list[PolicyTest] = Field(default_factory=list)
    sessions: SessionsSpec = Field(default_factory=SessionsSpec)
    supervision: SupervisionSpec = Field(default_factory=SupervisionSpec)
