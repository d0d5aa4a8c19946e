"""Recognise framework and MCP tool calls that are really shell, file, HTTP or spend actions.

A ``bash`` tool is a shell, whatever the framework calls it: judging it as an opaque tool would
wave through exactly the commands Corral exists to stop.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_EXEC_NAMES = frozenset(
    [
        "bash",
        "shell",
        "sh",
        "zsh",
        "run_command",
        "run_shell_command",
        "execute_command",
        "exec",
        "execute",
        "terminal",
        "run_terminal_cmd",
        "run_in_terminal",
        "command",
        "cmd",
        "shell_exec",
        "local_shell",
        "computer_terminal",
        "run_bash",
        "bash_tool",
        "execute_bash",
        "run_shell",
        "container_exec",
    ]
)
_CODE_NAMES = frozenset(
    [
        "python",
        "run_python",
        "execute_python",
        "python_exec",
        "code_interpreter",
        "ipython",
        "run_code",
        "execute_code",
        "jupyter",
        "notebook_execute",
    ]
)
_WRITE_NAMES = frozenset(
    [
        "write_file",
        "create_file",
        "edit_file",
        "str_replace_editor",
        "str_replace_based_edit_tool",
        "write",
        "edit",
        "multiedit",
        "apply_patch",
        "save_file",
        "update_file",
        "replace_in_file",
        "insert_file",
        "append_file",
        "notebookedit",
        "create",
    ]
)
_READ_NAMES = frozenset(
    ["read_file", "view", "read", "cat", "open_file", "view_file", "get_file", "read_text"]
)
_DELETE_NAMES = frozenset(["delete_file", "remove_file", "rm", "unlink", "delete_path"])
_LIST_NAMES = frozenset(
    ["list_directory", "list_dir", "ls", "glob", "list_files", "directory_tree"]
)
_HTTP_NAMES = frozenset(
    [
        "fetch",
        "web_fetch",
        "webfetch",
        "http_request",
        "http_get",
        "http_post",
        "request",
        "browse",
        "open_url",
        "download",
        "navigate",
        "curl",
        "get_url",
        "fetch_url",
        "browser_navigate",
        "http",
    ]
)
_SPEND_NAMES = frozenset(
    [
        "pay",
        "send_payment",
        "make_payment",
        "charge",
        "create_charge",
        "purchase",
        "buy",
        "transfer",
        "send_money",
        "checkout",
        "tip",
        "withdraw",
        "create_payment",
        "payment",
        "place_order",
        "create_payment_intent",
    ]
)

_PATH_KEYS = ("path", "file_path", "filepath", "filename", "file", "target_file", "notebook_path")
_CONTENT_KEYS = ("content", "text", "new_string", "new_str", "file_text", "data", "patch")
_URL_KEYS = ("url", "uri", "href", "link", "endpoint")
_COMMAND_KEYS = ("command", "cmd", "script", "commands", "input")
_URL_IN_TEXT = re.compile(r"""https?://[^\s'"<>`]+""", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ToolMapping:
    """What a tool call really is: ``kind`` plus the fields of that kind of action."""

    kind: str
    fields: dict[str, Any]


def base_name(name: str) -> str:
    """``mcp__github__create_issue`` -> ``create_issue``; ``fs.write_file`` -> ``write_file``."""
    lowered = name.strip().lower()
    for sep in ("__", ".", "/", ":"):
        if sep in lowered:
            lowered = lowered.rsplit(sep, 1)[-1]
    return lowered.replace("-", "_")


def _first(args: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in args and args[key] not in (None, ""):
            return args[key]
    return None


def map_tool(name: str, args: dict[str, Any] | None) -> ToolMapping | None:
    """The real kind of a tool call, or None when it is an opaque tool."""
    args = args or {}
    base = base_name(name)
    if base in _EXEC_NAMES or base in _CODE_NAMES:
        return _map_exec(base, args)
    if base in _WRITE_NAMES | _READ_NAMES | _DELETE_NAMES | _LIST_NAMES:
        return _map_file(base, args)
    if base in _HTTP_NAMES:
        return _map_http(args)
    if base in _SPEND_NAMES and isinstance(args.get("amount"), int | float):
        return ToolMapping(
            "spend",
            {
                "amount": float(args["amount"]),
                "currency": str(args.get("currency") or "unknown"),
                "recipient": _str_or_none(_first(args, ("recipient", "to", "payee", "address"))),
                "purpose": _str_or_none(_first(args, ("purpose", "description", "memo"))),
                "account": _str_or_none(args.get("account")),
            },
        )
    return None


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _map_exec(base: str, args: dict[str, Any]) -> ToolMapping | None:
    if base in _CODE_NAMES:
        code = _first(args, ("code", "source", "script", "input"))
        if isinstance(code, str):
            return ToolMapping("exec", {"argv": ["python3", "-c", code]})
    command = _first(args, _COMMAND_KEYS)
    if isinstance(command, str):
        return ToolMapping("exec", {"command": command, "cwd": _str_or_none(args.get("cwd"))})
    if isinstance(command, list) and command and all(isinstance(p, str) for p in command):
        return ToolMapping("exec", {"argv": command, "cwd": _str_or_none(args.get("cwd"))})
    return None


def _map_file(base: str, args: dict[str, Any]) -> ToolMapping | None:
    path = _first(args, _PATH_KEYS)
    if not isinstance(path, str):
        return None
    if base in _WRITE_NAMES:
        op = "append" if base == "append_file" else "write"
    elif base in _READ_NAMES:
        op = "read"
    elif base in _DELETE_NAMES:
        op = "delete"
    else:
        op = "list"
    content = _first(args, _CONTENT_KEYS)
    if content is not None and not isinstance(content, str):
        content = json.dumps(content, default=str)
    return ToolMapping("file", {"op": op, "path": path, "content": content})


def _map_http(args: dict[str, Any]) -> ToolMapping | None:
    url = _first(args, _URL_KEYS)
    if not isinstance(url, str):
        return None
    method = str(args.get("method") or "GET").upper()
    body = _first(args, ("body", "data", "json", "payload"))
    headers = args.get("headers") if isinstance(args.get("headers"), dict) else None
    return ToolMapping("http", {"method": method, "url": url, "body": body, "headers": headers})


def urls_in(value: Any) -> list[str]:
    """URLs in the URL-like arguments of an opaque tool, so egress limits still apply to it."""
    if not isinstance(value, dict):
        return []
    found: list[str] = []
    for key in (*_URL_KEYS, "host", "base_url", "api_url", "webhook", "webhook_url"):
        item = value.get(key)
        if isinstance(item, str):
            found.extend(_URL_IN_TEXT.findall(item))
    return found
