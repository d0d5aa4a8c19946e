"""Path normalisation and tool-call recognition."""

from __future__ import annotations

import pytest

from corral.analysis.paths import normalize_path
from corral.analysis.tools import base_name, map_tool


@pytest.mark.parametrize(
    ("raw", "cwd", "expected"),
    [
        ("~/.ssh/id_rsa", None, "~/.ssh/id_rsa"),
        ("$HOME/.aws/credentials", "/x", "~/.aws/credentials"),
        ("${HOME}/.kube//config", None, "~/.kube/config"),
        ("/etc/../etc/./shadow", None, "/etc/shadow"),
        ("//etc/passwd", None, "/etc/passwd"),
        ("a/../../b", "/workspace/src", "/workspace/b"),
        ("notes.txt", None, "notes.txt"),
        ("~", None, "~"),
    ],
)
def test_normalize_path(raw: str, cwd: str | None, expected: str) -> None:
    assert normalize_path(raw, cwd) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mcp__github__create_issue", "create_issue"),
        ("fs.write_file", "write_file"),
        ("Run-Command", "run_command"),
    ],
)
def test_base_name(name: str, expected: str) -> None:
    assert base_name(name) == expected


def test_map_tool_kinds() -> None:
    shell = map_tool("Bash", {"command": "ls"})
    assert shell is not None and shell.kind == "exec" and shell.fields["command"] == "ls"
    code = map_tool("code_interpreter", {"code": "print(1)"})
    assert code is not None and code.fields["argv"] == ["python3", "-c", "print(1)"]
    write = map_tool("Edit", {"file_path": "/w/a.py", "new_string": "x"})
    assert write is not None and write.kind == "file" and write.fields["op"] == "write"
    fetch = map_tool("mcp__web__fetch", {"url": "https://pypi.org"})
    assert fetch is not None and fetch.kind == "http" and fetch.fields["method"] == "GET"
    pay = map_tool("send_payment", {"amount": 3, "to": "x"})
    assert pay is not None and pay.kind == "spend" and pay.fields["currency"] == "unknown"
    assert map_tool("send_payment", {"amount": "lots"}) is None
    assert map_tool("search", {"q": "ssh -R"}) is None
