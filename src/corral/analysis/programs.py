"""What well-known programs touch: network targets and files, from a parsed argv (interface)."""

from __future__ import annotations

from corral.analysis.facts import Command, FileAccess, NetTarget


def options_of(program: str, args: list[str]) -> dict[str, str | None]:
    """Options in ``args`` the way the program's getopt would split them."""
    raise NotImplementedError


def targets_of(cmd: Command) -> list[NetTarget]:
    """Network endpoints ``cmd`` would reach or listen on (curl URL, ssh host, nc host port...)."""
    raise NotImplementedError


def files_of(cmd: Command, cwd: str | None) -> list[FileAccess]:
    """Paths ``cmd`` reads, writes, deletes or chmods, including its redirections."""
    raise NotImplementedError
