"""Programs that run another command: what they run, from their argv alone.

``unwrap(program, args)`` returns the commands a wrapper runs, each an :class:`Inner`: either an
argv executed directly (``sudo -u root ssh ...`` runs ``ssh ...``) or a script handed to a shell
(``su -c 'ssh ...'``, ``ssh host 'cmd'``, ``watch 'cmd'``). Shells themselves are described by
:func:`shell_call`. Option parsing follows each program's getopt closely enough to find where
the wrapped command starts: an option that takes a value consumes it (``timeout -s KILL 5 cmd``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

SHELLS = frozenset(
    {"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "rbash", "yash", "posh", "fish"}
    | {"ksh93", "pdksh", "oksh", "lksh", "tcsh", "csh", "busybox-sh", "bash5", "rc"}
)
"""Programs that read shell code; ``$SHELL`` and ``$BASH`` count as shells too."""
SHELL_VARIABLES = frozenset({"$SHELL", "${SHELL}", "$BASH", "${BASH}"})


@dataclass(slots=True)
class Inner:
    """One command a wrapper runs: ``argv`` directly, or ``script`` through a shell."""

    label: str
    argv: list[str] | None = None
    script: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    reads_stdin: bool = False  # the script comes from the wrapper's stdin (at, batch)


@dataclass(slots=True)
class ShellCall:
    """How a shell was asked to run: ``-c`` text, a script file, or its standard input."""

    command: str | None
    script_file: str | None
    positional: list[str]
    reads_stdin: bool


def skip_options(
    args: list[str], with_value: str = "", long_value: frozenset[str] = frozenset()
) -> int:
    """Index of the first operand, getopt style; ``with_value`` are short options taking a value."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return i + 1
        if arg.startswith("--"):
            takes = "=" not in arg and arg in long_value
            i += 2 if takes else 1
            continue
        if len(arg) > 1 and arg[0] == "-":
            for j in range(1, len(arg)):
                if arg[j] in with_value:
                    i += 2 if j == len(arg) - 1 else 1
                    break
            else:
                i += 1
            continue
        return i
    return i


def _after(
    args: list[str], start: int, label: str, env: dict[str, str] | None = None
) -> list[Inner]:
    rest = args[start:]
    return [Inner(label, argv=rest, env=env or {})] if rest else []


@dataclass(frozen=True, slots=True)
class _Spec:
    with_value: str = ""
    long_value: frozenset[str] = frozenset()
    operands: int = 0  # positional arguments of the wrapper before the command (a duration...)
    no_command: frozenset[str] = frozenset()  # options after which nothing is run (-p PID)


def _spec(with_value: str = "", longs: str = "", operands: int = 0, none: str = "") -> _Spec:
    return _Spec(with_value, frozenset(longs.split()), operands, frozenset(none.split()))


_SIMPLE: dict[str, _Spec] = {
    "nohup": _spec(),
    "setsid": _spec(),
    "unbuffer": _spec(),
    "builtin": _spec(),
    "torify": _spec(),
    "tsocks": _spec(),
    "firejail": _spec(),
    "catchsegv": _spec(),
    "timeout": _spec("sk", "--signal --kill-after", operands=1),
    "nice": _spec("n", "--adjustment"),
    "ionice": _spec("cnpPu", "--class --classdata --pid --pgid --uid", none="-p -P -u --pid"),
    "stdbuf": _spec("ioe", "--input --output --error"),
    "chroot": _spec("", "--userspec --groups", operands=1),
    "time": _spec("fo", "--format --output"),
    "strace": _spec("oepsuabEIOPSX", "--output --expr --attach --string-limit --user --env"),
    "ltrace": _spec("oepsuaADFlnwx", "--output --library"),
    "proxychains": _spec("f"),
    "proxychains4": _spec("f"),
    "torsocks": _spec("aPup", "--address --port --user --pass"),
    "chrt": _spec("TPD", "--sched-runtime --sched-period --sched-deadline", 1, "-p --pid"),
    "taskset": _spec("", "", operands=1, none="-p --pid"),
    "pkexec": _spec("", "--user"),
    "unshare": _spec("SGRw", "--setuid --setgid --root --wd --map-user --map-group"),
    "nsenter": _spec("tSG", "--target --setuid --setgid"),
    "systemd-run": _spec(
        "puEMH",
        "--unit --property --setenv --machine --host --description --slice --uid --gid "
        "--nice --working-directory --on-calendar --on-active --service-type",
    ),
    "setpriv": _spec("", "--reuid --regid --groups --inh-caps --ambient-caps --bounding-set"),
    "caffeinate": _spec("tw"),
    "sshpass": _spec("pfdP"),
    "gosu": _spec(operands=1),
    "su-exec": _spec(operands=1),
    "exec": _spec("a"),
    "doas": _spec("uC"),
}


