"""``corral approvals`` and ``corral budget`` against a real ledger (either backend)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from corral.cli.main import cli
from corral.ledger import Subjects, open_ledger
from corral.ledger.model import Limit


def test_approvals_list_approve_deny(ledger_url: str) -> None:
    ledger = open_ledger(ledger_url)
    first = ledger.request_approval(
        "fp-a", "spend 30 USD to acme", ttl=600, subjects=Subjects(agent="a1")
    )
    second = ledger.request_approval("fp-b", "aws ec2 run-instances", ttl=600)
    ledger.close()
    runner = CliRunner()
    listed = runner.invoke(cli, ["approvals", "list", "--ledger", ledger_url, "--json"])
    assert listed.exit_code == 0, listed.output
    assert {a["id"] for a in json.loads(listed.output)} == {first.id, second.id}
    ok = runner.invoke(
        cli,
        [
            "approvals",
            "approve",
            first.id,
            "--ledger",
            ledger_url,
            "--reason",
            "budgeted",
            "--by",
            "ops",
        ],
    )
    assert ok.exit_code == 0 and "approved by ops" in ok.output
    no = runner.invoke(
        cli,
        ["approvals", "deny", second.id, "--reason", "not now"],
        env={"CORRAL_LEDGER_URL": ledger_url},
    )
    assert no.exit_code == 0 and "denied" in no.output
    again = runner.invoke(
        cli, ["approvals", "approve", second.id, "--ledger", ledger_url, "--reason", "x"]
    )
    assert again.exit_code == 2 and "not pending" in again.output
    missing = runner.invoke(
        cli, ["approvals", "deny", "--reason", "x", "--ledger", ledger_url, "ap-nothing"]
    )
    assert missing.exit_code == 2 and "no approval" in missing.output
    everything = runner.invoke(
        cli, ["approvals", "list", "--all", "--ledger", ledger_url, "--json"]
    )
    states = {
        a["id"]: (a["state"], a["decided_by"], a["reason"]) for a in json.loads(everything.output)
    }
    assert states[first.id] == ("approved", "ops", "budgeted")
    assert states[second.id][0] == "denied" and states[second.id][2] == "not now"
    pending = runner.invoke(cli, ["approvals", "list", "--ledger", ledger_url])
    assert pending.output.strip() == "no pending approvals"


def test_budget_show(ledger_url: str) -> None:
    ledger = open_ledger(ledger_url)
    limits = [Limit("agent", "day", "USD", hard=0)]
    ledger.record_usage("USD", 0, Subjects(agent="a1"), limits)
    ledger.close()
    runner = CliRunner()
    shown = runner.invoke(cli, ["budget", "show", "--ledger", ledger_url, "--json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert data["policy"] == "default"
    assert {"scope": "agent", "window": "day", "unit": "USD", "hard": "0 USD", "soft": None} in (
        data["limits"]
    )
    assert data["usage"][0]["subject"] == "a1"
    text = runner.invoke(cli, ["budget", "show", "--ledger", ledger_url])
    assert "agent budget per day (hard 0 USD)" in text.output
    bad = runner.invoke(cli, ["budget", "show", "--ledger", "mysql://x/y"])
    assert bad.exit_code == 2 and "not supported" in bad.output
