"""The string-level pieces of the shell analyser: quoting, escapes, braces, printf, params."""

from __future__ import annotations

import pytest

from corral.analysis.shell import params
from corral.analysis.shell.printf import echo, printf
from corral.analysis.shell.repair import join_lines, repair
from corral.analysis.shell.words import (
    LITERAL,
    SPLIT,
    ansi_c,
    brace_expand,
    fields_of,
    strip_quotes,
    unescape_dquoted,
    unescape_unquoted,
)
from corral.analysis.shell.wrappers import shell_call, skip_options, ssh_host, unwrap


def test_unescape() -> None:
    assert unescape_unquoted("\\s\\s\\h") == "ssh"
    assert unescape_unquoted("a\\\nb") == "ab"
    assert unescape_unquoted("a\\\\b") == "a\\b"
    assert unescape_dquoted('a\\"b\\$c\\d') == 'a"b$c\\d'
    assert strip_quotes("'E'\"O\"\\F") == "EOF"


@pytest.mark.parametrize(
    ("body", "value"),
    [
        ("\\x73\\x73\\x68", "ssh"),
        ("\\163\\163\\150", "ssh"),
        ("\\u0073sh", "ssh"),
        ("\\U00000073sh", "ssh"),
        ("a\\nb\\tc", "a\nb\tc"),
        ("it\\'s", "it's"),
        ("\\cA", "\x01"),
        ("\\q", "\\q"),
        ("\\UFFFFFFFF", "\ufffd"),
    ],
)
def test_ansi_c(body: str, value: str) -> None:
    assert ansi_c(body) == value


@pytest.mark.parametrize(
    ("word", "fields"),
    [
        ("a{b,c}d", ["abd", "acd"]),
        ("{1..3}", ["1", "2", "3"]),
        ("{3..1}", ["3", "2", "1"]),
        ("{01..03}", ["01", "02", "03"]),
        ("{a..c}", ["a", "b", "c"]),
        ("{1..10..5}", ["1", "6"]),
        ("{a,b{c,d}}", ["a", "bc", "bd"]),
        ("{a}", ["{a}"]),
        ("{}", ["{}"]),
        ("\\{a,b}", ["\\{a,b}"]),
        ("x{,y}", ["x", "xy"]),
    ],
)
def test_brace_expand(word: str, fields: list[str]) -> None:
    assert brace_expand(word) == fields


def test_brace_expand_is_bounded() -> None:
    assert brace_expand("{a,b}" * 20) is None
    assert brace_expand("{1..1000000}") == ["{1..1000000}"]


def test_field_splitting() -> None:
    assert fields_of([("a", LITERAL), (" x  y ", SPLIT), ("b", LITERAL)]) == ["a", "x", "y", "b"]
    assert fields_of([("a", LITERAL), ("x y", SPLIT), ("b", LITERAL)]) == ["ax", "yb"]
    assert fields_of([("", SPLIT)]) == []
    assert fields_of([("", LITERAL)]) == [""]
    assert fields_of([("p", LITERAL), (("1", "2 3"), LITERAL), ("s", LITERAL)]) == [
        "p1",
        "2 3s",
    ]


@pytest.mark.parametrize(
    ("fmt", "args", "out", "decoded"),
    [
        ("\\x73\\x73\\x68", [], "ssh", True),
        ("\\163\\163\\150", [], "ssh", True),
        ("%s-%s\\n", ["a", "b", "c"], "a-b\nc-\n", False),
        ("%b", ["\\x73\\0163h"], "ssh", True),
        ("%c%c%c", ["sx", "s", "h"], "ssh", False),
        ("%d %x %o %5.2f", ["10", "255", "8", "3.14159"], "10 ff 10  3.14", False),
        ("%%%s", ["x"], "%x", False),
        ("%03d", ["'A"], "065", False),
        ("%-4s|", ["ab"], "ab  |", False),
        ("%*s", ["3", "x"], "  x", False),
    ],
)
def test_printf(fmt: str, args: list[str], out: str, decoded: bool) -> None:
    assert printf(fmt, args, 10_000) == (out, decoded)


def test_printf_refuses_what_it_cannot_know() -> None:
    assert printf("%d", ["abc"], 100) is None
    assert printf("%999999999s", ["x"], 100) is None
    assert printf("%s", ["x" * 200], 100) is None
    assert printf("%s", ["x"] * 1000, 10_000) is None