def _simple(program: str, args: list[str]) -> list[Inner]:
    spec = _SIMPLE[program]
    if any(a in spec.no_command for a in args):
        return []
    start = skip_options(args, spec.with_value, spec.long_value) + spec.operands
    if program == "doas" and "-s" in args[:start]:
        return [Inner("doas -s", script=" ".join(args[start:]))] if args[start:] else []
    return _after(args, start, program)


# ---- special cases ----------------------------------------------------------------------------


def _env(args: list[str]) -> list[Inner]:
    env: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-u", "--unset", "-C", "--chdir"):
            i += 2
        elif arg in ("-S", "--split-string") and i + 1 < len(args):
            rest = " ".join(args[i + 2 :])
            return [Inner("env -S", script=f"{args[i + 1]} {rest}".strip(), env=env)]
        elif arg.startswith("--split-string="):
            rest = " ".join(args[i + 1 :])
            return [Inner("env -S", script=f"{arg.split('=', 1)[1]} {rest}".strip(), env=env)]
        elif arg == "--":
            i += 1
            break
        elif arg.startswith("-"):
            i += 1
        elif "=" in arg and not arg.startswith("="):
            name, value = arg.split("=", 1)
            env[name] = value
            i += 1
        else:
            break
    return _after(args, i, "env", env)


_SUDO_VALUE = "ugpCDhrtTUR"
_SUDO_LONG = frozenset(
    {"--user", "--group", "--prompt", "--close-from", "--chdir", "--host", "--role", "--type"}
    | {"--command-timeout", "--other-user", "--chroot"}
)


def _sudo(args: list[str]) -> list[Inner]:
    start = skip_options(args, _SUDO_VALUE, _SUDO_LONG)
    options = args[:start]
    if any(a in ("-e", "--edit", "-l", "--list", "-v", "--validate", "-k", "-K") for a in options):
        return []
    env: dict[str, str] = {}
    while start < len(args) and "=" in args[start] and not args[start].startswith(("=", "/")):
        name, value = args[start].split("=", 1)
        env[name] = value
        start += 1
    if _sudo_shell(options) and args[start:]:
        return [Inner("sudo -s", script=" ".join(args[start:]), env=env)]
    return _after(args, start, "sudo", env)


def _sudo_shell(options: list[str]) -> bool:
    """``sudo -s``/``-i`` (also inside a bundle such as ``-iu``) hand the command to a shell."""
    for arg in options:
        if arg in ("--shell", "--login"):
            return True
        if arg.startswith("-") and not arg.startswith("--"):
            for letter in arg[1:]:
                if letter in "si":
                    return True
                if letter in _SUDO_VALUE:
                    break
    return False


def _su(args: list[str], label: str = "su -c") -> list[Inner]:
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-c", "--command", "--session-command") and i + 1 < len(args):
            return [Inner(label, script=args[i + 1])]
        if arg.startswith(("--command=", "--session-command=")):
            return [Inner(label, script=arg.split("=", 1)[1])]
        if arg in ("-s", "--shell", "-g", "--group", "-G", "--supp-group", "-u", "--user", "-w"):
            if arg in ("-u", "--user") and label.startswith("runuser"):
                return _after(args, skip_options(args[i + 2 :], "gG") + i + 2, "runuser")
            i += 2
            continue
        i += 1
    return []


def _runuser(args: list[str]) -> list[Inner]:
    return _su(args, "runuser -c")


def _sg(args: list[str]) -> list[Inner]:
    if len(args) >= 3 and args[1] == "-c":
        return [Inner("sg -c", script=args[2])]
    if len(args) >= 2:
        return [Inner("sg", script=" ".join(args[1:]))]
    return []


