"""The MCP gateway: every ``tools/call`` an MCP client makes is judged before the server sees it.

The gateway sits between a client (Claude Desktop, an IDE, an agent framework) and one MCP
server, forwards every JSON-RPC message both ways unchanged, and stops at exactly one place: a
``tools/call`` request. Its tool name and arguments become a ``tool`` action, which the guard
maps to what it really is (a ``run_shell`` tool is a shell command, ``read_file`` a file read,
``fetch`` an HTTP request, ``pay`` a spend, see :mod:`corral.analysis.tools`). A call that is not
allowed never reaches the server; the client gets an ordinary tool result with ``isError: true``
carrying the reason, which a model can read and act on.

The gateway also remembers the server's first ``tools/list`` answer. A server that later adds,
removes or redefines tools (the "rug pull": a tool approved as harmless that is swapped for one
that is not) is flagged with clause CR-MCP-001, and calls to tools that were not in the first
listing, or whose definition changed, are denied unless the gateway was told to allow it.

Fail closed: a client message that is not JSON-RPC gets a JSON-RPC error and is not forwarded; a
``tools/call`` the gateway cannot judge (bad parameters, an internal error) is denied.
This module is transport-free; :mod:`corral.integrations.mcp_stdio` and
:mod:`corral.integrations.mcp_http` move the bytes.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

from corral.engine.guard import Guard, new_decision_id
from corral.integrations.combine import DecisionDict, describe, verdict_of
from corral.model.actions import echoable_id
from corral.model.decisions import Decision, RuleRef, Severity
from corral.sinks import DecisionLog

CLAUSE_TOOLS_CHANGED = "CR-MCP-001"
CLAUSE_UNJUDGEABLE = "CR-MCP-002"
TOOLS_CHANGED_TITLE = "MCP server changed its tools mid-session"
# A server that redefines the tools a user approved behaves like a compromised software update.
TOOLS_CHANGED_ATTACK = ["T1195.002"]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
GATEWAY_ID_PREFIX = "corral-mcp-"

JsonObject = dict[str, Any]
Lister = Callable[[], Awaitable[list[JsonObject] | None]]


class MessageError(ValueError):
    """A client message that is not JSON-RPC; answered with ``code`` and never forwarded."""

    def __init__(self, code: int, message: str, msg_id: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.msg_id = msg_id


@dataclass(frozen=True, slots=True)
class ClientOutcome:
    """What to do with one client message: send it on, answer it here, or drop it."""

    action: Literal["forward", "reply", "drop"]
    reply: JsonObject | None = None


FORWARD = ClientOutcome("forward")
DROP = ClientOutcome("drop")


# -- JSON-RPC shapes ----------------------------------------------------------------------------


def error_response(msg_id: Any, code: int, message: str) -> JsonObject:
    return {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}


def blocked_result(msg_id: Any, reason: str) -> JsonObject:
    """The tool result a blocked call gets: the client sees a failed tool, not a broken server."""
    content = [{"type": "text", "text": reason}]
    return {"jsonrpc": "2.0", "id": msg_id, "result": {"content": content, "isError": True}}


def parse_message(raw: bytes | str) -> JsonObject:
    """One client message as a JSON-RPC object; raises :class:`MessageError` saying what's wrong."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise MessageError(PARSE_ERROR, f"the message is not JSON: {exc}") from exc
    if isinstance(data, list):
        raise MessageError(
            INVALID_REQUEST, "JSON-RPC batches are not part of MCP; send one message"
        )
    if not isinstance(data, dict):
        raise MessageError(INVALID_REQUEST, "a JSON-RPC message must be a JSON object")
    msg_id = data.get("id")
    valid_id = msg_id is None or (isinstance(msg_id, str | int) and not isinstance(msg_id, bool))
    if not valid_id:
        raise MessageError(INVALID_REQUEST, "'id' must be a string or an integer")
    if data.get("jsonrpc") != "2.0":
        raise MessageError(INVALID_REQUEST, "field 'jsonrpc' must be \"2.0\"", msg_id)
    if "method" in data and not isinstance(data["method"], str):
        raise MessageError(INVALID_REQUEST, "field 'method' must be a string", msg_id)
    if "method" not in data and (msg_id is None or not ("result" in data or "error" in data)):
        raise MessageError(
            INVALID_REQUEST, "a message needs 'method', or 'id' and a result", msg_id
        )
    return data


def call_parts(message: JsonObject) -> tuple[str, JsonObject]:
    """The tool name and arguments of a ``tools/call``; raises INVALID_PARAMS naming the field."""
    params = message.get("params")
    msg_id = message.get("id")
    if not isinstance(params, dict):
        raise MessageError(INVALID_PARAMS, "tools/call needs 'params' (an object)", msg_id)
    name = params.get("name")
    if not isinstance(name, str) or not name:
        raise MessageError(INVALID_PARAMS, "tools/call 'params.name' must be a string", msg_id)
    arguments = params.get("arguments", {})
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise MessageError(
            INVALID_PARAMS, "tools/call 'params.arguments' must be an object", msg_id
        )
    return name, arguments


