"""`corral policy validate|test`, `corral explain` and `corral rules` as real processes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path


def run(corral: list[str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*corral, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def test_validate_builtin_and_file(corral: list[str], tmp_path: Path) -> None:
    assert "ok: policy 'default'" in run(corral, "policy", "validate", "default").stdout
    good = tmp_path / "good.yaml"
    good.write_text("name: good\nextends: default\negress:\n  allow: ['*.example.com']\n")
    result = run(corral, "policy", "validate", str(good))
    assert result.returncode == 0
    assert "8 egress entries" in result.stdout


def test_validate_reports_file_line_field(corral: list[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nspend:\n  budget: -5\n")
    result = run(corral, "policy", "validate", str(bad))
    assert result.returncode == 2
    assert f"{bad}:3 [spend.budget]" in result.stderr
    assert "Traceback" not in result.stderr


def test_policy_test_passes_and_fails(corral: list[str], tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "name: p\nextends: default\ntests:\n"
        "  - {name: registry, action: {kind: net, host: pypi.org, port: 443}, expect: allow}\n"
        "  - {name: wrong on purpose, expect: allow,\n"
        "     action: {kind: net, host: example.com, port: 443}}\n"
        "  - {name: clause, expect: deny, rules: [CR-POL-001],\n"
        "     action: {kind: net, host: example.com, port: 443}}\n"
    )
    result = run(corral, "policy", "test", str(policy))
    assert result.returncode == 1
    assert "FAIL wrong on purpose: expected allow, got deny" in result.stdout
    # the inherited default tests run too (extends adds tests)
    assert "failed" in result.stdout.splitlines()[-1]
    assert "1 failed" in result.stdout


def test_policy_without_tests_is_an_error(corral: list[str], tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("name: p\n")
    result = run(corral, "policy", "test", str(policy))
    assert result.returncode == 2
    assert "no tests" in result.stderr


def test_explain_json_shows_findings_and_analysis(corral: list[str]) -> None:
    action = {"kind": "http", "method": "GET", "url": "http://169.254.169.254/latest/meta-data/"}
    result = run(corral, "explain", "--json", json.dumps(action))
    assert result.returncode == 0
    data = json.loads(result.stdout)
    assert data["decision"]["decision"] == "deny"
    assert data["analysis"]["targets"][0]["host"] == "169.254.169.254"
    clauses = {f["id"]: f["clause"] for f in data["findings"]}
    assert clauses["CR-POL-002"] == "egress.allow"


def test_explain_for_people(corral: list[str]) -> None:
    result = run(
        corral, "explain", "-", stdin='{"kind": "net", "host": "example.com", "port": 443}'
    )
    assert result.returncode == 0
    assert "DENY" in result.stdout
    assert "CR-POL-001" in result.stdout
    assert "egress.allow" in result.stdout


def test_explain_malformed_action(corral: list[str]) -> None:
    result = run(corral, "explain", "--json", '{"kind": "net", "host": "x"}')
    data = json.loads(result.stdout)
    assert data["decision"]["decision"] == "deny"
    assert "port" in data["decision"]["error"]
    assert run(corral, "explain", "{nope").returncode == 2


def test_rules_list_and_show(corral: list[str]) -> None:
    listed = json.loads(run(corral, "rules", "list", "--json").stdout)
    ids = [r["id"] for r in listed]
    assert "CR-TUN-001" in ids
    assert len(ids) == len(set(ids))
    shown = json.loads(run(corral, "rules", "show", "cr-tun-001").stdout)
    assert shown["attack"] == ["T1572", "T1021.004"]
    assert shown["examples"]["match"]
    missing = run(corral, "rules", "show", "CR-NOPE-001")
    assert missing.returncode == 2
