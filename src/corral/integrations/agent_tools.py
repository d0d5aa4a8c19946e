"""Coding agents' built-in tools as the actions of the contract.

Each agent names its tools and their arguments its own way (Claude Code ``Bash``/``Write``, Codex
``Bash``/``apply_patch``, Gemini CLI ``run_shell_command``/``write_file``). A tool this module does
not know (MCP tools ``mcp__server__tool`` among them) becomes a ``tool`` action, which the guard
maps through :mod:`corral.analysis.tools`, so a ``bash``-like MCP tool is still judged as a shell.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

Action = dict[str, Any]
ToolMapper = Callable[[dict[str, Any], str | None], list[Action]]

_URL = re.compile(r"""https?://[^\s'"<>`)\]]+""", re.IGNORECASE)
_PATCH_FILE = re.compile(r"^\*\*\* (Add|Update|Delete) File: (.+)$")
_PATCH_MOVE = re.compile(r"^\*\*\* Move to: (.+)$")


class UnjudgeableCall(ValueError):
    """A known tool whose arguments cannot be read; the hook blocks it rather than guess."""


def _text(args: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = args.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _required(args: dict[str, Any], tool: str, *keys: str) -> str:
    value = _text(args, *keys)
    if value is None:
        raise UnjudgeableCall(f"the {tool} call has no {' or '.join(repr(k) for k in keys)}")
    return value


def _under(cwd: str | None, path: str | None) -> str | None:
    """``path`` made absolute against ``cwd`` when it is relative (a tool's own directory)."""
    if path is None or cwd is None or os.path.isabs(path):
        return path or cwd
    return os.path.join(cwd, path)


def exec_action(command: Any, cwd: str | None) -> Action:
    if isinstance(command, list) and command and all(isinstance(p, str) for p in command):
        return {"kind": "exec", "argv": command, "cwd": cwd}
    if isinstance(command, str) and command:
        return {"kind": "exec", "command": command, "cwd": cwd}
    raise UnjudgeableCall("the shell call has no command (a string or a list of strings)")


def file_action(op: str, path: str, cwd: str | None, content: str | None = None) -> Action:
    action: Action = {"kind": "file", "op": op, "path": path, "cwd": cwd}
    if content is not None:
        action["content"] = content
    return action


def http_get(url: str) -> Action:
    return {"kind": "http", "method": "GET", "url": url}


def opaque_tool(name: str, args: dict[str, Any]) -> Action:
    return {"kind": "tool", "name": name, "args": args}


# -- Claude Code (and Codex, which names its shell tool the same way) ----------------------------


def _claude_bash(args: dict[str, Any], cwd: str | None) -> list[Action]:
    return [exec_action(args.get("command"), cwd)]


def _claude_write(args: dict[str, Any], cwd: str | None) -> list[Action]:
    path = _required(args, "Write", "file_path")
    return [file_action("write", path, cwd, _text(args, "content") or "")]


def _claude_edit(args: dict[str, Any], cwd: str | None) -> list[Action]:
    path = _required(args, "Edit", "file_path")
    return [file_action("write", path, cwd, _text(args, "new_string") or "")]


def _claude_multi_edit(args: dict[str, Any], cwd: str | None) -> list[Action]:
    path = _required(args, "MultiEdit", "file_path")
    edits = args.get("edits")
    items: list[Any] = edits if isinstance(edits, list) else []
    new = [e["new_string"] for e in items if isinstance(e, dict) and "new_string" in e]
    return [file_action("write", path, cwd, "\n".join(str(n) for n in new))]


def _claude_notebook(args: dict[str, Any], cwd: str | None) -> list[Action]:
    path = _required(args, "NotebookEdit", "notebook_path")
    return [file_action("write", path, cwd, _text(args, "new_source") or "")]


def _claude_read(args: dict[str, Any], cwd: str | None) -> list[Action]:
    return [file_action("read", _required(args, "Read", "file_path"), cwd)]


def _search_in(op: str, keys: tuple[str, ...]) -> ToolMapper:
    """Glob/Grep/LS-like tools: they look inside a directory (the agent's cwd if none is named)."""

    def mapper(args: dict[str, Any], cwd: str | None) -> list[Action]:
        path = _under(cwd, _text(args, *keys))
        if path is None:
            raise UnjudgeableCall("the search names no directory and the call has no cwd")
        return [file_action(op, path, cwd)]

    return mapper


def _web_fetch(args: dict[str, Any], cwd: str | None) -> list[Action]:
    return [http_get(_required(args, "WebFetch", "url"))]


CLAUDE_TOOLS: dict[str, ToolMapper] = {
    "Bash": _claude_bash,
    "Write": _claude_write,
    "Edit": _claude_edit,
    "MultiEdit": _claude_multi_edit,
    "NotebookEdit": _claude_notebook,
    "Read": _claude_read,
    "Glob": _search_in("list", ("path",)),
    "Grep": _search_in("read", ("path",)),
    "LS": _search_in("list", ("path",)),
    "WebFetch": _web_fetch,
}

# -- Codex ---------------------------------------------------------------------------------------


def _codex_shell(args: dict[str, Any], cwd: str | None) -> list[Action]:
    return [exec_action(args.get("command"), _under(cwd, _text(args, "workdir")) or cwd)]


def patch_files(patch: str, cwd: str | None) -> list[Action]:
    """The files a Codex ``apply_patch`` envelope adds, changes, moves or deletes."""
    actions: list[Action] = []
    current: Action | None = None
    for line in patch.splitlines():
        header = _PATCH_FILE.match(line)
        moved = _PATCH_MOVE.match(line)
        if header:
            op = "delete" if header.group(1) == "Delete" else "write"
            current = file_action(op, header.group(2).strip(), cwd, None if op == "delete" else "")
            actions.append(current)
        elif moved:
            current = file_action("write", moved.group(1).strip(), cwd, "")
            actions.append(current)
        elif current is not None and current["op"] == "write" and line.startswith("+"):
            current["content"] += line[1:] + "\n"
    if not actions:
        raise UnjudgeableCall("the patch names no file (no '*** Add/Update/Delete File:' line)")
    return actions


def _codex_apply_patch(args: dict[str, Any], cwd: str | None) -> list[Action]:
    patch: Any = args.get("input") or args.get("patch") or args.get("command")
    if isinstance(patch, list):  # ["apply_patch", "*** Begin Patch ..."]
        patch = next((p for p in reversed(patch) if isinstance(p, str) and "***" in p), None)
    if not isinstance(patch, str):
        raise UnjudgeableCall("the apply_patch call carries no patch text")
    return patch_files(patch, cwd)


CODEX_TOOLS: dict[str, ToolMapper] = {
    **CLAUDE_TOOLS,
    "Bash": _codex_shell,
    "shell": _codex_shell,
    "local_shell": _codex_shell,
    "exec_command": _codex_shell,
    "apply_patch": _codex_apply_patch,
}

# -- Gemini CLI ----------------------------------------------------------------------------------


def _gemini_shell(args: dict[str, Any], cwd: str | None) -> list[Action]:
    where = _under(cwd, _text(args, "dir_path", "directory")) or cwd
    return [exec_action(args.get("command"), where)]


def _gemini_write(args: dict[str, Any], cwd: str | None) -> list[Action]:
    path = _required(args, "write_file", "file_path", "path")
    return [file_action("write", path, cwd, _text(args, "content") or "")]


def _gemini_replace(args: dict[str, Any], cwd: str | None) -> list[Action]:
    path = _required(args, "replace", "file_path", "path")
    return [file_action("write", path, cwd, _text(args, "new_string") or "")]


def _gemini_read(args: dict[str, Any], cwd: str | None) -> list[Action]:
    path = _required(args, "read_file", "file_path", "absolute_path", "path")
    return [file_action("read", path, cwd)]


def _gemini_read_many(args: dict[str, Any], cwd: str | None) -> list[Action]:
    paths = args.get("paths") or args.get("include")
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths) or not paths:
        raise UnjudgeableCall("the read_many_files call has no 'paths' list")
    return [file_action("read", path, cwd) for path in paths]


