"""Where a hook's actions get judged: in this process, or by a running ``corral serve``.

Asking a server that already holds the compiled policy answers in milliseconds; loading the
policy and rule library in a fresh process takes most of a second. The server judge falls back to
judging in-process when no server answers, so a stopped server slows the agent down but never
lets a call through unjudged.
"""

from __future__ import annotations

import http.client
import json
import sys
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from corral.integrations.agent_tools import Action
from corral.integrations.combine import DecisionDict
from corral.integrations.hooks import Judge, JudgeError

SERVER_TIMEOUT_S = 5.0


def local_judge(policy: str, workspace: Sequence[str]) -> Judge:
    """Judge in this process with :func:`corral.integrations.guard_factory.make_guard`."""

    def judge(actions: list[Action]) -> list[DecisionDict]:
        from corral.integrations.guard_factory import make_guard  # noqa: PLC0415 - lazy: only when judging here
        from corral.util.yamlfile import SourceError  # noqa: PLC0415 - lazy: only when judging here

        try:
            guard = make_guard(policy, workspace)
        except SourceError as exc:
            raise JudgeError(f"the policy cannot be loaded: {exc}") from exc
        return [guard.decide(action).to_dict() for action in actions]

    return judge


def server_judge(url: str, token: str | None, fallback: Judge) -> Judge:
    """Judge through ``POST {url}/v1/decide/batch``; ``fallback`` when the server is not there.

    A server that answers but refuses (401, 429, a malformed answer) is not fallen back from:
    that is a configuration problem the user must see, so the call is blocked with the reason.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise JudgeError(f"--server {url!r} is not an http(s) URL")

    def judge(actions: list[Action]) -> list[DecisionDict]:
        try:
            status, body = _post(parts.scheme, parts.hostname or "", parts.port, token, actions)
        except OSError as exc:
            print(f"corral: server {url} not reachable ({exc}); judging here", file=sys.stderr)
            return fallback(actions)
        if status != 200:
            raise JudgeError(f"the decision server {url} answered {status}: {body[:300]!r}")
        try:
            decisions = json.loads(body)["decisions"]
        except (ValueError, KeyError, TypeError) as exc:
            raise JudgeError(f"the decision server {url} sent an unreadable answer") from exc
        if not isinstance(decisions, list) or not all(isinstance(d, dict) for d in decisions):
            raise JudgeError(f"the decision server {url} sent an unreadable answer")
        return decisions

    return judge


def _post(
    scheme: str, host: str, port: int | None, token: str | None, actions: list[Action]
) -> tuple[int, bytes]:
    conn_type: Any = (
        http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    )
    conn = conn_type(host, port, timeout=SERVER_TIMEOUT_S)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request("POST", "/v1/decide/batch", json.dumps({"actions": actions}), headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()
