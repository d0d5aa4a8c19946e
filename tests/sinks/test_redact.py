"""Redaction: secrets never reach the decision log, and each redaction says where and what."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corral.sinks import Redaction, RedactionPattern, Redactor, default_redactor
from corral.sinks.redact import secret_name_kind

STRIPE = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
AWS_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GITHUB = "ghp_" + "x7" * 18
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


def redact_text(text: str) -> tuple[str, tuple[str, ...]]:
    return default_redactor().redact_text(text)


@pytest.mark.parametrize(
    ("text", "secret", "kind"),
    [
        ("mysql -u root -pS3cretPass db", "S3cretPass", "password"),
        ("mysql -h db -u root -p S3cretPass", "S3cretPass", "password"),
        ("sshpass -p hunter2 ssh deploy@host", "hunter2", "password"),
        ("psql --password=Pg-Pass-99 -h db", "Pg-Pass-99", "password"),
        ("vault login --token s.AbCdEf123456", "s.AbCdEf123456", "secret"),
        (
            "curl -H 'Authorization: Bearer abc.def.ghi123' https://x",
            "abc.def.ghi123",
            "authorization",
        ),
        (f"AWS_SECRET_ACCESS_KEY={AWS_SECRET} aws s3 ls", AWS_SECRET, "aws-secret-key"),
        ("git clone https://bob:pa55w0rd@github.com/org/repo", "pa55w0rd", "password"),
        ("curl 'https://api.example.com/v1/x?token=tok123&page=2'", "tok123", "secret"),
        ("https://acct.blob.core.windows.net/c/b?sv=2020&sig=AbC%2Bd3f", "AbC%2Bd3f", "secret"),
        ("curl -u admin:Adm1nPw https://x", "Adm1nPw", "password"),
        ("redis-cli -h cache -a foobared ping", "foobared", "password"),
        ("export GITHUB_TOKEN=" + GITHUB, GITHUB, "github-token"),
        ("stripe charge with " + STRIPE, STRIPE, "stripe-key"),
        ("echo " + AWS_ID, AWS_ID, "aws-access-key"),
        ("gh auth login --with-token github_pat_11ABCDEFG0123456789_abcdefghijklmnop", None, None),
        (
            "SLACK=xoxb-1234567890-0987654321-AbCdEfGhIj",
            "xoxb-1234567890-0987654321-AbCdEfGhIj",
            None,
        ),
        ("key sk-ant-api03-" + "Q" * 40, "sk-ant-api03-" + "Q" * 40, "anthropic-key"),
        ("key sk-proj-" + "Z9" * 20, "sk-proj-" + "Z9" * 20, "openai-key"),
        ("curl -H 'Cookie: session=abc123; theme=dark' x", "session=abc123", "secret"),
        (JWT, JWT, "jwt"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA\n"
            "-----END OPENSSH PRIVATE KEY-----",
            "b3BlbnNzaC1rZXktdjEAAAA",
            "private-key",
        ),
        ('curl -d \'{"password": "p@ss word", "user": "bob"}\' https://x', "p@ss word", "password"),
        ('{\\"client_secret\\":\\"cs-123\\"}', "cs-123", "secret"),
    ],
)
def test_text_secrets_are_replaced(text: str, secret: str | None, kind: str | None) -> None:
    redacted, kinds = redact_text(text)
    assert kinds, redacted
    if secret is not None:
        assert secret not in redacted
    if kind is not None:
        assert f"[REDACTED:{kind}]" in redacted
        assert kind in kinds


@pytest.mark.parametrize(
    "text",
    [
        "ssh -p 2222 deploy@203.0.113.7",
        "mkdir -p /workspace/build && cp -p a b",
        "git push -u origin main",
        "echo monkey=banana token_count=5",
        "aws secretsmanager get-secret-value --secret-id prod/db",
        "pip install --index-url https://pypi.org/simple requests",
        "export TOKENIZERS_PARALLELISM=false SSH_AUTH_SOCK=/tmp/agent.1",
        "curl -s https://pypi.org/simple/requests/",
    ],
)
def test_harmless_text_is_kept(text: str) -> None:
    assert redact_text(text) == (text, ())


def test_quoted_secrets_keep_their_quotes() -> None:
    redacted, _ = redact_text('{"password": "hunter2", "user": "bob"}')
    assert json.loads(redacted) == {"password": "[REDACTED:password]", "user": "bob"}


def test_structured_action_records_paths_and_kinds() -> None:
    action: dict[str, Any] = {
        "kind": "http",
        "method": "POST",
        "url": "https://bob:Sup3rSecret@api.example.com/v1/charges?api_key=k-123&page=1",
        "headers": {"Authorization": "Bearer t0ken-value", "X-Request-Id": "r-1"},
        "body": {"password": "hunter2", "card": {"client_secret": "cs_1"}, "max_tokens": 50},
        "env": {"AWS_ACCESS_KEY_ID": AWS_ID, "AWS_SECRET_ACCESS_KEY": AWS_SECRET, "HOME": "/root"},
    }
    copy, found = default_redactor().redact(action, "$.decision.action")
    text = json.dumps(copy)
    for secret in ("Sup3rSecret", "k-123", "t0ken-value", "hunter2", "cs_1", AWS_ID, AWS_SECRET):
        assert secret not in text
    assert copy["body"]["max_tokens"] == 50
    assert copy["env"]["HOME"] == "/root"
    assert copy["headers"]["X-Request-Id"] == "r-1"
    assert set(found) == {
        Redaction("$.decision.action.url", "password"),
        Redaction("$.decision.action.url", "secret"),
        Redaction("$.decision.action.headers.Authorization", "authorization"),
        Redaction("$.decision.action.body.password", "password"),
        Redaction("$.decision.action.body.card.client_secret", "secret"),
        Redaction("$.decision.action.env.AWS_ACCESS_KEY_ID", "aws-access-key"),
        Redaction("$.decision.action.env.AWS_SECRET_ACCESS_KEY", "aws-secret-key"),
    }
    assert action["body"]["password"] == "hunter2"  # the input is not modified


def test_paths_quote_odd_keys_and_index_lists() -> None:
    _, found = default_redactor().redact({"a b": [{"x": "echo " + AWS_ID}]})
    assert found == [Redaction("$['a b'][0].x", "aws-access-key")]


def test_secret_in_a_field_name_is_redacted_too() -> None:
    copy, found = default_redactor().redact({GITHUB: True})
    assert GITHUB not in json.dumps(copy)
    assert found[0].kind == "github-token"


def test_secret_named_containers_hide_every_leaf_but_keep_structure() -> None:
    copy, _ = default_redactor().redact({"credentials": {"user": "bob", "pin": 1234, "ok": True}})
    assert copy == {
        "credentials": {"user": "[REDACTED:secret]", "pin": "[REDACTED:secret]", "ok": True}
    }


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("password", "password"),
        ("PGPASSWORD", "password"),
        ("MYSQL_PWD", "password"),
        ("apiKey", "secret"),
        ("X-Api-Key", "secret"),
        ("GITHUB_TOKEN", "secret"),
        ("client_secret", "secret"),
        ("Authorization", "authorization"),
        ("AWS_SECRET_ACCESS_KEY", "aws-secret-key"),
        ("SSH_AUTH_SOCK", None),
        ("POSTGRES_PASSWORD_FILE", None),
        ("TOKENIZERS_PARALLELISM", None),
        ("max_tokens", None),
        ("public_key", None),
        ("command", None),
    ],
)
def test_secret_names(name: str, kind: str | None) -> None:
    assert secret_name_kind(name) == kind


def test_extra_patterns_and_names() -> None:
    redactor = Redactor(
        extra_patterns=[
            RedactionPattern("corp-token", r"ctk_[a-z0-9]{12}"),
            RedactionPattern("vault-pass", re.compile(r"--vault-pass\s+(?P<secret>\S+)", re.I)),
        ],
        extra_names=["X-Corp-Session"],
    )
    text, kinds = redactor.redact_text("deploy ctk_abcdef123456 --VAULT-PASS opensesame")
    assert text == "deploy [REDACTED:corp-token] --VAULT-PASS [REDACTED:vault-pass]"
    assert kinds == ("corp-token", "vault-pass")
    copy, _ = redactor.redact({"headers": {"x-corp-session": "s1"}})
    assert copy == {"headers": {"x-corp-session": "[REDACTED:secret]"}}


@pytest.mark.parametrize(
    ("kind", "pattern"),
    [
        ("Bad Kind", "x"),
        ("broken", "("),
        ("empty", "a*"),
        ("backref", r"(a)\1"),
        ("named", r"(?P<other>a)"),
    ],
)
def test_bad_extra_patterns_are_refused(kind: str, pattern: str) -> None:
    with pytest.raises(ValueError):
        Redactor(extra_patterns=[RedactionPattern(kind, pattern)])


# -- properties ----------------------------------------------------------------------------------

_KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
aws_keys = st.builds(
    lambda prefix, body: prefix + body,
    st.sampled_from(["AKIA", "ASIA"]),
    st.text(alphabet=_KEY_CHARS, min_size=16, max_size=16),
)
# Surroundings built from the characters and words the patterns care about, so the property
# explores the contexts where a key could slip between two matches.
_FRAGMENTS = [
    " ", "=", ":", "\"", "'", "\\", "@", "/", "?", "&", "-", "--", "-p", "-u ", "://", "\n",
    "password", "token", "key", "auth", "Bearer ", "Authorization: ", "mysql ", "https://",
    "AKIA", "ghp_", "sk-", "eyJ", "x", "Z", "9", "_", ".", ",", ";", "{", "}", "é", "İ", "+",
    "x-api-key", "set-", "cookie", "secret", "sshpass ", "redis-cli ", "git+ssh", "--user ",
]  # fmt: skip
surroundings = st.lists(st.sampled_from(_FRAGMENTS), max_size=12).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(aws_keys, surroundings, surroundings)
def test_an_aws_key_never_leaks_from_text(key: str, before: str, after: str) -> None:
    redacted, kinds = redact_text(before + key + after)
    assert key not in redacted
    assert kinds


json_leaves = st.one_of(st.integers(), st.booleans(), st.none(), surroundings)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_an_aws_key_never_leaks_from_structures(data: st.DataObject) -> None:
    key = data.draw(aws_keys)
    tree: Any = data.draw(
        st.recursive(
            json_leaves,
            lambda inner: (
                st.lists(inner, max_size=3) | st.dictionaries(surroundings, inner, max_size=3)
            ),
            max_leaves=8,
        )
    )
    where = data.draw(st.sampled_from(["value", "key", "list"]))
    text = data.draw(surroundings) + key + data.draw(surroundings)
    planted = {"v": [tree, {"x": text}]} if where == "value" else {text: tree, "y": [text]}
    if where == "list":
        planted = {"z": [tree, [text]]}
    copy, found = default_redactor().redact(planted)
    assert key not in json.dumps(copy, ensure_ascii=False)
    assert found


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([*_FRAGMENTS, STRIPE, GITHUB, "secret", "sig", "cookie"]), max_size=16)
)
def test_trigger_scan_matches_a_full_search(parts: list[str]) -> None:
    """The fast scan (patterns tried only at trigger positions) finds what trying every
    position finds."""
    redactor = default_redactor()
    text = "".join(parts)
    fast_kinds: list[str] = []
    fast = redactor._scan(text, fast_kinds)
    full_kinds: list[str] = []
    full = redactor._scan(text, full_kinds, everywhere=True)
    assert (fast, fast_kinds) == (full, full_kinds)


@pytest.mark.parametrize(
    "unit",
    [
        "mysql ",
        "key",
        "a://",
        '"key"',
        "-u x ",
        "bearer ",
        "--token ",
        "x-api-key:",
        '"password":"',
    ],
)
def test_pathological_repetitions_are_scanned_once(unit: str) -> None:
    """Inputs that made an earlier, per-position design quadratic (an agent controls them)."""
    text = unit * (20_000 // len(unit)) + " " + AWS_ID
    redacted, kinds = redact_text(text)
    assert AWS_ID not in redacted and "aws-access-key" in kinds