def _busybox(args: list[str]) -> list[Inner]:
    if not args or args[0].startswith("-"):
        return []
    return [Inner("busybox", argv=list(args))]


def _command(args: list[str]) -> list[Inner]:
    start = 0
    while start < len(args) and args[start].startswith("-"):
        if args[start] in ("-v", "-V"):
            return []  # command -v NAME only looks NAME up
        start += 1
        if args[start - 1] == "--":
            break
    return _after(args, start, "command")


_XARGS_VALUE = "aEdeIiLlnPs"
_XARGS_LONG = frozenset(
    {"--arg-file", "--eof", "--delimiter", "--replace", "--max-lines", "--max-args"}
    | {"--max-procs", "--max-chars", "--process-slot-var"}
)


def xargs_parts(args: list[str]) -> tuple[list[str], str | None, str]:
    """(argv xargs runs before its input is added, the -I replace string, the input separator)."""
    replace: str | None = None
    separator = "blank"
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        if arg in ("-0", "--null"):
            separator = "nul"
        elif arg.startswith("-I"):
            replace = arg[2:] or (args[i + 1] if i + 1 < len(args) else "{}")
            separator = "line"
            if not arg[2:]:
                i += 1
        elif arg.startswith("--replace"):
            replace = arg.split("=", 1)[1] if "=" in arg else "{}"
            separator = "line"
        elif arg == "-i" or arg.startswith("-i"):
            replace = arg[2:] or "{}"
            separator = "line"
        elif arg.startswith("-") and not arg.startswith("--") and arg[1] in _XARGS_VALUE:
            if len(arg) == 2:
                i += 1
        elif arg in _XARGS_LONG:
            i += 1
        i += 1
    inner = args[i:] or ["echo"]
    return inner, replace, separator


def _watch(args: list[str]) -> list[Inner]:
    start = skip_options(args, "nqd", frozenset({"--interval", "--differences"}))
    if any(a in ("-x", "--exec") for a in args[:start]):
        return _after(args, start, "watch")
    return [Inner("watch", script=" ".join(args[start:]))] if args[start:] else []


def _flock(args: list[str]) -> list[Inner]:
    for i, arg in enumerate(args[:-1]):
        if arg in ("-c", "--command"):
            return [Inner("flock -c", script=args[i + 1])]
    start = skip_options(args, "wE", frozenset({"--timeout", "--conflict-exit-code"}))
    return _after(args, start + 1, "flock")  # the lock file, then the command


def _find(args: list[str]) -> list[Inner]:
    out: list[Inner] = []
    i = 0
    while i < len(args):
        if args[i] in ("-exec", "-execdir", "-ok", "-okdir"):
            j = i + 1
            while j < len(args) and args[j] not in (";", "+"):
                j += 1
            if args[i + 1 : j]:
                out.append(Inner("find -exec", argv=args[i + 1 : j]))
            i = j
        i += 1
    return out


def _script(args: list[str]) -> list[Inner]:
    for i, arg in enumerate(args):
        if arg.startswith("--command="):
            return [Inner("script -c", script=arg.split("=", 1)[1])]
        short_c = arg.startswith("-") and not arg.startswith("--") and arg.endswith("c")
        if (arg == "--command" or short_c) and i + 1 < len(args):
            return [Inner("script -c", script=args[i + 1])]
    return []


_SSH_VALUE = "BbcDEeFIiJLlmOopQRSWw"


def ssh_host(args: list[str]) -> tuple[str | None, int]:
    """The destination of an ssh argv and the index of the first remote-command word."""
    i = skip_options(args, _SSH_VALUE)
    if i < len(args):
        return args[i], i + 1
    return None, i


def _ssh(args: list[str]) -> list[Inner]:
    host, start = ssh_host(args)
    if host is None or "-s" in args[: start - 1]:
        return []
    label = f"ssh {host}"
    for i, arg in enumerate(args[: start - 1]):
        if arg == "-o" and i + 1 < len(args):
            key, _, value = args[i + 1].replace("=", " ", 1).partition(" ")
            if key.lower() in ("remotecommand", "localcommand", "proxycommand") and value:
                where = label if key.lower() == "remotecommand" else f"ssh -o {key}"
                return [Inner(where, script=value.strip()), *_remote(args, start, label)]
    return _remote(args, start, label)


