"""Egress helpers: address spellings, loopback and guarded ranges."""

from __future__ import annotations

import pytest

from corral.policy.egress import EgressAllowlist, is_guarded, is_loopback, parse_ip


@pytest.mark.parametrize(
    ("spelling", "address"),
    [
        ("2852039166", "169.254.169.254"),
        ("0xa9fea9fe", "169.254.169.254"),
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("127.1", "127.0.0.1"),
    ],
)
def test_legacy_ipv4_spellings(spelling: str, address: str) -> None:
    assert str(parse_ip(spelling)) == address


@pytest.mark.parametrize(
    "host", ["localhost", "127.0.0.1", "127.8.9.1", "::1", "::ffff:127.0.0.1", "app.localhost"]
)
def test_loopback(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["example.com", "10.0.0.1", "localhost.example.com", "1.2.3.4"])
def test_not_loopback(host: str) -> None:
    assert not is_loopback(host)


@pytest.mark.parametrize(
    "host",
    [
        "169.254.169.254",
        "fd00:ec2::254",
        "metadata.google.internal",
        "100.100.1.1",
        "0.0.0.0",
        "fe80::1",
    ],
)
def test_guarded(host: str) -> None:
    assert is_guarded(host)


def test_allowlist_forms() -> None:
    allow = EgressAllowlist.build(["*.example.com", "api.other.net:8443", "10.1.0.0/16"], "t")
    assert allow.allows("a.example.com", 443)
    assert not allow.allows("example.com.evil.net", 443)
    assert allow.allows("api.other.net", 8443)
    assert not allow.allows("api.other.net", 443)
    assert allow.allows("10.1.200.3", 22)
    assert allow.names("10.1.200.3", 22)
    assert not allow.names("a.example.com", 443)