def _gemini_fetch(args: dict[str, Any], cwd: str | None) -> list[Action]:
    text = _text(args, "url", "prompt") or ""
    urls = _URL.findall(text)
    return [http_get(url) for url in urls] or [opaque_tool("web_fetch", args)]


GEMINI_TOOLS: dict[str, ToolMapper] = {
    "run_shell_command": _gemini_shell,
    "write_file": _gemini_write,
    "replace": _gemini_replace,
    "read_file": _gemini_read,
    "read_many_files": _gemini_read_many,
    "list_directory": _search_in("list", ("dir_path", "path")),
    "glob": _search_in("list", ("dir_path", "path")),
    "search_file_content": _search_in("read", ("dir_path", "path")),
    "grep_search": _search_in("read", ("dir_path", "path")),
    "web_fetch": _gemini_fetch,
}

AGENT_TOOLS: dict[str, dict[str, ToolMapper]] = {
    "claude-code": CLAUDE_TOOLS,
    "codex": CODEX_TOOLS,
    "gemini": GEMINI_TOOLS,
}


def tool_actions(
    agent: str, tool_name: str, tool_input: dict[str, Any], cwd: str | None
) -> list[Action]:
    """The actions one agent tool call performs (at least one); raises UnjudgeableCall."""
    mapper = AGENT_TOOLS[agent].get(tool_name)
    if mapper is None:
        return [opaque_tool(tool_name, tool_input)]
    actions = mapper(tool_input, cwd)
    for action in actions:  # an absent cwd is not a field the contract wants as null
        if action.get("cwd") is None:
            action.pop("cwd", None)
    return actions
