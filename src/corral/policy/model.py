"""The YAML shape of a policy file, validated with pydantic."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from corral.rules.model import RULE_ID

RuleId = Annotated[str, StringConstraints(pattern=RULE_ID)]


class EgressSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    open: bool = False
    loopback: bool = True
    allow: list[str] = Field(default_factory=list)


class ProgramsSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deny: list[str] = Field(default_factory=list)


class SpendSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    budget: Annotated[float, Field(ge=0)] | None = 0.0
    currency: str = "USD"


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
    rules: dict[RuleId, RuleOverride] = Field(default_factory=dict)
    exceptions: list[ExceptionSpec] = Field(default_factory=list)
    tests: list[PolicyTest] = Field(default_factory=list)
