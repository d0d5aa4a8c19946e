"""A real reverse SSH tunnel (`ssh -R`) against a real sshd on the host's loopback.

The sshd runs outside the fence. A fenced agent has loopback only, so the tests that need the
agent's ssh to reach that sshd give it a relay from inside its network namespace to the host's
sshd (what an egress bridge that allowed the connection would be): then only Corral's judgement
stands between the agent and an open tunnel, and each test that says "stopped" can fail.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ssh_fixtures import (
    CLIENT_OPTIONS,
    SSH,
    ListenWatch,
    Relay,
    SshServer,
    free_port,
    listening,
    private_sshd,
)
from supervision_support import Run, needs_root, processes_with, wait_for

from corral.supervision.supervisor import Outcome

pytestmark = needs_root
HOLD_S = 3  # how long an agent's ssh may live if nothing stops it (a failing test stays short)
TARGET = "127.0.0.1:9"  # the forward's local end; nothing needs to listen there


@pytest.fixture(scope="session")
def sshd() -> Iterator[SshServer]:
    with private_sshd() as server:
        yield server


@pytest.fixture
def clean_sshd(sshd: SshServer) -> Iterator[SshServer]:
    """The sshd, checked after the test: no session of the test's ssh is left on it."""
    yield sshd
    assert wait_for(lambda: not sshd.children(), timeout=5), "an ssh session survived the test"


def agent_script(workspace: Path, client: list[str], *, prelude: str = "") -> str:
    """An agent that waits for its way out, runs ``client`` in the background, gives it
    HOLD_S seconds, and writes its exit status to ``status`` (137: killed by Corral)."""
    path = workspace / "agent.sh"
    path.write_text(
        textwrap.dedent(
            f"""\
            {prelude}
            while [ ! -e ready ]; do sleep 0.02; done
            {shlex.join(client)} 2>ssh.err &
            pid=$!
            ( sleep {HOLD_S}; kill $pid ) 2>/dev/null &
            wait $pid
            echo $? > status
            """
        )
    )
    return str(path)


def agent_key(server: SshServer, workspace: Path) -> Path:
    """The throw-away client key, copied where the agent can read it (~/.ssh is hidden)."""
    key = workspace / "id_test"
    shutil.copyfile(server.key, key)
    key.chmod(0o600)
    return key


def start_with_relay(run: Run, server: SshServer, argv: list[str]) -> Relay:
    """Start the agent, open 127.0.0.1:<sshd port> inside its network to the host's sshd, and
    tell it to go on."""
    supervisor = run.start(argv)
    relay = Relay(supervisor.listen_in_agent_netns(server.port), server.port)
    (run.workspace / "ready").touch()
    return relay


def fired(outcome: Outcome) -> set[str]:
    """Rule ids of every deny the run made (stopped execs, refused connections, responses)."""
    return {
        rule.id
        for event in outcome.events
        if event.decision is not None and event.decision.decision == "deny"
        for rule in event.decision.rules
    }


def is_exec_stop(record: dict[str, Any]) -> bool:
    """A decision-log record of an exec that Corral stopped."""
    supervisor = record.get("decision", {}).get("supervisor", {})
    return bool(supervisor.get("event") == "exec" and supervisor.get("step") == "stop")


def corral_run(
    corral: list[str], workspace: Path, log: Path, script: str
) -> subprocess.CompletedProcess[str]:
    """`corral run --degraded=net`: the agent shares the host's network, so its ssh can reach
    the test sshd without a relay; everything else of the fence stays up."""
    options = ["--degraded=net", "-w", str(workspace), "--log", str(log)]
    return subprocess.run(  # noqa: PLW1510 (the callers assert the status)
        [*corral, "run", *options, "--", "sh", script],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=60,
    )


def status(workspace: Path) -> str:
    path = workspace / "status"
    return path.read_text().strip() if path.exists() else "(none)"


# -- a: the test sshd really opens a remote forward -----------------------------------------------


