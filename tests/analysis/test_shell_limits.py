"""Fail closed and bounded: what the analyser cannot read becomes a problem (its speed on
these inputs is measured in bench/, not asserted here)."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest
from shell_support import analyze

from corral.analysis import programs
from corral.analysis.shell import ShellLimits, analyze_argv, analyze_command_line


def test_over_the_size_limit() -> None:
    line = "a" * (1024 * 1024)
    result = analyze(line)
    assert result.problems == ["command line is 1048576 bytes, over the 262144-byte analysis limit"]
    assert result.commands == []


def test_size_counts_utf8_bytes() -> None:
    result = analyze_command_line("é" * 200, limits=ShellLimits(max_bytes=300))
    assert result.problems == ["command line is 400 bytes, over the 300-byte analysis limit"]


@pytest.mark.parametrize(
    "line",
    [
        "echo " + "$(" * 100 + "ls" + ")" * 100,
        "( " * 100 + "ls" + " )" * 100,
        "{ " * 100 + "ls; " + "}; " * 100,
        "bash -c 'bash -c ls'",  # shallow: no problem expected
        "if a; then " * 100 + "ls; " + "fi; " * 100,
        "echo " + '"$(' * 100 + "ls" + ')"' * 100,
    ],
)
def test_deep_nesting_is_bounded(line: str) -> None:
    result = analyze(line)
    if line.startswith("bash -c"):
        assert result.problems == []
    else:
        assert any("nests deeper than 24 levels" in p for p in result.problems), result.problems


def test_nested_payloads_are_bounded() -> None:
    line = "ssh -R 80:h:22 u@e"
    for _ in range(26):
        line = f"echo {base64.b64encode(line.encode()).decode()} | base64 -d | sh"
    result = analyze(line)
    assert any("decoded payloads exceed" in p for p in result.problems)


def test_nested_heredocs_are_bounded() -> None:
    line = "ssh -R 80:h:22 u@e"
    for level in range(30):
        line = f"sh <<'E{level}'\n{line}\nE{level}"
    result = analyze(line)
    assert any("deeper than 24" in p for p in result.problems)
    assert [c.program for c in result.commands] == ["sh"] * 25


def test_self_evaluating_eval_is_bounded() -> None:
    result = analyze("a='eval $a'; eval $a")
    assert any("deeper than 24" in p for p in result.problems)


def test_too_many_commands() -> None:
    result = analyze("a;" * 2500)
    assert len(result.commands) == 2000
    assert "the command line runs more than 2000 commands; Corral stopped reading there" in (
        result.problems
    )


def test_loop_bodies_do_not_multiply_without_bound() -> None:
    line = "for a in 1 2 3 4; do " * 8 + "x" + "; done" * 8
    result = analyze(line)
    assert result.problems == []
    assert len(result.commands) < 100


def test_variable_growth_is_bounded() -> None:
    line = "a=xxxxxxxxxxxxxxxx; " + "a=$a$a; " * 40 + "echo $a"
    result = analyze(line)
    assert any("grows past the 262144-byte" in p for p in result.problems)


def test_expansion_total_is_bounded() -> None:
    line = "a=" + "x" * 200_000 + "; echo " + "$a " * 30
    result = analyze(line)
    assert any("expanded words exceed" in p for p in result.problems)


def test_brace_bomb_is_bounded() -> None:
    result = analyze("echo " + "{a,b}" * 40)
    assert result.problems == []
    assert result.commands[0].unresolved


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("ls )", "could not parse the command near byte 3: ')'"),
        ("echo 'unterminated", "could not parse the command near byte 4"),
        ("ls |", "could not parse the command near byte"),
        ("bash -c 'ls )'", "could not parse the command run by bash -c near byte 3: ')'"),
    ],
)
def test_syntax_errors_are_problems(line: str, problem: str) -> None:
    result = analyze(line)
    assert any(p.startswith(problem) for p in result.problems), result.problems


def test_commands_before_an_error_are_still_reported() -> None:
    result = analyze("ssh -R 80:h:22 u@e; ls )")
    assert result.problems
    assert result.commands[0].program == "ssh"


def test_internal_errors_fail_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(program: str, args: list[str]) -> dict[str, str | None]:
        raise ValueError("table is broken")

    monkeypatch.setattr(programs, "options_of", broken)
    result = analyze("ls")
    assert result.problems == [
        "the shell analyser failed on this command (ValueError: table is broken)"
    ]


def test_custom_limits() -> None:
    limits = ShellLimits(max_depth=2, max_commands=3)
    assert any(
        "deeper than 2" in p for p in analyze_command_line("( ( ( ls ) ) )", limits=limits).problems
    )
    assert any(
        "more than 3 commands" in p for p in analyze_command_line("a;b;c;d", limits=limits).problems
    )


def test_empty_and_blank_lines() -> None:
    for line in ("", "   ", "\n\n", "# just a comment"):
        result = analyze(line)
        assert result.commands == [] and result.problems == []


def test_odd_characters() -> None:
    for line in ("echo \x00 x", "echo \ud800", "ls \u202e", "echo 'ünïcödé' | sh"):
        result = analyze(line)
        assert all(isinstance(p, str) for p in result.problems)


def test_analyze_argv() -> None:
    result = analyze_argv(["bash", "-c", "ssh -R 80:h:22 u@e"])
    assert result.problems == []
    assert [(c.program, c.via) for c in result.commands] == [("bash", ()), ("ssh", ("bash -c",))]
    spaced = analyze_argv(["/usr/bin/touch", "a file; rm -rf /"])
    assert [c.argv for c in spaced.commands] == [["/usr/bin/touch", "a file; rm -rf /"]]
    assert analyze_argv([]).problems == ["the command has an empty argv"]
    big = analyze_argv(["echo", "x" * 300_000])
    assert big.problems == ["command argv is 300006 bytes, over the 262144-byte analysis limit"]


def test_non_ascii_text_keeps_its_value() -> None:
    cmd = analyze("echo é \"ü ñ\" $'\\u00e9' 😀 a\u00a0b ${x:-中文}").commands[0]
    assert cmd.argv == ["echo", "é", "ü ñ", "é", "😀", "a\u00a0b", "中文"]


def test_characters_that_crashed_the_parser() -> None:
    # tree-sitter-bash hands the lookahead to isalpha() & co, which read out of bounds past 255;
    # these lines crashed the process before the parser was only given ASCII.
    lines = [
        "{\U000d15c3",
        "$${\U000f38c1\U000e3d6e",
        "\u00e5{<<<\u00fc{\U000327a6 ",
        "||{\u008b${\U0002d2c8U",
        "}|\U0009a10e=)${\U000329b5\u00dc-@\u00a0%\U0002527b6&||?#V@",
    ]
    script = (
        "import sys\n"
        "from corral.analysis.shell import analyze_command_line\n"
        "for line in sys.stdin.read().split('\\0'):\n"
        "    for _ in range(50):\n"
        "        analyze_command_line(line)\n"
        "print('done')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        input="\0".join(lines),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "done"


def test_commands_inside_unparsable_text_are_still_reported() -> None:
    result = analyze("ssh -R 80:h:22 u@e; if")
    assert result.problems and result.commands[0].program == "ssh"