# -- the server's tools ------------------------------------------------------------------------


def fingerprint(tool: JsonObject) -> str:
    """What a person approved when they saw the tool: its description and its input schema."""
    seen = {k: tool.get(k) for k in ("description", "inputSchema", "annotations", "title")}
    return hashlib.sha256(json.dumps(seen, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class ToolChange:
    added: list[str]
    removed: list[str]
    redefined: list[str]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.redefined)

    def summary(self) -> str:
        parts = [
            f"{label}: {', '.join(names)}"
            for label, names in (
                ("added", self.added),
                ("removed", self.removed),
                ("redefined", self.redefined),
            )
            if names
        ]
        return "; ".join(parts)


@dataclass
class ToolRegistry:
    """The first complete ``tools/list`` answer and every later one, compared."""

    baseline: dict[str, str] | None = None
    current: dict[str, str] = field(default_factory=dict)
    changes: list[ToolChange] = field(default_factory=list)
    _round: dict[str, str] = field(default_factory=dict)

    def observe_page(self, result: JsonObject, *, first_page: bool) -> ToolChange | None:
        """Record one page of a listing; at its last page, the change from the baseline (if any)."""
        if first_page:
            self._round = {}
        tools = result.get("tools")
        for tool in tools if isinstance(tools, list) else []:
            if isinstance(tool, dict) and isinstance(tool.get("name"), str):
                self._round[tool["name"]] = fingerprint(tool)
        if result.get("nextCursor"):
            return None
        return self._complete(self._round)

    def _complete(self, listing: dict[str, str]) -> ToolChange | None:
        self.current = listing
        if self.baseline is None:
            self.baseline = dict(listing)
            return None
        change = ToolChange(
            added=sorted(set(listing) - set(self.baseline)),
            removed=sorted(set(self.baseline) - set(listing)),
            redefined=sorted(n for n in listing if self.baseline.get(n, listing[n]) != listing[n]),
        )
        if change:
            self.changes.append(change)
            return change
        return None

    def unapproved(self, name: str) -> str | None:
        """Why a call to ``name`` is outside what the first listing approved, or None."""
        if self.baseline is None:
            return None
        if name not in self.baseline:
            return f"tool {name!r} was not in the server's first tool list"
        if name in self.current and self.current[name] != self.baseline[name]:
            return f"tool {name!r} was redefined after the server's first tool list"
        return None


# -- the gateway --------------------------------------------------------------------------------


@dataclass
class GatewayOptions:
    server_label: str = "mcp"
    session: str | None = None
    allow_tool_changes: bool = False


class Gateway:
    """Judges client messages and records server messages; knows nothing of the transport."""

    def __init__(
        self,
        guard: Guard,
        options: GatewayOptions | None = None,
        *,
        log: DecisionLog | None = None,
        alerts: TextIO | None = None,
    ) -> None:
        self.guard = guard
        self.options = options or GatewayOptions()
        self.log = log
        self.alerts = alerts if alerts is not None else sys.stderr
        self.tools = ToolRegistry()
        self.decisions: list[DecisionDict] = []
        self._listing_ids: dict[Any, bool] = {}  # request id -> asked for the first page
        self._own_counter = 0

    # -- client -> server ----------------------------------------------------------------------

    async def from_client(self, raw: bytes | str, lister: Lister | None = None) -> ClientOutcome:
        """Forward, answer or drop one client message. Never raises."""
        try:
            message = parse_message(raw)
            method = message.get("method")
            if method == "tools/call":
                return await self._tools_call(message, lister)
            if method == "tools/list" and "id" in message:
                params = message.get("params")
                cursor = params.get("cursor") if isinstance(params, dict) else None
                self._listing_ids[message["id"]] = not cursor
            return FORWARD
        except MessageError as exc:
            return ClientOutcome("reply", error_response(exc.msg_id, exc.code, str(exc)))
        except Exception as exc:  # a bug must not turn into a forwarded, unjudged message
            detail = f"Corral gateway internal error ({type(exc).__name__}: {exc})"
            return ClientOutcome("reply", error_response(None, INVALID_REQUEST, detail))

    async def _tools_call(self, message: JsonObject, lister: Lister | None) -> ClientOutcome:
        msg_id = message.get("id")
        if msg_id is None:  # a notification cannot call a tool; never send one on unjudged
            self._alert({"record": "dropped", "reason": "tools/call sent as a notification"})
            return DROP
        name, arguments = call_parts(message)
        try:
            if self.tools.baseline is None and lister is not None:
                await self._learn_tools(lister)
            decision = self.judge_call(name, arguments, msg_id)
        except Exception as exc:
            decision = self._error_decision(msg_id, f"{type(exc).__name__}: {exc}")
        try:
            self._record(decision, self._action(name, arguments, msg_id))
        except Exception as exc:  # a decision that was not logged must not count
            decision = self._error_decision(msg_id, f"the decision log failed: {exc}")
        if verdict_of(decision) == "allow":
            return FORWARD
        return ClientOutcome("reply", blocked_result(msg_id, describe(decision)))

    async def _learn_tools(self, lister: Lister) -> None:
        """Ask the server for its tools when the client calls one before listing them."""
        pages = await lister()
        for index, page in enumerate(pages or []):
            self._on_listing(page, first_page=index == 0)

    def own_request_id(self) -> str:
        self._own_counter += 1
        return f"{GATEWAY_ID_PREFIX}{self._own_counter}"

    def judge_call(self, name: str, arguments: JsonObject, msg_id: Any) -> DecisionDict:
        """The decision for one tool call (the tool-list check first, then the guard)."""
        unapproved = self.tools.unapproved(name)
        if unapproved is not None and not self.options.allow_tool_changes:
            return self._tools_changed_decision(msg_id, unapproved)
        return self.guard.decide(self._action(name, arguments, msg_id)).to_dict()

    def _action(self, name: str, arguments: JsonObject, msg_id: Any) -> JsonObject:
        action: JsonObject = {
            "kind": "tool",
            "name": name,
            "args": arguments,
            "agent": self.options.server_label,
        }
        if msg_id is not None:
            action["id"] = msg_id
        if self.options.session is not None:
            action["session"] = self.options.session
        return action

    def _tools_changed_decision(self, msg_id: Any, why: str) -> DecisionDict:
        rule = RuleRef(CLAUSE_TOOLS_CHANGED, TOOLS_CHANGED_TITLE, tuple(TOOLS_CHANGED_ATTACK))
        reason = f"{why}; a server that changes its tools mid-session is not trusted"
        return self._deny(msg_id, rule, reason)

    def _error_decision(self, msg_id: Any, error: str) -> DecisionDict:
        rule = RuleRef(CLAUSE_UNJUDGEABLE, "MCP call could not be judged")
        reason = f"the gateway could not judge this call ({error}), so it was not run"
        return self._deny(msg_id, rule, reason, error=error)

    def _deny(
        self, msg_id: Any, rule: RuleRef, reason: str, *, error: str | None = None
    ) -> DecisionDict:
        """A gateway-made deny, built as the engine builds its decisions (same contract)."""
        return Decision(
            id=echoable_id(msg_id),
            decision_id=new_decision_id(),
            decision="deny",
            severity=Severity.high,
            rules=[rule],
            reason=reason,
            policy=self.guard.policy.name,
            error=error,
        ).to_dict()

    # -- server -> client ----------------------------------------------------------------------

    def from_server(self, raw: bytes | str) -> bool:
        """Record what matters in one server message; False when it answers the gateway itself."""
        try:
            message = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            return True  # not ours to judge: the client reports the broken server
        if not isinstance(message, dict):
            return True
        msg_id = message.get("id")
        if isinstance(msg_id, str) and msg_id.startswith(GATEWAY_ID_PREFIX):
            return False
        if message.get("method") == "notifications/tools/list_changed":
            self._alert({"record": "event", "event": "tools/list_changed notification"})
        first = self._listing_ids.pop(msg_id, None) if "method" not in message else None
        if first is not None and isinstance(message.get("result"), dict):
            self._on_listing(message["result"], first_page=first)
        return True

    def _on_listing(self, result: JsonObject, *, first_page: bool) -> None:
        change = self.tools.observe_page(result, first_page=first_page)
        if change:
            self._alert(
                {
                    "record": "alert",
                    "rule": CLAUSE_TOOLS_CHANGED,
                    "title": TOOLS_CHANGED_TITLE,
                    "attack": TOOLS_CHANGED_ATTACK,
                    "server": self.options.server_label,
                    "session": self.options.session,
                    "added": change.added,
                    "removed": change.removed,
                    "redefined": change.redefined,
                    "reason": f"the server's tools changed mid-session ({change.summary()})",
                }
            )

    # -- records -------------------------------------------------------------------------------

    def _record(self, decision: DecisionDict, action: JsonObject) -> None:
        self.decisions.append(decision)
        if self.log is not None:
            self.log.append(decision, action)

    def _alert(self, record: JsonObject) -> None:
        print(f"corral mcp-proxy: {json.dumps(record, default=str)}", file=self.alerts, flush=True)
        if self.log is not None:
            self.log.append(record)
