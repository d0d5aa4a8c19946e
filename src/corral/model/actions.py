"""Actions: one thing an agent is about to do, validated against the contract.

Validation is strict about types (``"443"`` is not a port, ``true`` is not an amount) because a
lenient parser is a place where an attacker and the guard can disagree about what an action means.
Unknown extra fields are kept as metadata, as the contract says.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

MAX_STRING = 1024 * 1024  # one field may hold a 1 MiB command; the analyser bounds the work on it

Text = Annotated[str, StringConstraints(max_length=MAX_STRING)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class _ActionBase(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    id: str | int | None = None
    session: Name | None = None
    agent: Name | None = None
    ts: str | float | None = None
    task: Text | None = None

    def metadata(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ExecAction(_ActionBase):
    kind: Literal["exec"]
    command: Text | None = None
    argv: list[Text] | None = Field(default=None, min_length=1)
    cwd: Text | None = None
    env: dict[str, Text] | None = None
    shell: Name = "bash"

    def model_post_init(self, context: Any, /) -> None:
        if self.command is None and self.argv is None:
            raise ValueError("an exec action needs 'command' (a command line) or 'argv' (a list)")


class FileAction(_ActionBase):
    kind: Literal["file"]
    op: Literal["read", "write", "append", "delete", "chmod", "list"]
    path: Annotated[str, StringConstraints(min_length=1, max_length=65536)]
    content: Text | None = None
    mode: str | int | None = None
    cwd: Text | None = None


class NetAction(_ActionBase):
    kind: Literal["net"]
    host: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    port: Annotated[int, Field(ge=0, le=65535)]
    proto: Literal["tcp", "udp"] = "tcp"
    direction: Literal["out", "listen"] = "out"


class HttpAction(_ActionBase):
    kind: Literal["http"]
    method: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    url: Annotated[str, StringConstraints(min_length=1, max_length=65536)]
    headers: dict[str, Text] | None = None
    body: Text | dict[str, Any] | list[Any] | None = None


class SpendAction(_ActionBase):
    kind: Literal["spend"]
    amount: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    currency: Annotated[str, StringConstraints(min_length=1, max_length=16)]
    account: Name | None = None
    purpose: Text | None = None
    recipient: Name | None = None


class ToolAction(_ActionBase):
    kind: Literal["tool"]
    name: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    args: dict[str, Any] | None = None


Action = ExecAction | FileAction | NetAction | HttpAction | SpendAction | ToolAction
ACTION_TYPES = (ExecAction, FileAction, NetAction, HttpAction, SpendAction, ToolAction)
KINDS = ("exec", "file", "net", "http", "spend", "tool")

_ADAPTER: TypeAdapter[Action] = TypeAdapter(Annotated[Action, Field(discriminator="kind")])


class ActionError(ValueError):
    """An action that does not fit the contract; ``field`` names where, when known."""

    def __init__(self, message: str, field: str = "", action_id: str | int | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.action_id = action_id


def echoable_id(value: Any) -> str | int | None:
    """An action's ``id`` as a decision may echo it: a string or an integer (not a boolean,
    which Python counts as an integer), else None."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return value


def parse_action(raw: Any) -> Action:
    """Validate ``raw`` (a dict, or a JSON text) into an Action or raise ActionError."""
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ActionError(f"not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ActionError(f"an action must be a JSON object, not {type(raw).__name__}")
    action_id = echoable_id(raw.get("id"))
    kind = raw.get("kind")
    if kind not in KINDS:
        shown = "missing" if kind is None else repr(kind)[:40]
        raise ActionError(
            f"'kind' is {shown}; it must be one of {', '.join(KINDS)}", "kind", action_id
        )
    try:
        return _ADAPTER.validate_python(raw)
    except ValidationError as exc:
        raise ActionError(_describe(exc), _field_of(exc), action_id) from exc


def _field_of(exc: ValidationError) -> str:
    loc = exc.errors()[0]["loc"]
    return ".".join(str(p) for p in loc[1:]) if len(loc) > 1 else ""


def _describe(exc: ValidationError) -> str:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"][1:])
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "missing":
        return f"field '{field}' is required"
    return f"field '{field}': {message}" if field else message
