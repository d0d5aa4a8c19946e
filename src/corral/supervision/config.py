"""What the supervisor enforces: resource limits, detector thresholds and the response ladder.

The settings come from the policy's ``supervision:`` section when the policy model carries one,
else from the built-in defaults below (the same for ``default`` and ``permissive``: behaviour is
judged the same way under both). A YAML file with the same shape can be given with
``corral run --supervision FILE``. Nothing here is read from the agent's environment or
workspace: the agent cannot loosen its own fence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from corral.policy.loader import Policy
from corral.util.yamlfile import SourceError, first_validation_error, load_yaml

Step = Literal["alert", "throttle", "freeze", "kill"]
STEP_ORDER: dict[str, int] = {"alert": 0, "throttle": 1, "freeze": 2, "kill": 3}
Positive = Annotated[float, Field(gt=0)]


class LimitsSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cpu_cores: Positive | None = Field(None, description="CPU quota in cores; none: unlimited")
    memory_mb: Annotated[int, Field(ge=16)] | None = 4096
    pids: Annotated[int, Field(ge=8)] | None = 512
    gpu: bool = Field(True, description="whether the agent may use a GPU at all")
    gpu_memory_mb: Annotated[int, Field(ge=1)] | None = None


class DetectorSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interval_s: Annotated[float, Field(ge=0.05, le=5)] = 0.25
    saturation: Annotated[float, Field(gt=0, le=1)] = 0.85  # of one core (or of the GPU)
    sustain_s: Annotated[float, Field(ge=0.1)] = 1.0
    connection_age_s: Annotated[float, Field(ge=0)] = 0.75
    fork_rate: Annotated[int, Field(ge=10)] = 200  # new processes per second
    stratum_ports: list[int] = Field(
        default_factory=lambda: [3333, 3334, 4444, 5555, 7777, 8888, 9999, 14433, 14444, 45700]
    )


def _steps(*steps: Step) -> list[Step]:
    return list(steps)


class LadderSpec(BaseModel):
    """Per finding severity, the steps taken in order while the behaviour persists."""

    model_config = ConfigDict(extra="forbid")

    medium: list[Step] = Field(default_factory=lambda: _steps("alert"))
    high: list[Step] = Field(default_factory=lambda: _steps("throttle", "freeze", "kill"))
    critical: list[Step] = Field(default_factory=lambda: _steps("kill"))
    step_after_s: Annotated[float, Field(ge=0)] = 1.0
    throttle_cores: Positive = 0.1
    # A denied exec stops that process (like a pre-execution deny would have); after this many
    # denied execs the next step is the whole agent (0: never).
    denied_execs_kill_agent: Annotated[int, Field(ge=0)] = 0

    def steps(self, severity: str) -> list[Step]:
        return list(getattr(self, severity, []) or [])


class SupervisionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limits: LimitsSpec = Field(default_factory=LimitsSpec)
    detectors: DetectorSpec = Field(default_factory=DetectorSpec)
    ladder: LadderSpec = Field(default_factory=LadderSpec)


def from_policy(policy: Policy) -> SupervisionSpec:
    """The policy's ``supervision`` section if it has one, else the defaults."""
    section: Any = getattr(policy.spec, "supervision", None)
    if section is None:
        return SupervisionSpec()
    if isinstance(section, SupervisionSpec):
        return section
    if isinstance(section, BaseModel):
        section = section.model_dump()
    try:
        return SupervisionSpec.model_validate(section)
    except ValidationError as exc:
        raise first_validation_error(exc, section, policy.source) from exc


def load_file(path: Path) -> SupervisionSpec:
    """A ``supervision`` YAML file (the section's shape at the top, or under ``supervision:``)."""
    if not path.is_file():
        raise SourceError(str(path), 0, "", "supervision file not found", "give an existing file")
    raw = load_yaml(path)
    if isinstance(raw, dict) and "supervision" in raw:
        raw = raw["supervision"]
    try:
        return SupervisionSpec.model_validate(raw or {})
    except ValidationError as exc:
        raise first_validation_error(exc, raw, str(path)) from exc
