"""What one simple command does: record it, then follow what it runs or prints.

``run`` records the :class:`~corral.analysis.facts.Command` with its options, targets and
files, and then looks at what the program is: a shell (its ``-c`` text, script or stdin is
analysed again), a wrapper (the wrapped command is run in turn), an interpreter (its code is
analysed), a decoder or printer (its output becomes known), or a shell builtin that changes
what later commands see (``eval``, ``source``, ``read``, ``cd``, ``printf -v``, ``trap``).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from corral.analysis import interpreters, programs
from corral.analysis.facts import CodeFinding, Command, FileAccess, Redirect
from corral.analysis.paths import normalize_path
from corral.analysis.shell.context import Frame, Known
from corral.analysis.shell.decode import (
    DECODERS,
    POWERSHELLS,
    echo_output,
    powershell_encoded,
    printf_output,
)
from corral.analysis.shell.wrappers import (
    SHELL_VARIABLES,
    SHELLS,
    WRAPPERS,
    shell_call,
    unwrap,
    xargs_parts,
)

if TYPE_CHECKING:
    from corral.analysis.shell.walk import Walker

ArgVia = dict[str, tuple[str, ...]]


@dataclass(slots=True)
class Call:
    """One recorded command being followed, with what it was given."""

    w: Walker
    frame: Frame
    cmd: Command
    stdin: Known | None
    source: str  # how stdin arrives: "stdin" (a pipe), "<<" or "<<<"
    arg_via: ArgVia

    @property
    def args(self) -> list[str]:
        return self.cmd.argv[1:]


STDIN_PATHS = frozenset({"/dev/stdin", "/proc/self/fd/0", "/dev/fd/0", "-"})
_STDOUT_OPS = frozenset({">", ">>", ">|", "&>", "&>>", ">&"})
_XARGS_ITEMS = 64
# Programs whose arguments are only data they print. Their text is not scanned as a command:
# what they print is judged where it goes (a shell or interpreter it is piped to, a file by its
# type), so a fixture or a document that quotes an attack is not mistaken for the attack.
DATA_PRINTERS = frozenset({"echo", "printf"})
# Programs that hand their input on unchanged; it is judged where it ends up.
_PASS_THROUGH = frozenset({"cat", "tee"})


def run(
    w: Walker,
    frame: Frame,
    argv: list[str],
    *,
    env: dict[str, str],
    redirects: list[Redirect],
    stdin: Known | None,
    unresolved: bool,
    arg_via: ArgVia | None = None,
    source: str = "stdin",
    via: tuple[str, ...] | None = None,
) -> Known | None:
    """Record ``argv`` as a command and follow it; what it prints, when that is known."""
    ctx = w.ctx
    if ctx.commands_left <= 0:
        raise ctx.stop(
            f"the command line runs more than {ctx.limits.max_commands} commands; "
            "Corral stopped reading there"
        )
    ctx.commands_left -= 1
    path = argv[0]
    if "$(" in path or "`" in path:  # a placeholder for unknown output: no basename to take
        program = path
    else:
        program = path.rpartition("/")[2] or posixpath.basename(path.rstrip("/")) or path
    base = frame.via if via is None else via
    if arg_via and path in arg_via:
        base = base + arg_via[path]
    if frame.group:
        redirects = [*redirects, *frame.group]
    cmd = Command(
        argv=argv,
        program=program,
        path=path,
        via=base,
        redirects=redirects,
        env=env,
        background=frame.background,
        unresolved=unresolved,
    )
    cmd.options = programs.options_of(program, argv[1:])
    analysis = ctx.analysis
    analysis.commands.append(cmd)
    analysis.targets.extend(programs.targets_of(cmd))
    cwd = frame.scope.cwd
    files = programs.files_of(cmd, cwd)
    analysis.files.extend(files)
    if program not in DATA_PRINTERS:
        ctx.text(" ".join(argv))
    if stdin is not None and program not in _PASS_THROUGH:
        ctx.text(stdin.text)  # what a program is fed is scanned: `echo 'root:x' | chpasswd`
    out = _follow(Call(w, frame, cmd, stdin, source, arg_via or {}))
    if files:
        _fill_contents(files, cmd, out, stdin, cwd)
    if out is not None and _stdout_redirected(redirects):
        return None
    return out


def _stdout_redirected(redirects: list[Redirect]) -> bool:
    return any(r.op in _STDOUT_OPS and r.fd in (None, 1) and r.target != "1" for r in redirects)


def _fill_contents(
    files: list[FileAccess], cmd: Command, out: Known | None, stdin: Known | None, cwd: str | None
) -> None:
    """Content written to a file when it is known: ``echo ... >> ~/.bashrc``, ``| tee FILE``."""
    written: set[str] = set()
    if out is not None:
        # The same normalisation as the recorded accesses, so that the two always agree.
        targets = [r.target for r in cmd.redirects if r.op in _STDOUT_OPS and r.fd in (None, 1)]
        written = {path for t in targets if t and (path := programs.normalize(t, cwd))}
    for access in files:
        if access.content is not None or access.op not in ("write", "append"):
            continue
        if out is not None and access.path in written:
            access.content = out.text
        elif cmd.program == "tee" and stdin is not None:
            access.content = stdin.text


def _follow(c: Call) -> Known | None:
    cmd = c.cmd
    program = cmd.program
    if program in SHELLS or cmd.path in SHELL_VARIABLES:
        return _shell(c)
    builtin = _BUILTINS.get(program)
    if builtin is not None:
        return builtin(c)
    decoder = DECODERS.get(program)
    if decoder is not None:
        if c.stdin is not None and c.stdin.unresolved and program not in ("cat", "tee"):
            return None  # decoding a placeholder such as "$X" would invent bytes
        return decoder(c.w.ctx, c.args, c.stdin)
    if program in WRAPPERS:
        return _wrapper(c)
    if program.lower() in POWERSHELLS:
        powershell_encoded(c.w.ctx, c.args)
    language = interpreters.interpreter_language(program)
    if language is not None:
        _interpreter(c, language)
    return None


def _decoders(arg_via: ArgVia, args: list[str]) -> tuple[str, ...]:
    """The decoders behind any of ``args``, in order of first appearance."""
    if not arg_via:
        return ()
    out: tuple[str, ...] = ()
    for arg in args:
        for item in arg_via.get(arg, ()):
            if item not in out:
                out = (*out, item)
    return out


def _with_decoders(out: Known | None, c: Call) -> Known | None:
    decoders = _decoders(c.arg_via, c.args)
    if out is None or not decoders:
        return out
    return Known(out.text, (*out.via, *decoders), out.unresolved)


# ---- shells ------------------------------------------------------------------------------------


def _shell(c: Call) -> Known | None:
    cmd = c.cmd
    name = cmd.program
    call = shell_call(c.args)
    if call.command is not None:
        label = f"{name} -c"
        via = (*cmd.via, label, *c.arg_via.get(call.command, ()))
        return c.w.script(
            call.command,
            c.frame,
            via,
            where=label,
            stdin=c.stdin,
            positional=call.positional or [name],
            env=cmd.env,
        )
    content: Known | None = None
    label = ""
    positional = call.positional
    if call.script_file is not None:
        content = c.w.fd_content.get(call.script_file)
        label = f"{name} <(...)"
        if content is None and call.script_file in STDIN_PATHS and c.stdin is not None:
            content, label = c.stdin, f"{name} {c.source}"
    elif call.reads_stdin and c.stdin is not None:
        content, label = c.stdin, f"{name} {c.source}"
        positional = [name, *call.positional]
    if content is None:
        return None
    via = (*cmd.via, label, *content.via)
    return c.w.script(content.text, c.frame, via, where=label, positional=positional, env=cmd.env)


# ---- wrappers ----------------------------------------------------------------------------------


def _wrapper(c: Call) -> Known | None:
    w, frame, cmd = c.w, c.frame, c.cmd
    if not w.enter(frame.depth + 1):
        return None
    inner_frame = Frame(frame.src, frame.scope, frame.via, frame.depth + 1, frame.background)
    out: Known | None = None
    for inner in unwrap(cmd.program, c.args):
        via = (*cmd.via, inner.label)
        if inner.argv:
            out = run(
                w,
                inner_frame,
                inner.argv,
                env={**cmd.env, **inner.env},
                redirects=[],
                stdin=c.stdin,
                unresolved=cmd.unresolved,
                arg_via=c.arg_via,
                via=via,
            )
        elif inner.script is not None:
            remote = inner.label.startswith("ssh ")
            out = w.script(
                inner.script,
                frame,
                (*via, *_decoders(c.arg_via, c.args)),
                where=inner.label,
                stdin=c.stdin,
                positional=["sh"],
                env=None if remote else {**cmd.env, **inner.env},
                fresh=remote,
            )
        elif inner.reads_stdin and c.stdin is not None:
            out = w.script(c.stdin.text, frame, (*via, *c.stdin.via), where=inner.label)
    return out


def _xargs(c: Call) -> Known | None:
    w, frame, cmd, stdin = c.w, c.frame, c.cmd, c.stdin
    if not w.enter(frame.depth + 1):
        return None
    inner, replace, separator = xargs_parts(c.args)
    arg_via = c.arg_via
    if stdin is not None:
        if separator == "nul":
            items = stdin.text.split("\0")
        elif separator == "line":
            items = stdin.text.splitlines()
        else:
            items = stdin.text.split()
        items = [i for i in items if i][:_XARGS_ITEMS]
        if replace is not None:
            if items:
                filled = [a.replace(replace, items[0]) for a in inner]
                items = [new for new, old in zip(filled, inner, strict=True) if new != old]
                inner = filled
        else:
            inner = [*inner, *items]
        if stdin.via:
            arg_via = {**arg_via, **dict.fromkeys(items, stdin.via)}
    inner_frame = Frame(frame.src, frame.scope, frame.via, frame.depth + 1, frame.background)
    return run(
        w,
        inner_frame,
        inner,
        env=dict(cmd.env),
        redirects=[],
        stdin=None,
        unresolved=cmd.unresolved or bool(stdin and stdin.unresolved),
        arg_via=arg_via,
        via=(*cmd.via, "xargs"),
    )


# ---- builtins ----------------------------------------------------------------------------------


def _echo(c: Call) -> Known | None:
    return _with_decoders(echo_output(c.w.ctx, c.args, c.cmd.unresolved), c)


def _printf(c: Call) -> Known | None:
    target, out = printf_output(c.w.ctx, c.args, c.cmd.unresolved)
    out = _with_decoders(out, c)
    if target is None:
        return out
    if out is None:
        c.frame.scope.vars.pop(target, None)
    else:
        c.frame.scope.vars[target] = out
    return None


def _eval(c: Call) -> Known | None:
    args = c.args
    if args and args[0] == "--":
        args = args[1:]
    via = (*c.cmd.via, "eval", *_decoders(c.arg_via, args))
    return c.w.script(
        " ".join(args), c.frame, via, where="eval", scope=c.frame.scope, stdin=c.stdin
    )


def _source(c: Call) -> Known | None:
    args = c.args
    if not args:
        return None
    content = c.w.fd_content.get(args[0])
    if content is None and args[0] in STDIN_PATHS and c.stdin is not None:
        content = c.stdin
    if content is None:
        return None
    via = (*c.cmd.via, c.cmd.program, *content.via)
    return c.w.script(content.text, c.frame, via, where=c.cmd.program, scope=c.frame.scope)


def _trap(c: Call) -> Known | None:
    args = c.args
    if len(args) < 2 or args[0].startswith("-"):
        return None
    via = (*c.cmd.via, "trap", *c.arg_via.get(args[0], ()))
    c.w.script(args[0], c.frame, via, where="trap", scope=c.frame.scope)
    return None


_READ_VALUE = frozenset({"-d", "-p", "-n", "-N", "-t", "-u", "-i"})


def _read(c: Call) -> Known | None:
    """``read a b <<< "x y z"`` sets a=x, b="y z"; unknown input leaves the names unknown."""
    args = c.args
    names: list[str] = []
    array: str | None = None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-a" and i + 1 < len(args):
            array = args[i + 1]
            i += 2
            continue
        if arg in _READ_VALUE:
            i += 2
            continue
        if not arg.startswith("-"):
            names.append(arg)
        i += 1
    scope = c.frame.scope
    line = c.stdin.text.split("\n", 1)[0] if c.stdin is not None else None
    via = c.stdin.via if c.stdin is not None else ()
    if array is not None:
        if line is None:
            scope.arrays.pop(array, None)
        else:
            scope.arrays[array] = line.split()
        return None
    names = names or ["REPLY"]
    if line is None:
        for name in names:
            scope.vars.pop(name, None)
        return None
    parts = line.split(None, len(names) - 1) if len(names) > 1 else [line.strip()]
    for index, name in enumerate(names):
        scope.vars[name] = Known(parts[index] if index < len(parts) else "", via)
    return None


def _cd(c: Call) -> Known | None:
    """``cd DIR`` changes where later relative paths point (None: no longer known)."""
    operands = [a for a in c.args if not a.startswith("-") or a == "-"]
    scope = c.frame.scope
    if not operands:
        scope.cwd = "~"
    elif operands[0] == "-" or c.cmd.unresolved or "$" in operands[0]:
        scope.cwd = None
    elif scope.cwd is not None or operands[0].startswith(("/", "~")):
        scope.cwd = normalize_path(operands[0], scope.cwd)
    return Known("")


def _which(c: Call) -> Known | None:
    """``which ssh``, ``command -v ssh``, ``type -P ssh`` print where ``ssh`` is; its directory is
    unknown here, the name is what matters: ``$(which ssh) -R ...`` runs ssh."""
    args = c.args
    if c.cmd.program in ("command", "type") and not any(a in ("-v", "-p", "-P") for a in args):
        return _wrapper(c) if c.cmd.program == "command" else None
    names = [a for a in args if not a.startswith("-")]
    if not names:
        return None
    return Known("".join(f"{name}\n" for name in names), (), c.cmd.unresolved)


_BUILTINS: dict[str, Callable[[Call], Known | None]] = {
    "which": _which,
    "command": _which,
    "type": _which,
    "echo": _echo,
    "printf": _printf,
    "eval": _eval,
    "source": _source,
    ".": _source,
    "trap": _trap,
    "read": _read,
    "cd": _cd,
    "pushd": _cd,
    "xargs": _xargs,
}


# ---- interpreters ------------------------------------------------------------------------------


def _code_label(program: str, args: list[str], code: str) -> str:
    """``python3 -c``, ``perl -e``, ``awk``: the program and the option that carried the code."""
    for index, arg in enumerate(args):
        if not arg or arg not in code:
            continue
        before = args[index - 1] if index else ""
        if before.startswith("-"):
            return f"{program} {before}"
        if arg.startswith("-") and len(arg) > 2 and arg[2:] in code:  # -e'code' written together
            return f"{program} {arg[:2]}"
        return program
    return program


def _interpreter(c: Call, language: str) -> None:
    cmd = c.cmd
    args = c.args
    code = interpreters.inline_code(language, args)
    if code is not None:
        label = _code_label(cmd.program, args, code)
        decoders = c.arg_via.get(code, ())
    else:
        operands = [a for a in args if not a.startswith("-") or a == "-"]
        script = operands[0] if operands else None
        content = c.w.fd_content.get(script) if script is not None else None
        label = f"{cmd.program} <(...)"
        stdin_is_code = script is None or script in STDIN_PATHS
        if content is None and language != "awk" and c.stdin is not None and stdin_is_code:
            content, label = c.stdin, f"{cmd.program} {c.source}"
        if content is None:
            return
        code, decoders = content.text, content.via
    ctx = c.w.ctx
    ctx.text(code)
    found = interpreters.analyze_code(language, code)
    ctx.analysis.code.extend(found.findings)
    ctx.analysis.targets.extend(found.targets)
    ctx.analysis.files.extend(found.files)
    if found.shell_commands:
        via = (*cmd.via, label, *decoders, _runner(found.findings))
        for command in found.shell_commands:
            c.w.script(command, c.frame, via, where=f"{label} code", positional=["sh"])


def _runner(findings: list[CodeFinding]) -> str:
    """How the code hands strings to a shell (``os.system``), as the interpreter module named it."""
    details = list(dict.fromkeys(f.detail for f in findings if f.capability == "subprocess"))
    details = [d for d in details if d]
    return "/".join(details[:3]) if details else "shell"
