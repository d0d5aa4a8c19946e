"""Policy files: built-ins, extends, overrides, exceptions, and errors that point at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral import Guard
from corral.policy.loader import load_policy
from corral.util.yamlfile import SourceError


def write(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def rule_ids(guard: Guard, action: dict[str, object]) -> set[str]:
    return {r.id for r in guard.decide(action).rules}


def test_builtins_load() -> None:
    assert load_policy("default").name == "default"
    assert load_policy("permissive").spec.egress.open


def test_default_egress_allows_registries_and_loopback_only() -> None:
    guard = Guard("default")
    ok = [
        ("pypi.org", 443),
        ("files.pythonhosted.org", 443),
        ("127.0.0.1", 8000),
        ("localhost", 5432),
        ("::1", 80),
    ]
    for host, port in ok:
        assert guard.decide({"kind": "net", "host": host, "port": port}).decision == "allow", host
    denied = guard.decide({"kind": "net", "host": "example.com", "port": 443})
    assert denied.decision == "deny"
    assert denied.rules[0].id == "CR-POL-001"
    assert "example.com" in denied.reason


@pytest.mark.parametrize(
    "host",
    [
        "169.254.169.254",
        "10.0.0.5",
        "192.168.1.1",
        "fd00:ec2::254",
        "metadata.google.internal",
        "2852039166",
        "0xa9fea9fe",
        "::ffff:169.254.169.254",
    ],
)
def test_guarded_addresses_need_naming(host: str) -> None:
    decision = Guard("default").decide({"kind": "net", "host": host, "port": 80})
    assert decision.decision == "deny"
    assert "CR-POL-002" in {r.id for r in decision.rules}


def test_naming_a_private_network_opens_it(tmp_path: Path) -> None:
    path = write(tmp_path, "name: lab\nextends: default\negress:\n  allow: ['10.1.0.0/16']\n")
    guard = Guard(path)
    assert guard.decide({"kind": "net", "host": "10.1.2.3", "port": 5432}).decision == "allow"
    assert guard.decide({"kind": "net", "host": "10.2.0.1", "port": 5432}).decision == "deny"
    # extends adds to the parent's list rather than replacing it
    assert guard.decide({"kind": "net", "host": "pypi.org", "port": 443}).decision == "allow"


def test_wildcards_do_not_open_guarded_addresses(tmp_path: Path) -> None:
    path = write(tmp_path, "name: wide\negress:\n  allow: ['*']\n")
    guard = Guard(path)
    assert guard.decide({"kind": "net", "host": "example.org", "port": 443}).decision == "allow"
    assert guard.decide({"kind": "net", "host": "169.254.169.254", "port": 80}).decision == "deny"


def test_workspace_and_cwd_never_widen_it(tmp_path: Path) -> None:
    guard = Guard("default", workspace=[str(tmp_path)])
    inside = {"kind": "file", "op": "write", "path": str(tmp_path / "a.txt")}
    assert guard.decide(inside).decision == "allow"
    relative_escape = {
        "kind": "file",
        "op": "write",
        "path": "../../etc/cron.d/x",
        "cwd": str(tmp_path),
    }
    assert guard.decide(relative_escape).decision == "deny"
    elsewhere = {"kind": "file", "op": "write", "path": "notes.txt", "cwd": "/etc"}
    assert "CR-POL-003" in rule_ids(guard, elsewhere)
    assert (
        guard.decide({"kind": "file", "op": "read", "path": "/etc/os-release"}).decision == "allow"
    )


def test_policy_file_itself_is_protected_even_when_permissive(tmp_path: Path) -> None:
    path = write(tmp_path, "name: mine\nextends: permissive\n")
    guard = Guard(path)
    decision = guard.decide(
        {"kind": "file", "op": "write", "path": str(path), "content": "mode: monitor"}
    )
    assert decision.decision == "deny"
    assert "CR-POL-004" in {r.id for r in decision.rules}
    state = guard.decide({"kind": "file", "op": "delete", "path": "~/.corral/state.db"})
    assert "CR-POL-004" in {r.id for r in state.rules}


def test_spend_budget_and_currency(tmp_path: Path) -> None:
    assert (
        Guard("default").decide({"kind": "spend", "amount": 0.01, "currency": "USD"}).decision
        == "deny"
    )
    assert (
        Guard("default").decide({"kind": "spend", "amount": 0, "currency": "USD"}).decision
        == "allow"
    )
    path = write(tmp_path, "name: b\nextends: default\nspend: {budget: 10, currency: EUR}\n")
    guard = Guard(path)
    assert guard.decide({"kind": "spend", "amount": 9, "currency": "eur"}).decision == "allow"
    assert guard.decide({"kind": "spend", "amount": 11, "currency": "EUR"}).decision == "deny"
    assert guard.decide({"kind": "spend", "amount": 1, "currency": "USD"}).decision == "ask"


def test_program_deny_list(tmp_path: Path) -> None:
    path = write(tmp_path, "name: p\nextends: default\nprograms:\n  deny: [terraform]\n")
    decision = Guard(path).decide({"kind": "exec", "argv": ["terraform", "apply"]})
    assert "CR-POL-005" in {r.id for r in decision.rules}


def test_overrides_and_exceptions(tmp_path: Path) -> None:
    text = (
        "name: o\nextends: default\nrules:\n  CR-POL-001: {decision: ask, severity: medium}\n"
        "exceptions:\n  - rules: [CR-POL-002]\n"
        "    when: {target: {host: ['10.9.9.9']}}\n    reason: our build cache\n"
    )
    guard = Guard(write(tmp_path, text))
    assert guard.decide({"kind": "net", "host": "example.com", "port": 443}).decision == "ask"
    assert guard.decide({"kind": "net", "host": "10.9.9.9", "port": 443}).decision == "allow"
    assert guard.decide({"kind": "net", "host": "10.9.9.8", "port": 443}).decision == "deny"
    explained = guard.explain({"kind": "net", "host": "10.9.9.9", "port": 443})
    assert explained.judgement is not None
    assert ("CR-POL-002", "our build cache") in explained.judgement.excepted


def test_disabling_a_clause(tmp_path: Path) -> None:
    guard = Guard(
        write(tmp_path, "name: o\nextends: default\nrules:\n  CR-POL-001: {enabled: false}\n")
    )
    assert guard.decide({"kind": "net", "host": "example.com", "port": 443}).decision == "allow"


def test_monitor_mode_allows_but_reports(tmp_path: Path) -> None:
    guard = Guard(write(tmp_path, "name: m\nextends: default\nmode: monitor\n"))
    decision = guard.decide({"kind": "net", "host": "example.com", "port": 443})
    assert decision.decision == "allow"
    assert decision.would_decide == "deny"
    assert decision.to_dict()["mode"] == "monitor"


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        ("name: x\negress:\n  alow: [a]\n", 3, "egress.alow", "Extra inputs"),
        ("name: x\nmode: loud\n", 2, "mode", "enforce"),
        (
            "name: x\nrules:\n  CR-NOPE-999: {enabled: false}\n",
            3,
            "rules.CR-NOPE-999",
            "unknown rule id",
        ),
        (
            "name: x\nexceptions:\n  - rules: [CR-POL-001]\n"
            "    when: {target: {hots: [a]}}\n    reason: typo here\n",
            4,
            "target.hots",
            "unknown field",
        ),
        (
            "name: x\nexceptions:\n  - when: {kind: [exec]}\n    reason: no rules named\n",
            3,
            "exceptions[0].rules",
            "required",
        ),
        ("name: x\negress: [\n", 3, "", "invalid YAML"),
        ("name: x\nname: y\n", 2, "", "duplicate key"),
        ("- just\n- a list\n", 1, "", "mapping"),
        ("name: x\nextends: nowhere.yaml\n", 0, "", "not found"),
    ],
)
def test_bad_policies_point_at_file_line_and_field(
    tmp_path: Path, text: str, line: int, field: str, words: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SourceError) as info:
        load_policy(path)
    err = info.value
    assert words in str(err)
    assert err.line == line
    assert field in err.field
    assert "policy.yaml" in err.file or "nowhere" in err.file


def test_extends_loop_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "name: a\nextends: b.yaml\n", "a.yaml")
    write(tmp_path, "name: b\nextends: a.yaml\n", "b.yaml")
    with pytest.raises(SourceError, match="loop"):
        load_policy(tmp_path / "a.yaml")
