"""What an ssh client asked for (CR-SUP-002's reading), and which program an executable really is.

No root needed: the parser reads argv lists and files; the identification stats and hashes real
binaries and a real child process.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from corral.rules.loader import builtin_rules
from corral.supervision.identify import KnownBinaries, program_names
from corral.supervision.sshconf import (
    FILE_CAP,
    command_line,
    destination_host,
    finish,
    in_process,
    parse_option,
    request_of,
    with_config,
)


def tunnels(*args: str) -> list[str]:
    return finish(command_line(list(args))).tunnels


# -- the command line -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("-o", "ExitOnForwardFailure=yes", "root@h", "true"),
        ("-o", "ClearAllForwardings=yes", "-R", "8080:localhost:22", "u@h"),
        ("-o", "ClearAllForwardings yes", "-D", "1080", "u@h"),
        ("-o", "ForwardAgent=no", "-o", "ForwardX11=no", "u@h"),
        ("-i", "/home/u/ForwardKeys/id", "-o", "IdentityFile=/x/RemoteForward", "h"),
        ("h", "ls", "-R", "/"),  # the remote command's -R
        ("h", "ssh", "-D", "1080", "other"),  # a command for the remote host
        ("-L", "5432:localhost:5432", "db@bastion"),  # a local forward is not a tunnel
        ("-o", "LocalForward=5432 localhost:5432", "h"),
        ("-o", "Tunnel=no", "h"),
        ("-o", "TunnelDevice=0:0", "h"),  # a device without Tunnel opens nothing
        ("-W", "db:5432", "bastion"),  # stdio forwarding, not -w
        ("-p", "-R", "h"),  # -p takes the next argument as its value
    ],
)
def test_options_that_open_no_tunnel(args: tuple[str, ...]) -> None:
    assert tunnels(*args) == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("-R", "8080:localhost:22", "u@h"), ["-R 8080:localhost:22"]),
        (("-fNR", "2222:127.0.0.1:22", "u@h"), ["-R 2222:127.0.0.1:22"]),
        (("-NR2222:127.0.0.1:22", "u@h"), ["-R 2222:127.0.0.1:22"]),
        (("-D1080", "u@h"), ["-D 1080"]),
        (("-w", "0:0", "root@h"), ["-w 0:0"]),
        (("-o", "RemoteForward=8080 localhost:80", "h"), ["-o RemoteForward 8080 localhost:80"]),
        (("-o", "remoteforward 8080 localhost:80", "h"), ["-o RemoteForward 8080 localhost:80"]),
        (("-o", "DynamicForward = 1080", "h"), ["-o DynamicForward 1080"]),
        (("-o", "Tunnel=ethernet", "h"), ["Tunnel ethernet"]),
        # ssh keeps the first value: a later ClearAllForwardings=yes changes nothing
        (
            ("-o", "ClearAllForwardings=no", "-o", "ClearAllForwardings=yes", "-R", "1:h:2", "h"),
            ["-R 1:h:2"],
        ),
        # a tun device is not a port forward: ClearAllForwardings leaves it
        (("-o", "ClearAllForwardings=yes", "-w", "any", "h"), ["-w any"]),
    ],
)
def test_tunnels_on_the_command_line(args: tuple[str, ...], expected: list[str]) -> None:
    assert tunnels(*args) == expected


def test_local_forwards_are_reported_apart() -> None:
    req = finish(command_line(["-L", "1:a:2", "-R", "3:b:4", "h"]))
    assert req.local == ["-L 1:a:2"]
    assert req.tunnels == ["-R 3:b:4"]


@pytest.mark.parametrize(
    ("dest", "host"),
    [
        ("root@127.0.0.1", "127.0.0.1"),
        ("Host.Example.COM", "host.example.com"),
        ("ssh://u@h.example:2222", "h.example"),
        ("ssh://[::1]:22", "::1"),
        ("a@b@c", "c"),
    ],
)
def test_destination_host(dest: str, host: str) -> None:
    assert destination_host(dest) == host


def test_option_spellings() -> None:
    assert parse_option("RemoteForward=8080 h:80") == ("remoteforward", "8080 h:80")
    assert parse_option("  Tunnel = yes ") == ("tunnel", "yes")
    assert parse_option("=broken") is None


# -- config files -------------------------------------------------------------------------------


def from_files(files: dict[str, str], *args: str, home: str | None = "/home/a") -> list[str]:
    def read(path: str) -> str | None:
        return files.get(path)

    return finish(with_config(command_line(list(args)), read, home)).tunnels


def test_remote_forward_in_a_config_given_with_F() -> None:
    conf = "Host 127.0.0.1\n  Port 2222\n  RemoteForward 40001 127.0.0.1:9\n"
    found = from_files({"/w/sync.conf": conf}, "-N", "-F", "/w/sync.conf", "127.0.0.1")
    assert found == ["RemoteForward 40001 127.0.0.1:9 (in /w/sync.conf)"]


def test_host_blocks_that_do_not_match_are_skipped() -> None:
    conf = textwrap.dedent(
        """\
        # top level applies to every host
        ServerAliveInterval 30
        Host other *.example.org !bad.example.org
          RemoteForward 1 a:2
        Host bad.example.org
          DynamicForward 1080
        Host *
          LocalForward 3 b:4
        """
    )
    files = {"/home/a/.ssh/config": conf}
    assert from_files(files, "x.example.org") == ["RemoteForward 1 a:2 (in /home/a/.ssh/config)"]
    assert from_files(files, "bad.example.org") == ["DynamicForward 1080 (in /home/a/.ssh/config)"]
    assert from_files(files, "elsewhere") == []  # a LocalForward only


def test_top_level_forwards_apply_and_clear_all_cancels_them() -> None:
    files = {"/home/a/.ssh/config": "RemoteForward 1 a:2\n"}
    assert from_files(files, "h") == ["RemoteForward 1 a:2 (in /home/a/.ssh/config)"]
    assert from_files(files, "-o", "ClearAllForwardings=yes", "h") == []
    cleared = {"/home/a/.ssh/config": "ClearAllForwardings yes\nRemoteForward 1 a:2\n"}
    assert from_files(cleared, "h") == []


def test_match_blocks_count_unless_the_host_rules_them_out() -> None:
    conf = "Match exec true\n  RemoteForward 1 a:2\nMatch host nothere\n  DynamicForward 9\n"
    files = {"/etc/ssh/ssh_config": conf}
    assert from_files(files, "h") == ["RemoteForward 1 a:2 (in /etc/ssh/ssh_config)"]


def test_include_is_followed_relative_to_the_users_ssh_dir() -> None:
    files = {
        "/home/a/.ssh/config": "Include conf.d/extra\n",
        "/home/a/.ssh/conf.d/extra": "Tunnel point-to-point\n",
    }
    assert from_files(files, "h") == ["Tunnel point-to-point"]


def test_include_loops_and_huge_files_are_bounded() -> None:
    looping = {"/home/a/.ssh/config": "Include config\nRemoteForward 1 a:2\n"}
    assert len(from_files(looping, "h")) >= 1  # read a bounded number of times, no recursion
    huge = {"/home/a/.ssh/config": "#" * (2 * FILE_CAP) + "\nRemoteForward 1 a:2\n"}
    assert from_files(huge, "h") == []  # past the cap: not read


def test_F_none_reads_no_config() -> None:
    files = {"/home/a/.ssh/config": "RemoteForward 1 a:2\n"}
    assert from_files(files, "-F", "none", "h") == []


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real process with its cwd and HOME in ``tmp_path``."""
    child = subprocess.Popen(
        ["sleep", "30"], cwd=tmp_path, env={"HOME": str(tmp_path / "home"), "PATH": "/usr/bin"}
    )
    yield child
    child.kill()
    child.wait()


