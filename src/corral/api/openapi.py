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


def _error_responses(*codes: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code in codes:
        out[str(STATUS[code])] = {
            "description": code,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
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
            "/v1/decide": {
                "post": {
                    "summary": "Judge one action",
                    "operationId": "decide",
                    "requestBody": {"required": True, "content": _json("Action")},
                    "responses": {
                        "200": {"description": "The decision", "content": _json("Decision")},
                        **_error_responses("invalid_parameter"),
                        **common,
                    },
                }
            },
            "/v1/decide/batch": {
                "post": {
                    "summary": "Judge several actions, in order",
                    "operationId": "decideBatch",
                    "requestBody": {"required": True, "content": _json("Batch")},
                    "responses": {
                        "200": {"description": "Decisions in order", "content": _json("Decisions")},
                        **_error_responses("invalid_parameter"),
                        **common,
                    },
                }
            },
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
        },
    }