def test_baseline_ssh_R_opens_a_remote_forward(clean_sshd: SshServer) -> None:
    remote = free_port()
    client = subprocess.Popen(
        clean_sshd.client_argv("-N", "-R", f"{remote}:{TARGET}", "root@127.0.0.1"),
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert wait_for(lambda: listening(remote), timeout=10), clean_sshd.log_text()[-1500:]
    finally:
        client.kill()
        client.wait()
    assert wait_for(lambda: not listening(remote), timeout=5)  # the forward dies with ssh


def run_plain_login(run: Run, server: SshServer, *options: str) -> tuple[Outcome, Relay]:
    """An ssh from inside the fence that logs in to the real sshd (through the relay) and runs
    one command there, with no forward."""
    key = agent_key(server, run.workspace)
    client = server.client_argv(*options, "root@127.0.0.1", "echo reached-$((6*7))", key=key)
    path = run.workspace / "agent.sh"
    path.write_text(
        "while [ ! -e ready ]; do sleep 0.02; done\n"
        f"{shlex.join(client)} > reached.txt 2>ssh.err\necho $? > status\n"
    )
    relay = start_with_relay(run, server, ["sh", str(path)])
    try:
        return run.finish(timeout=20), relay
    finally:
        relay.close()


def test_fenced_ssh_reaches_the_test_sshd_through_the_relay(
    supervised: Callable[..., Run], clean_sshd: SshServer
) -> None:
    """The control for the tests below: an allowed ssh from inside the fence, given the relay,
    logs in to the real sshd and runs a command there."""
    run = supervised()
    outcome, relay = run_plain_login(run, clean_sshd)
    assert outcome.exit_code == 0, (run.workspace / "ssh.err").read_text()
    assert (run.workspace / "reached.txt").read_text().strip() == "reached-42"
    assert relay.connections == 1
    assert fired(outcome) == set()


def test_ssh_options_that_only_name_forwarding_are_not_a_tunnel(
    supervised: Callable[..., Run], clean_sshd: SshServer
) -> None:
    """`ExitOnForwardFailure` and `ClearAllForwardings=yes` (which turns forwards *off*) open
    nothing: a login that carries them is not a tunnel and must not be killed."""
    run = supervised()
    outcome, _ = run_plain_login(
        run, clean_sshd, "-o", "ExitOnForwardFailure=yes", "-o", "ClearAllForwardings=yes"
    )
    assert outcome.killed_by is None, outcome.killed_by
    assert (run.workspace / "reached.txt").read_text().strip() == "reached-42"


# -- b: ssh -R under Corral -----------------------------------------------------------------------


def test_ssh_R_is_stopped_by_the_exec_rule_and_no_forward_opens(
    supervised: Callable[..., Run], clean_sshd: SshServer
) -> None:
    run = supervised()
    remote = free_port()
    forward = f"{remote}:{TARGET}"
    key = agent_key(clean_sshd, run.workspace)
    client = clean_sshd.client_argv("-N", "-R", forward, "root@127.0.0.1", key=key)
    script = agent_script(run.workspace, client)
    with ListenWatch(remote) as watch:
        relay = start_with_relay(run, clean_sshd, ["sh", script])
        try:
            outcome = run.finish(timeout=20)
        finally:
            relay.close()
    stops = [e for e in outcome.events if e.step == "stop" and e.kind == "exec" and e.decision]
    assert [r.id for e in stops if e.decision for r in e.decision.rules] == ["CR-TUN-001"]
    assert stops[0].action is not None and forward in stops[0].action["argv"]
    assert status(run.workspace) == "137"  # killed by Corral, not a failed login (255)
    assert not watch.seen  # the host never got the forward's port
    assert processes_with(forward) == []


def test_corral_run_stops_ssh_R_and_logs_CR_TUN_001(
    corral: list[str], tmp_path: Path, clean_sshd: SshServer
) -> None:
    """Through the command, with `--degraded=net` so that the agent's ssh reaches the host's
    sshd directly: the stop comes before the forward opens, is printed, and is in the verified
    decision log. (With the full fence an ssh that cannot connect exits within milliseconds and
    may be gone before its exec is judged; the relay tests above cover the full fence.)"""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    log = tmp_path / "decisions.jsonl"
    remote = free_port()
    forward = f"{remote}:{TARGET}"
    key = agent_key(clean_sshd, workspace)
    client = clean_sshd.client_argv("-N", "-R", forward, "root@127.0.0.1", key=key)
    script = agent_script(workspace, client, prelude="touch ready")
    with ListenWatch(remote) as watch:
        done = corral_run(corral, workspace, log, script)
    assert "STOP" in done.stderr, done.stderr
    assert status(workspace) == "137", done.stderr  # killed by Corral, not a failed login (255)
    stops = [r for r in map(json.loads, log.read_text().splitlines()) if is_exec_stop(r)]
    assert [rule["id"] for r in stops for rule in r["decision"]["rules"]] == ["CR-TUN-001"]
    assert forward in stops[0]["decision"]["action"]["argv"]
    verify = subprocess.run(  # noqa: PLW1510 (the status is asserted)
        [*corral, "log", "verify", str(log)], capture_output=True, text=True, timeout=60
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert not watch.seen
    assert processes_with(forward) == []


# -- c: a renamed ssh client -----------------------------------------------------------------------


def test_renamed_ssh_client_with_R_is_stopped(
    supervised: Callable[..., Run], clean_sshd: SshServer
) -> None:
    """The agent copies ssh into its workspace as `sync-helper`: the exec rules know ssh by
    name, so this is what the tunnel behaviour (or argument patterns) must catch."""
    run = supervised()
    remote = free_port()
    forward = f"{remote}:{TARGET}"
    key = agent_key(clean_sshd, run.workspace)
    client = clean_sshd.client_argv(
        "-N", "-R", forward, "root@127.0.0.1", program="./sync-helper", key=key
    )
    script = agent_script(run.workspace, client, prelude=f"cp {SSH} ./sync-helper")
    with ListenWatch(remote) as watch:
        relay = start_with_relay(run, clean_sshd, ["sh", script])
        try:
            outcome = run.finish(timeout=20)
        finally:
            relay.close()
    rules = fired(outcome)
    assert rules & {"CR-TUN-001", "CR-SUP-002"}, (
        f"nothing stopped the renamed ssh (denies: {sorted(rules) or 'none'}; forward opened: "
        f"{watch.seen}; ssh exit: {status(run.workspace)})"
    )
    assert not watch.seen, f"the forward opened on the host before {sorted(rules)} acted"
    assert processes_with(forward) == []
    # Judged as ssh at exec, with the disguise in the evidence and the reason.
    stop = next(e for e in outcome.events if e.kind == "exec" and e.step == "stop")
    assert stop.action is not None and stop.action["argv"][0] == "ssh"
    assert stop.decision is not None and "sync-helper is a copy of" in stop.decision.reason
    identified = (stop.evidence or {})["identified"]
    assert identified["argv0"] == "./sync-helper" and identified["how"] == "copy"


# -- d: a forward only a config file asks for, with the network fence degraded ---------------------


def test_tunnel_set_in_an_ssh_config_is_killed_by_the_behaviour_detector(
    corral: list[str], tmp_path: Path, clean_sshd: SshServer
) -> None:
    """`--degraded=net` lets the agent reach the host's sshd directly. Its command line
    (`ssh -N -F FILE host`) carries no forward, so the exec rules allow it; the tunnel profile
    (CR-SUP-002: ssh holding a remote forward on a live connection) must kill it."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    log = tmp_path / "decisions.jsonl"
    remote = free_port()
    config = workspace / f"sync-{uuid.uuid4().hex[:8]}.conf"
    config.write_text(
        textwrap.dedent(
            f"""\
            Host 127.0.0.1
              Port {clean_sshd.port}
              User root
              IdentityFile {agent_key(clean_sshd, workspace)}
              RemoteForward {remote} {TARGET}
              ExitOnForwardFailure yes
            """
        )
    )
    client = [str(SSH), "-N", "-F", str(config), *CLIENT_OPTIONS, "127.0.0.1"]
    script = agent_script(workspace, client, prelude="touch ready")
    with ListenWatch(remote) as watch:
        done = corral_run(corral, workspace, log, script)
    text = log.read_text()
    kills = [
        rule["id"]
        for record in map(json.loads, text.splitlines())
        if record["decision"].get("supervisor", {}).get("step") == "kill"
        for rule in record["decision"]["rules"]
    ]
    assert kills == ["CR-SUP-002"], (
        f"the tunnel was not killed (forward opened: {watch.seen}; exit {done.returncode}; "
        f"ssh exit: {status(workspace)})\n{done.stderr[-1500:]}"
    )
    assert done.returncode == 137
    assert not listening(remote)
    assert processes_with(config.name) == []
