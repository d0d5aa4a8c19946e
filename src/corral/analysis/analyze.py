"""Turn any action into an :class:`Analysis`: the single door from the model to the facts."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from corral.analysis.content import CONTENT_ORIGIN, analyze_content
from corral.analysis.facts import Analysis, FileAccess, HttpFacts, NetTarget, SpendFacts, ToolFacts
from corral.analysis.paths import normalize_path
from corral.analysis.shell import ShellLimits, analyze_argv, analyze_command_line
from corral.analysis.tools import map_tool, urls_in
from corral.model.actions import (
    Action,
    ExecAction,
    FileAction,
    HttpAction,
    NetAction,
    SpendAction,
    ToolAction,
    parse_action,
)

DEFAULT_LIMITS = ShellLimits()
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21, "ssh": 22}
_MAX_TEXT = 256 * 1024


def analyze(action: Action, limits: ShellLimits = DEFAULT_LIMITS) -> Analysis:
    """Facts about ``action``; ``kind`` is what it really is (a bash tool is ``exec``)."""
    if isinstance(action, ExecAction):
        return _exec(action, "exec", limits)
    if isinstance(action, FileAction):
        return _file(action, "file", limits)
    if isinstance(action, NetAction):
        return _net(action)
    if isinstance(action, HttpAction):
        return _http(action, "http")
    if isinstance(action, SpendAction):
        return _spend(action, "spend")
    return _tool(action, limits)


def _exec(action: ExecAction, declared: str, limits: ShellLimits) -> Analysis:
    result = Analysis(kind="exec", declared_kind=declared)
    if action.argv is not None:
        _merge(result, analyze_argv(list(action.argv), cwd=action.cwd, limits=limits))
    if action.command is not None:
        _merge(result, analyze_command_line(action.command, cwd=action.cwd, limits=limits))
    _judge_written_content(result, limits)
    return result


def _judge_written_content(result: Analysis, limits: ShellLimits) -> None:
    """Content a command writes (``echo ... >> ~/.bashrc``, a heredoc to ``run.sh``) is judged
    by the file's type, exactly as a file-write action with that content would be."""
    for access in list(result.files):
        written = access.op in ("write", "append")
        if written and access.content and not access.source.startswith(CONTENT_ORIGIN):
            analyze_content(access.path, access.content, result, limits)


def _merge(into: Analysis, part: Analysis) -> None:
    into.commands.extend(part.commands)
    into.targets.extend(part.targets)
    into.files.extend(part.files)
    into.code.extend(part.code)
    into.payloads.extend(part.payloads)
    into.texts.extend(part.texts)
    into.problems.extend(part.problems)


def _file(action: FileAction, declared: str, limits: ShellLimits) -> Analysis:
    content = action.content
    if action.op == "chmod" and action.mode is not None:
        content = str(action.mode)
    path = normalize_path(action.path, action.cwd)
    access = FileAccess(path=path, op=action.op, source="file", content=content)
    result = Analysis(kind="file", declared_kind=declared, files=[access], texts=[path])
    if content and action.op in ("write", "append"):
        analyze_content(path, content, result, limits)
    elif content:
        result.texts.append(content[:_MAX_TEXT])
    return result


def _net(action: NetAction) -> Analysis:
    host = action.host.strip().strip("[]").lower().rstrip(".")
    target = NetTarget(
        host=host, port=action.port, source="net", direction=action.direction, proto=action.proto
    )
    return Analysis(
        kind="net", declared_kind="net", targets=[target], texts=[f"{host}:{action.port}"]
    )


def url_target(url: str, source: str) -> NetTarget | None:
    """A NetTarget for an absolute URL, or None when it has no host."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:
        return None
    if not host:
        return None
    scheme = parts.scheme.lower() or None
    if port is None and scheme:
        port = DEFAULT_PORTS.get(scheme)
    return NetTarget(host=host.lower(), port=port, scheme=scheme, url=url, source=source)


def _http(action: HttpAction, declared: str) -> Analysis:
    result = Analysis(kind="http", declared_kind=declared)
    body = (
        action.body if isinstance(action.body, str) or action.body is None else _dump(action.body)
    )
    headers = dict(action.headers or {})
    target = url_target(action.url, "http")
    if target is None:
        result.problems.append(f"the URL {action.url[:200]!r} has no host Corral can check")
        host, path = "", ""
    else:
        result.targets.append(target)
        host, path = target.host, urlsplit(action.url).path
    result.http = HttpFacts(
        method=action.method.upper(),
        url=action.url,
        host=host,
        path=path,
        headers=headers,
        body=(body or "")[:_MAX_TEXT],
    )
    result.texts.extend([action.url, *headers.values(), (body or "")[:_MAX_TEXT]])
    return result


def _dump(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def _spend(action: SpendAction, declared: str) -> Analysis:
    facts = SpendFacts(
        amount=action.amount,
        currency=action.currency.upper(),
        account=action.account,
        purpose=action.purpose,
        recipient=action.recipient,
    )
    texts = [t for t in (action.recipient, action.purpose) if t]
    return Analysis(kind="spend", declared_kind=declared, spend=facts, texts=texts)


def _tool(action: ToolAction, limits: ShellLimits) -> Analysis:
    args_text = _dump(action.args or {})[:_MAX_TEXT]
    mapping = map_tool(action.name, action.args)
    tool = ToolFacts(name=action.name, args_text=args_text)
    if mapping is None:
        result = Analysis(kind="tool", declared_kind="tool", tool=tool)
        for url in urls_in(action.args):
            target = url_target(url, f"tool {action.name}")
            if target is not None:
                result.targets.append(target)
        result.texts.extend([action.name, args_text])
        return result
    inner = parse_action(
        {"kind": mapping.kind, **{k: v for k, v in mapping.fields.items() if v is not None}}
    )
    if isinstance(inner, ToolAction):  # mapping never yields a tool, but keep the recursion honest
        raise ValueError("a tool mapping must not map to another tool")
    result = analyze(inner, limits)
    result.declared_kind = "tool"
    result.tool = tool
    result.texts.append(action.name)
    return result