def test_a_relative_F_is_read_in_the_processes_cwd(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    (tmp_path / "c.conf").write_text("RemoteForward 40001 127.0.0.1:9\n")
    req = request_of(sleeper.pid, ["ssh", "-F", "c.conf", "-N", "host"])
    assert req.tunnels == ["RemoteForward 40001 127.0.0.1:9 (in c.conf)"]


def test_the_processes_home_config_is_read(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    (tmp_path / "home/.ssh").mkdir(parents=True)
    (tmp_path / "home/.ssh/config").write_text("Host host\n  DynamicForward 1080\n")
    _read, home = in_process(sleeper.pid)
    assert home == str(tmp_path / "home")
    assert request_of(sleeper.pid, ["ssh", "host"]).tunnels == [
        f"DynamicForward 1080 (in {tmp_path}/home/.ssh/config)"
    ]
    assert request_of(sleeper.pid, ["ssh", "other"]).tunnels == []


# -- which program an executable really is ------------------------------------------------------

SSH = shutil.which("ssh")
needs_ssh = pytest.mark.skipif(SSH is None, reason="the ssh client is not installed")


@needs_ssh
def test_a_copy_of_ssh_is_identified_by_size_and_hash(tmp_path: Path) -> None:
    known = KnownBinaries(program_names(builtin_rules().lists))
    copy = tmp_path / "sync-helper"
    shutil.copyfile(str(SSH), copy)
    found = known.identify_file(str(copy))
    assert found is not None and found.name == "ssh" and found.how == "copy"
    assert found.renamed("./sync-helper") and not found.renamed("/usr/bin/ssh")
    assert found.note("./sync-helper").startswith("sync-helper is a copy of ")


@needs_ssh
def test_the_same_size_with_other_bytes_is_not_ssh(tmp_path: Path) -> None:
    known = KnownBinaries(["ssh"])
    fake = tmp_path / "ssh-sized"
    fake.write_bytes(b"\0" * Path(str(SSH)).stat().st_size)
    assert known.identify_file(str(fake)) is None
    assert known.identify_file(str(tmp_path / "missing")) is None


@needs_ssh
def test_a_hard_link_is_the_same_file(tmp_path: Path) -> None:
    known = KnownBinaries(["ssh"])
    link = tmp_path / "tool"
    try:
        link.hardlink_to(str(SSH))
    except OSError:
        pytest.skip("/usr/bin and the test directory are on different filesystems")
    found = known.identify_file(str(link))
    assert found is not None and found.how == "same file"


def test_a_running_copy_is_identified_through_proc(tmp_path: Path) -> None:
    sleep = shutil.which("sleep")
    assert sleep is not None
    copy = tmp_path / "innocent"
    shutil.copy2(sleep, copy)
    child = subprocess.Popen([str(copy), "30"])
    try:
        found = KnownBinaries(["sleep"]).identify_pid(child.pid)
    finally:
        child.kill()
        child.wait()
    assert found is not None and found.name == "sleep" and found.how == "copy"


def test_unknown_programs_and_multi_call_binaries_are_not_known(tmp_path: Path) -> None:
    known = KnownBinaries(["no-such-program-here"])
    assert known.paths == []
    busybox = tmp_path / "busybox"
    busybox.write_bytes(b"x")
    (tmp_path / "nc").symlink_to(busybox)
    busybox.chmod(0o755)
    assert KnownBinaries(["nc"], path=str(tmp_path)).paths == []
