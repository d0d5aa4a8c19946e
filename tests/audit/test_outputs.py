"""Every output format: complete, well-formed, escaped, and free of planted secret values."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml
from audit_support import HTML_VARIABLE, SECRETS, Planted
from rich.console import Console

from corral.audit import Report, compare, run_audit, summary_line
from corral.audit.catalog import KINDS
from corral.audit.config import Endpoint
from corral.audit.output.html import to_html
from corral.audit.output.policy import policy_yaml, write_policy
from corral.audit.output.sarif import to_sarif
from corral.audit.output.terminal import render, render_comparison
from corral.audit.summary import report_json
from corral.cli.policy import run_policy_tests
from corral.engine.guard import Guard
from corral.policy.loader import load_policy


@pytest.fixture
def full_report(planted: Planted, metadata_server: dict[str, Endpoint]) -> Report:
    return run_audit(planted.config(metadata_endpoints=tuple(metadata_server.values())))


def terminal_text(report: Report) -> str:
    buffer = io.StringIO()
    render(report, Console(file=buffer, width=200, color_system=None))
    return buffer.getvalue()


def all_outputs(report: Report) -> dict[str, str]:
    return {
        "json": json.dumps(report_json(report)),
        "sarif": json.dumps(to_sarif(report)),
        "html": to_html(report),
        "terminal": terminal_text(report),
        "policy": policy_yaml(report),
        "summary": summary_line(report),
    }


def test_no_secret_value_in_any_output(full_report: Report) -> None:
    for name, text in all_outputs(full_report).items():
        for label, secret in SECRETS.items():
            assert secret not in text, f"{label} secret leaked into {name} output"


def test_json_round_trips(full_report: Report) -> None:
    data = report_json(full_report)
    again = Report.from_dict(json.loads(json.dumps(data)))
    assert again.findings and {f.key for f in again.findings} == {
        f.key for f in full_report.findings
    }
    assert data["summary"]["level"] == "critical"


def test_sarif_shape(full_report: Report) -> None:
    sarif = to_sarif(full_report)
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")
    run = sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert len({r["id"] for r in rules}) == len(rules) == len(KINDS) - 1
    assert len(run["results"]) == len(full_report.risks)
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        assert result["locations"] and result["message"]["text"]
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for r in run["results"]
        for loc in r["locations"]
        if "physicalLocation" in loc
    }
    assert any(u.startswith("file:///") and u.endswith("/.aws/credentials") for u in uris)
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert len(notes) == len(full_report.errors) > 0


def test_html_is_self_contained_and_escaped(full_report: Report) -> None:
    page = to_html(full_report)
    assert page.startswith("<!DOCTYPE html>") and "default-src 'none'" in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "http://" not in page.split("<body>")[0].replace("http-equiv", "")  # nothing remote
    assert "Risk summary" in page


def test_terminal_prints_markup_and_control_characters_literally(planted: Planted) -> None:
    env = {"[bold red]EVIL_TOKEN": "x" * 20, "\x1b[2JCLEAR_TOKEN": "y" * 20}
    report = run_audit(planted.config(env=env, only=("env-secrets",)))
    text = terminal_text(report)
    assert "[bold red]EVIL_TOKEN" in text
    assert "\x1b" not in text and "\\x1b[2JCLEAR_TOKEN" in text


def test_summary_line(full_report: Report) -> None:
    line = summary_line(full_report)
    assert line.startswith("corral audit: ") and "critical" in line and "\n" not in line
    assert "could not be checked" in line


def test_written_policy_loads_and_its_own_tests_pass(full_report: Report, tmp_path: Path) -> None:
    path = tmp_path / "fence.yaml"
    write_policy(full_report, path)
    policy = load_policy(path)  # raises with file:line if the policy is invalid
    data = yaml.safe_load(path.read_text())
    assert data["extends"] == "default"
    assert all(Path(p).is_absolute() for p in data["protected"])
    for key in ("aws", "netrc", "ssh_plain", "pypirc", "dotenv"):
        assert str(planted_path(full_report, key)) in data["protected"]
    assert {"aws", "kubectl"} <= set(data["programs"]["deny"])
    assert data["egress"] == {"loopback": False}  # the fake metadata service listened there
    failures = run_policy_tests(Guard(path))
    assert failures == []
    assert len(policy.spec.tests) > 10


def planted_path(report: Report, key: str) -> str:
    suffix = {
        "aws": "/.aws/credentials",
        "netrc": "/.netrc",
        "ssh_plain": "/.ssh/id_ed25519",
        "pypirc": "/.pypirc",
        "dotenv": "/work/.env",
    }[key]
    return next(e for f in report.risks for e in f.evidence if e.endswith(suffix))


def test_inside_the_fence_comparison(planted: Planted) -> None:
    outside = run_audit(planted.config(only=("env-secrets", "credential-files")))
    fenced_home = planted.base / "fenced-home"
    fenced_home.mkdir()
    inside = run_audit(
        planted.config(
            only=("env-secrets", "credential-files"),
            env={"PATH": "/usr/bin", "HOME": str(fenced_home)},
            home=fenced_home,
            workdir=fenced_home,
            root=fenced_home,
            inside_sandbox=True,
        )
    )
    comparison = compare(outside, inside)
    assert comparison.clean and not comparison.remaining
    assert f"env:{HTML_VARIABLE}" in {e for f in comparison.fenced for e in f.evidence}
    assert summary_line(inside).startswith("corral audit inside the fence: no risks found")
    buffer = io.StringIO()
    render_comparison(comparison, Console(file=buffer, width=160, color_system=None))
    assert "Inside the fence: clean" in buffer.getvalue()
