"""The decision API's OpenAPI 3.1 document, with the action schemas taken from the models."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from corral import __version__
from corral.api.errors import STATUS
from corral.model.actions import Action

_REF = "#/components/schemas/{model}"

DECISION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["decision", "severity", "reason", "policy", "decision_id", "rules"],
    "properties": {
        "id": {"type": ["string", "integer", "null"], "description": "The action's id, echoed."},
        "decision_id": {"type": "string"},
        "decision": {"type": "string", "enum": ["allow", "ask", "deny"]},
        "severity": {"type": "string", "enum": ["info", "low", "medium", "high", "critical"]},
        "rules": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "title", "attack"],
                "properties": {
                    "id": {"type": "string"},
                    "title": {"type": "string"},
                    "attack": {"type": "array", "items": {"type": "string"}},
                    "clause": {"type": "string"},
                },
            },
        },
        "reason": {"type": "string"},
        "policy": {"type": "string"},
        "error": {"type": "string", "description": "Present when the action could not be judged."},
        "session": {"type": "string"},
        "mode": {"type": "string"},
        "would_decide": {"type": "string"},
    },
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string", "enum": sorted(STATUS)},
        "message": {"type": "string"},
        "decision": {"$ref": "#/components/schemas/Decision"},
    },
}


_NUMBER = {"type": "number"}
_TEXT_OR_NULL = {"type": ["string", "null"]}
_COUNT = {"type": "integer", "minimum": 0}

SESSION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "actions", "denies", "asks", "risk", "quarantined"],
    "properties": {
        "id": {"type": "string"},
        "agent": _TEXT_OR_NULL,
        "first_ts": _NUMBER,
        "last_ts": _NUMBER,
        "actions": _COUNT,
        "denies": _COUNT,
        "asks": _COUNT,
        "risk": _NUMBER,
        "stage": _TEXT_OR_NULL,
        "quarantined": {"type": "boolean"},
        "quarantine_reason": _TEXT_OR_NULL,
        "released_ts": {"type": ["number", "null"]},
    },
}

ALERT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A Policy Violation alert, grouped by session and rule.",
    "required": ["id", "severity", "first_seen", "last_seen", "count"],
    "properties": {
        "id": {"type": "string"},
        "session": _TEXT_OR_NULL,
        "severity": {"type": "string", "enum": ["info", "low", "medium", "high", "critical"]},
        "first_seen": _NUMBER,
        "last_seen": _NUMBER,
        "count": {"type": "integer", "minimum": 1},
        "title": {"type": "string"},
        "kind": {"type": "string"},
        "decision": {"type": "string"},
        "reason": {"type": "string"},
        "rules": {"type": "array", "items": {"type": "object"}},
        "action": {"type": "object"},
    },
}

TIMELINE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["seq", "ts", "what", "decision", "rules"],
    "properties": {
        "seq": {"type": "integer"},
        "ts": _NUMBER,
        "kind": _TEXT_OR_NULL,
        "what": {"type": "string"},
        "decision": {"type": "string"},
        "rules": {"type": "array", "items": {"type": "string"}},
        "chain": _TEXT_OR_NULL,
        "off_task": {"type": "boolean"},
        "quarantined": {"type": "boolean"},
    },
}

APPROVAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "state", "summary", "created_at", "expires_at"],
    "properties": {
        "id": {"type": "string"},
        "state": {"type": "string", "enum": ["pending", "approved", "denied", "used", "expired"]},
        "summary": {"type": "string"},
        "created_at": _NUMBER,
        "expires_at": _NUMBER,
        "session": _TEXT_OR_NULL,
        "agent": _TEXT_OR_NULL,
        "decided_at": {"type": ["number", "null"]},
        "decided_by": _TEXT_OR_NULL,
        "reason": _TEXT_OR_NULL,
        "detail": {"type": "object"},
    },
}

_REASON = {
    "type": "string",
    "minLength": 5,
    "maxLength": 2000,
    "description": "Why (recorded with who decided). At least 5 characters that are not spaces.",
}


def _list_of(name: str, ref: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [name],
        "properties": {name: {"type": "array", "items": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def _state_schemas() -> dict[str, Any]:
    return {
        "Session": SESSION_SCHEMA,
        "Sessions": _list_of("sessions", "Session"),
        "SessionDetail": {
            "type": "object",
            "required": ["session", "timeline", "alerts", "events"],
            "properties": {
                "session": {"$ref": "#/components/schemas/Session"},
                "stages": {"type": "object", "additionalProperties": _NUMBER},
                "chains": {"type": "array"},
                "timeline": {"type": "array", "items": TIMELINE_SCHEMA},
                "alerts": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}},
                "events": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["session", "ts", "kind"],
                        "properties": {
                            "session": {"type": "string"},
                            "ts": _NUMBER,
                            "kind": {"type": "string", "enum": ["quarantine", "release"]},
                        },
                    },
                },
            },
        },
        "Release": {
            "type": "object",
            "required": ["reason"],
            "properties": {"reason": _REASON},
        },
        "Released": {
            "type": "object",
            "required": ["session", "released", "by", "reason"],
            "properties": {
                "session": {"type": "string"},
                "released": {"type": "boolean"},
                "by": {"type": "string"},
                "reason": {"type": "string"},
            },
        },
        "Alert": ALERT_SCHEMA,
        "Alerts": _list_of("alerts", "Alert"),
        "Approval": APPROVAL_SCHEMA,
        "Approvals": _list_of("approvals", "Approval"),
        "ApprovalAnswer": {
            "type": "object",
            "required": ["reason"],
            "properties": {
                "reason": _REASON,
                "valid_for": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 30 * 86400,
                    "default": 3600,
                    "description": "Seconds the agent has to retry the approved action.",
                },
            },
        },
    }


def _error_responses(*codes: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code in codes:
        out[str(STATUS[code])] = {"description": code, "content": _json("Error")}
    return out


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


def build_openapi(max_batch: int) -> dict[str, Any]:
    action_schema = TypeAdapter(Annotated[Action, Field(discriminator="kind")]).json_schema(
        ref_template=_REF
    )
    schemas: dict[str, Any] = dict(action_schema.pop("$defs", {}))
    schemas["Action"] = action_schema
    schemas["Decision"] = DECISION_SCHEMA
    schemas["Error"] = ERROR_SCHEMA
    schemas["Batch"] = {
        "type": "object",
        "required": ["actions"],
        "properties": {
            "actions": {
                "type": "array",
                "maxItems": max_batch,
                "items": {"type": "object", "description": "An action (see Action)."},
            }
        },
    }
    schemas.update(_state_schemas())
    schemas["Decisions"] = {
        "type": "object",
        "required": ["decisions"],
        "properties": {
            "decisions": {"type": "array", "items": {"$ref": "#/components/schemas/Decision"}}
        },
    }
    common = _error_responses("unauthorized", "request_too_large", "rate_limited")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Corral decision API",
            "version": __version__,
            "description": "Judge agent actions against a least-privilege policy; fails closed.",
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}, {}],
        "paths": {
            "/v1/decide": _post(
                "decide",
                "Judge one action",
                "Action",
                answer="Decision",
                answer_text="The decision",
                errors={**_error_responses("invalid_parameter"), **common},
            ),
            "/v1/decide/batch": _post(
                "decideBatch",
                "Judge several actions, in order",
                "Batch",
                answer="Decisions",
                answer_text="Decisions in order",
                errors={**_error_responses("invalid_parameter"), **common},
            ),
            "/healthz": {
                "get": {
                    "summary": "Liveness and the loaded policy",
                    "operationId": "healthz",
                    "security": [{}],
                    "responses": {"200": {"description": "Serving"}},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "operationId": "metrics",
                    "responses": {
                        "200": {
                            "description": "Prometheus text format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        **_error_responses("unauthorized", "rate_limited"),
                    },
                }
            },
            **_state_paths(common),
        },
    }


def _param(name: str, where: str, schema: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "schema": schema,
        "description": text,
    }


_LIMIT = {"type": "integer", "minimum": 1, "maximum": 1000}
_SESSION_ID = _param("session_id", "path", {"type": "string"}, "The session's id.")
_APPROVAL_ID = _param("approval_id", "path", {"type": "string"}, "The approval's id (ap-...).")


def _get(op_id: str, summary: str, answer: str, params: list[dict[str, Any]], errors: Any) -> Any:
    return {
        "get": {
            "summary": summary,
            "operationId": op_id,
            "parameters": params,
            "responses": {"200": {"description": summary, "content": _json(answer)}, **errors},
        }
    }


def _post(
    op_id: str,
    summary: str,
    body: str,
    *,
    answer: str,
    errors: Any,
    param: Any = None,
    answer_text: str | None = None,
) -> Any:
    """A POST taking the JSON body ``body`` and answering ``answer`` (200) or ``errors``."""
    operation: dict[str, Any] = {"summary": summary, "operationId": op_id}
    if param is not None:
        operation["parameters"] = [param]
    operation["requestBody"] = {"required": True, "content": _json(body)}
    ok = {"description": answer_text or summary, "content": _json(answer)}
    operation["responses"] = {"200": ok, **errors}
    return {"post": operation}


def _state_paths(common: dict[str, Any]) -> dict[str, Any]:
    """Sessions, alerts and approvals; every one needs the bearer token when one is set."""
    reads = {**_error_responses("invalid_parameter", "unavailable"), **common}
    one = {**reads, **_error_responses("resource_not_found")}
    change = {**one, **_error_responses("resource_conflict")}
    limit = _param("limit", "query", _LIMIT, "How many, most recent first.")
    severity = {"type": "string", "enum": ["info", "low", "medium", "high", "critical"]}
    states = ["pending", "approved", "denied", "used", "expired", "all"]
    alert_params = [
        _param(
            "since",
            "query",
            {"type": "string"},
            "Only alerts seen since: a duration (30m, 2h, 1d), an RFC 3339 time or epoch seconds.",
        ),
        _param("severity", "query", severity, "Only alerts of this severity or higher."),
        _param("session", "query", {"type": "string"}, "Only this session's alerts."),
        limit,
    ]
    state = _param("state", "query", {"type": "string", "enum": states}, "Default: pending.")
    return {
        "/v1/sessions": _get(
            "listSessions", "Sessions, most recent first", "Sessions", [limit], reads
        ),
        "/v1/sessions/{session_id}": _get(
            "showSession",
            "One session: state, timeline, alerts, events",
            "SessionDetail",
            [_SESSION_ID, limit],
            one,
        ),
        "/v1/sessions/{session_id}/release": _post(
            "releaseSession",
            "Release a quarantined session (recorded: who, why)",
            "Release",
            answer="Released",
            param=_SESSION_ID,
            errors=change,
        ),
        "/v1/alerts": _get("listAlerts", "Policy Violation alerts", "Alerts", alert_params, reads),
        "/v1/approvals": _get("listApprovals", "Approvals", "Approvals", [state], reads),
        "/v1/approvals/{approval_id}/approve": _post(
            "approve",
            "Approve: the agent's next retry of that action may run",
            "ApprovalAnswer",
            answer="Approval",
            param=_APPROVAL_ID,
            errors=change,
        ),
        "/v1/approvals/{approval_id}/deny": _post(
            "deny",
            "Deny: the agent's retries of that action are denied",
            "ApprovalAnswer",
            answer="Approval",
            param=_APPROVAL_ID,
            errors=change,
        ),
    }
