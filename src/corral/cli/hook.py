"""``corral hook AGENT`` (judge one coding-agent tool call) and ``corral install AGENT``.

The hook runs on every tool call of an interactive agent, so this module imports the engine only
when a decision is needed.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

FC = TypeVar("FC", bound=Callable[..., Any])

AGENT_CHOICE = click.Choice(["claude-code", "codex", "gemini"])


def _log_option(help_text: str) -> Callable[[FC], FC]:
    """``--log FILE``, the hook's decision log (both commands name it the same way)."""
    return click.option(
        "--log",
        "log_file",
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="FILE",
        help=help_text,
    )


@click.command("hook")
@click.argument("agent", type=AGENT_CHOICE)
@click.option("--policy", "-p", default="default", show_default=True, metavar="NAME|FILE")
@click.option("--workspace", "-w", multiple=True, metavar="DIR", help="Writable workspace.")
@_log_option(
    "Append every decision, and every call the agent reports it ran, to this decision log."
)
@click.option(
    "--server",
    envvar="CORRAL_SERVER",
    metavar="URL",
    help="Ask this running `corral serve` (fast); judge here if it does not answer. "
    "Its bearer token comes from CORRAL_TOKEN.",
)
@click.option(
    "--defer-allow",
    is_flag=True,
    help="On allow, answer 'no objection' so the agent's own permission prompts still apply.",
)
def hook(
    *,
    agent: str,
    policy: str,
    workspace: tuple[str, ...],
    log_file: Path | None,
    server: str | None,
    defer_allow: bool,
) -> None:
    """Judge the tool call an agent's hook sends on stdin; answer in the agent's format.

    AGENT is claude-code, codex or gemini. Exit status 0 with the answer on stdout, or 2 with
    the reason on stderr when the call must be blocked and no answer could be made (bad input,
    bad policy, internal error): the agents treat 2 as "do not run the tool".
    """
    try:
        answer = _answer(
            agent=agent,
            policy=policy,
            workspace=workspace,
            log_file=log_file,
            server=server,
            defer_allow=defer_allow,
        )
    except BaseException as exc:  # the hook must never fail open, whatever happened
        click.echo(
            f"Corral blocked this call: the hook failed ({type(exc).__name__}: {exc})", err=True
        )
        sys.exit(2)
    if answer.stdout:
        click.echo(answer.stdout)
    if answer.stderr:
        click.echo(answer.stderr, err=True)
    sys.exit(answer.exit_code)


def _answer(
    *,
    agent: str,
    policy: str,
    workspace: tuple[str, ...],
    log_file: Path | None,
    server: str | None,
    defer_allow: bool,
) -> Any:
    from corral.integrations.hooks import JudgeError, block, handle  # noqa: PLC0415 - lazy: the hook starts fast
    from corral.integrations.judges import local_judge, server_judge  # noqa: PLC0415 - lazy: the hook starts fast

    raw = sys.stdin.buffer.read()
    judge = local_judge(policy, workspace)
    if server:
        try:
            judge = server_judge(server, os.environ.get("CORRAL_TOKEN"), judge)
        except JudgeError as exc:
            return block(str(exc))
    recorder = None
    if log_file is not None:
        from corral.integrations.hook_log import HookLog  # noqa: PLC0415 - lazy: the hook starts fast

        recorder = HookLog(log_file)
    return handle(agent, raw, judge, record=recorder, defer_allow=defer_allow)


@click.command("install")
@click.argument("agent", type=AGENT_CHOICE)
@click.option("--print", "print_only", is_flag=True, help="Print the snippet; change nothing.")
@click.option(
    "--scope",
    type=click.Choice(["user", "project"]),
    default="user",
    show_default=True,
    help="The user's settings file or the project's (in the current directory).",
)
@click.option(
    "--settings",
    "settings_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Merge into this settings file instead.",
)
@click.option("--policy", "-p", default=None, metavar="NAME|FILE", help="Policy the hook uses.")
@_log_option("Decision log the hook appends to.")
@click.option("--server", metavar="URL", help="A running `corral serve` the hook should ask.")
@click.option(
    "--on-failure-block",
    is_flag=True,
    help="Claude Code only (2.1.295 or later): block the call if the hook cannot run or times out.",
)
def install(
    *,
    agent: str,
    print_only: bool,
    scope: str,
    settings_file: Path | None,
    policy: str | None,
    log_file: Path | None,
    server: str | None,
    on_failure_block: bool,
) -> None:
    """Register `corral hook AGENT` in the agent's settings (or print the snippet).

    The existing file is backed up first and other hooks are kept; running it twice changes
    nothing the second time.
    """
    from corral.integrations.install import InstallError, settings_path, snippet  # noqa: PLC0415 - lazy: the hook starts fast
    from corral.integrations.install import install as merge_into  # noqa: PLC0415 - lazy: the hook starts fast

    extra: list[str] = []
    if policy is not None:
        extra += ["--policy", str(Path(policy).resolve()) if Path(policy).is_file() else policy]
    if log_file is not None:
        extra += ["--log", str(log_file.resolve())]
    if server is not None:
        extra += ["--server", server]
    addition = snippet(agent, extra, on_failure_block=on_failure_block)
    if print_only:
        click.echo(json.dumps(addition, indent=2))
        return
    path = settings_file or settings_path(agent, scope)
    try:
        changed, backup = merge_into(path, addition, agent)
    except (InstallError, OSError) as exc:
        click.echo(f"corral: cannot install the hook: {exc}", err=True)
        sys.exit(2)
    if not changed:
        click.echo(f"{path}: the Corral hook for {agent} is already registered; nothing changed")
        return
    saved = f" (previous settings saved as {backup})" if backup else ""
    click.echo(f"{path}: registered `corral hook {agent}`{saved}")
    if agent == "codex":
        click.echo("Codex before 0.124 also needs `[features] codex_hooks = true` in config.toml")


if __name__ == "__main__":  # `python -m corral.cli.hook AGENT`: the hook without the whole CLI
    hook()
