"""The CLI's explicit command registry: every entry loads, and loading is lazy."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from corral.cli.main import COMMANDS, cli


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_registered_command_loads_under_its_name(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert isinstance(command, click.Command)
    assert command.name == name


def test_starting_the_cli_loads_no_subcommand_module() -> None:
    code = (
        "import sys; from corral.cli import main; "
        "loaded = sorted({m for m, _ in main.COMMANDS.values()} & set(sys.modules)); "
        "print(','.join(loaded))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