def test_echo() -> None:
    assert echo(["a", "b"]) == ("a b\n", False)
    assert echo(["-n", "a"]) == ("a", False)
    assert echo(["-e", "\\x73\\x73\\x68"]) == ("ssh\n", True)
    assert echo(["-ne", "a\\cb"]) == ("a", False)
    assert echo(["-x", "a"]) == ("-x a\n", False)
    assert echo(["-E", "\\x73"]) == ("\\x73\n", False)


@pytest.mark.parametrize(
    ("value", "op", "pattern", "result"),
    [
        ("a/b/c", "#", "*/", "b/c"),
        ("a/b/c", "##", "*/", "c"),
        ("x.tar.gz", "%", ".*", "x.tar"),
        ("x.tar.gz", "%%", ".*", "x"),
        ("xxssh", "#", "xx", "ssh"),
        ("sshd", "%", "d", "ssh"),
    ],
)
def test_remove_affix(value: str, op: str, pattern: str, result: str) -> None:
    assert params.remove_affix(value, op, pattern) == result


def test_param_operations() -> None:
    assert params.replace("sXsXh", "//", "X", "") == "ssh"
    assert params.replace("sXsXh", "/", "X", "") == "ssXh"
    assert params.replace("abc", "/#", "a", "s") == "sbc"
    assert params.replace("abc", "/%", "c", "z") == "abz"
    assert params.replace("a1b2", "//", "[0-9]", "") == "ab"
    assert params.change_case("SsH", ",,") == "ssh"
    assert params.change_case("ssh", "^") == "Ssh"
    assert params.substring("xsshy", "1", "3") == "ssh"
    assert params.substring("xssh", "-3", None) == "ssh"
    assert params.substring("x", "a", None) is None
    assert params.transform("\\x73sh", "E") == "ssh"
    assert params.transform("a'b", "Q") == "'a'\\''b'"


def test_join_lines() -> None:
    assert join_lines("s\\\nsh -R x") == "ssh -R x"
    assert join_lines("echo 'a\\\nb'") == "echo 'a\\\nb'"
    assert join_lines('echo "a\\\nb"') == 'echo "ab"'
    assert join_lines("cat <<'E'\na\\\nb\nE\nx\\\ny") == "cat <<'E'\na\\\nb\nE\nxy"
    assert join_lines("ls") == "ls"


def test_repair() -> None:
    fixed = repair("cat <<EOF | sh &\nbody\nEOF\nls")
    assert fixed is not None
    assert fixed.text == "cat <<< __corral_heredoc_0__ | sh &\nls"
    assert fixed.heredocs["__corral_heredoc_0__"].body == "body\n"
    rw = repair("exec 3<>/dev/tcp/h/1")
    assert rw is not None and rw.text == "exec 3>|/dev/tcp/h/1" and rw.readwrite == {6}
    braces = repair("{ssh,-R,x} ; { ls; }")
    assert braces is not None and braces.text == "''{ssh,-R,x} ; { ls; }"
    assert repair("ls") is None


def test_shell_call() -> None:
    call = shell_call(["-lc", "ls", "name", "a"])
    assert (call.command, call.positional) == ("ls", ["name", "a"])
    assert shell_call(["-o", "pipefail", "-c", "ls"]).command == "ls"
    assert shell_call(["--rcfile", "x", "-c", "ls"]).command == "ls"
    assert shell_call(["script.sh", "a"]).script_file == "script.sh"
    assert shell_call([]).reads_stdin
    assert shell_call(["-s", "a"]).reads_stdin
    assert shell_call(["-"]).reads_stdin
    assert shell_call(["-c"]).command is None


def test_skip_options_and_ssh_host() -> None:
    assert skip_options(["-fNR", "1:h:2", "host", "cmd"], "R") == 2
    assert skip_options(["-R1:h:2", "host"], "R") == 1
    assert skip_options(["--signal", "KILL", "5", "x"], "", frozenset({"--signal"})) == 2
    assert skip_options(["--", "-x"]) == 1
    assert ssh_host(["-p", "22", "-o", "A=b", "u@h", "ls"]) == ("u@h", 5)
    assert ssh_host(["-v"]) == (None, 1)
    assert unwrap("ls", ["-la"]) == []