def _remote(args: list[str], start: int, label: str) -> list[Inner]:
    return [Inner(label, script=" ".join(args[start:]))] if args[start:] else []


_DOCKER_VALUE = "eupw"
_DOCKER_LONG = frozenset(["--env", "--env-file", "--user", "--workdir", "--detach-keys"])


def _docker(args: list[str]) -> list[Inner]:
    if not args or args[0] != "exec":
        return []
    rest = args[1:]
    start = skip_options(rest, _DOCKER_VALUE, _DOCKER_LONG) + 1  # then the container
    return _after(rest, start, "docker exec")


def _kubectl(args: list[str]) -> list[Inner]:
    if "exec" not in args[:3] or "--" not in args:
        return []
    return _after(args, args.index("--") + 1, "kubectl exec")


def _screen(args: list[str]) -> list[Inner]:
    start = skip_options(args, "ScpTtehHLX", frozenset({"-Logfile"}))
    return _after(args, start, "screen")


_TMUX_NEW = frozenset({"new", "new-session", "neww", "new-window", "splitw", "split-window"})
_TMUX_RESPAWN = frozenset({"respawn-pane", "respawnp", "respawn-window", "respawnw"})


def _tmux(args: list[str]) -> list[Inner]:
    sub = skip_options(args, "LSf")
    if sub >= len(args) or args[sub] not in _TMUX_NEW | _TMUX_RESPAWN:
        return []
    rest = args[sub + 1 :]
    start = skip_options(rest, "scnteFxylpbB")
    return [Inner("tmux", script=" ".join(rest[start:]))] if rest[start:] else []


def _coproc(args: list[str]) -> list[Inner]:
    if len(args) >= 2 and args[1] == "{":
        args = args[2:]
    return _after([a for a in args if a != "}"], 0, "coproc")


def _at(args: list[str]) -> list[Inner]:
    if any(a in ("-l", "-r", "-d", "-c", "-f") for a in args):
        return []
    return [Inner("at", reads_stdin=True)]


_SPECIAL: dict[str, Callable[[list[str]], list[Inner]]] = {
    "env": _env,
    "sudo": _sudo,
    "su": _su,
    "runuser": _runuser,
    "sg": _sg,
    "busybox": _busybox,
    "command": _command,
    "watch": _watch,
    "flock": _flock,
    "find": _find,
    "script": _script,
    "ssh": _ssh,
    "docker": _docker,
    "podman": _docker,
    "nerdctl": _docker,
    "kubectl": _kubectl,
    "oc": _kubectl,
    "screen": _screen,
    "tmux": _tmux,
    "coproc": _coproc,
    "at": _at,
    "batch": _at,
}

WRAPPERS = frozenset(_SIMPLE) | frozenset(_SPECIAL) | {"xargs"}


def unwrap(program: str, args: list[str]) -> list[Inner]:
    """The commands ``program args`` runs on behalf of its caller (empty for other programs)."""
    special = _SPECIAL.get(program)
    if special is not None:
        return special(args)
    if program in _SIMPLE:
        return _simple(program, args)
    return []


def shell_call(args: list[str]) -> ShellCall:
    """Split a shell's argv: ``bash -lc 'cmd' name a b`` has command ``cmd`` and $0.. = name a b."""
    has_c = False
    reads_stdin = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("--", "-"):
            i += 1
            break
        if arg.startswith("--"):
            i += 2 if arg in ("--rcfile", "--init-file") else 1
            continue
        if len(arg) > 1 and arg[0] in "-+":
            letters = arg[1:]
            has_c = has_c or "c" in letters
            reads_stdin = reads_stdin or "s" in letters
            i += 2 if ("o" in letters or "O" in letters) else 1
            continue
        break
    operands = args[i:]
    if has_c:
        if not operands:
            return ShellCall(None, None, [], False)
        return ShellCall(operands[0], None, operands[1:], False)
    if reads_stdin or not operands:
        return ShellCall(None, None, operands, True)
    return ShellCall(None, operands[0], operands, False)
