"""Entry points of the shell analyser: a command line (or an argv) in, an Analysis out.

Both entry points fail closed and bounded: input over :class:`ShellLimits`, syntax tree-sitter
cannot read, nesting too deep, too many commands or too much decoded data each add a
``problems`` entry (the engine denies an action with a problem), and an unexpected error inside
the analyser becomes a problem too instead of escaping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from corral.analysis.facts import Analysis
from corral.analysis.shell import execute
from corral.analysis.shell.context import Ctx, Frame, Scope, Stop
from corral.analysis.shell.parse import Source, parse
from corral.analysis.shell.walk import Walker


@dataclass(frozen=True, slots=True)
class ShellLimits:
    """Bounds on the work done for one command line; exceeding one is a problem (deny)."""

    max_bytes: int = 256 * 1024
    max_depth: int = 24
    max_commands: int = 2000
    max_decode_bytes: int = 64 * 1024


def analyze_command_line(
    line: str, *, cwd: str | None = None, limits: ShellLimits = ShellLimits()
) -> Analysis:
    """Every simple command ``line`` would run, with the targets, files and code it touches."""
    analysis = Analysis(kind="exec", declared_kind="exec")
    size = _size(line)
    if size > limits.max_bytes:
        analysis.problems.append(
            f"command line is {size} bytes, over the {limits.max_bytes}-byte analysis limit"
        )
        analysis.texts.append(line[: limits.max_bytes])
        return analysis
    ctx = Ctx(analysis, limits, cwd)
    _guarded(ctx, lambda: _walk_line(ctx, line))
    top = ctx.top if isinstance(ctx.top, Source) and ctx.data_spans else None
    scanned = scanned_line(
        top.data if top else line.encode("utf-8", "surrogatepass"), ctx.data_spans
    )
    if scanned.strip() and scanned not in ctx.text_set:
        ctx.text_set.add(scanned)
        analysis.texts.insert(0, scanned)
    return analysis


def scanned_line(line: bytes, data_spans: list[tuple[int, int]]) -> str:
    """``line`` (as parsed) as pattern rules scan it: data-only arguments blanked out.

    Rules that read text are a safety net under the structured facts; blanking what ``echo``
    and ``printf`` merely print keeps that net from catching documents and fixtures that
    quote attacks, while the printed text is still judged where it goes.
    """
    data = bytearray(line)
    for start, end in data_spans:
        data[start:end] = b" " * (end - start)
    return data.decode("utf-8", "surrogatepass")


def analyze_argv(
    argv: list[str], *, cwd: str | None = None, limits: ShellLimits = ShellLimits()
) -> Analysis:
    """Like :func:`analyze_command_line` for an argv that is executed without a shell."""
    analysis = Analysis(kind="exec", declared_kind="exec")
    if not argv:
        analysis.problems.append("the command has an empty argv")
        return analysis
    size = sum(_size(arg) + 1 for arg in argv)
    if size > limits.max_bytes:
        analysis.problems.append(
            f"command argv is {size} bytes, over the {limits.max_bytes}-byte analysis limit"
        )
        analysis.texts.append(" ".join(argv)[: limits.max_bytes])
        return analysis
    ctx = Ctx(analysis, limits, cwd)
    _guarded(ctx, lambda: _walk_argv(ctx, list(argv)))
    return analysis


def _size(text: str) -> int:
    """Size of ``text`` in UTF-8 bytes."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _guarded(ctx: Ctx, work: Callable[[], None]) -> None:
    try:
        work()
    except Stop:
        pass  # a global limit was hit; its problem is recorded
    except RecursionError:
        ctx.problem("the command nests too deeply to analyse")
    except Exception as exc:  # fail closed: an analyser bug must not let an action through
        ctx.problem(
            f"the shell analyser failed on this command ({type(exc).__name__}: {str(exc)[:200]})"
        )


def _walk_line(ctx: Ctx, line: str) -> None:
    parsed = parse(line)
    if parsed.error is not None:
        ctx.problem(f"could not parse the command {parsed.error}")
    frame = Frame(parsed.src, Scope(cwd=ctx.cwd), (), 0)
    ctx.top = parsed.src
    Walker(ctx).statements(parsed.src.root, frame)


def _walk_argv(ctx: Ctx, argv: list[str]) -> None:
    frame = Frame(Source(""), Scope(cwd=ctx.cwd), (), 0)
    execute.run(Walker(ctx), frame, argv, env={}, redirects=[], stdin=None, unresolved=False)
