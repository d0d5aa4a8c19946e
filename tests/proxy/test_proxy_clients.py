"""Real clients through the proxy to real local servers: what the policy names works, the rest is
refused with a reason the client can show."""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from proxy_support import file_server, running_proxy, sink_server, tcp_port, write_policy

from corral.proxy import ProxyService
from corral.sinks import DecisionLog, verify

CLEAN_ENV = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    root = tmp_path_factory.mktemp("site")
    (root / "hello.txt").write_text("hello from the package host\n")
    _simple_index(root)
    _dumb_git_repo(root, tmp_path_factory.mktemp("work"))
    with file_server(root) as port:
        yield root, port


@pytest.fixture(scope="module")
def proxy(
    site: tuple[Path, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ProxyService, int, Path]]:
    _, port = site
    folder = tmp_path_factory.mktemp("proxy")
    policy = write_policy(folder, [f"pkgs.test:{port}", "*.corp.test", f"127.0.0.1:{port}"])
    log_path = folder / "decisions.jsonl"
    with DecisionLog(log_path, sync="batch") as log, running_proxy(policy, log=log) as service:
        address = service.add_tcp("127.0.0.1", 0)
        yield service, tcp_port(address), log_path


def _simple_index(root: Path) -> None:
    """A one-package PEP 503 index with a wheel built here (a wheel is a zip with metadata)."""
    wheel = root / "files" / "corraltestpkg-0.1-py3-none-any.whl"
    wheel.parent.mkdir()
    info = "corraltestpkg-0.1.dist-info"
    files = {
        "corraltestpkg/__init__.py": "VALUE = 1\n",
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: corraltestpkg\nVersion: 0.1\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
        archive.writestr(f"{info}/RECORD", record)
    index = root / "simple" / "corraltestpkg"
    index.mkdir(parents=True)
    link = f'<a href="../../files/{wheel.name}">{wheel.name}</a>'
    (index / "index.html").write_text(f"<!DOCTYPE html><html><body>{link}</body></html>\n")


def _dumb_git_repo(root: Path, work: Path) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q", str(work)], check=True)
    (work / "README").write_text("cloned through the proxy\n")
    subprocess.run([*git, "-C", str(work), "add", "README"], check=True)
    subprocess.run([*git, "-C", str(work), "commit", "-qm", "first"], check=True)
    bare = root / "repo.git"
    subprocess.run([*git, "clone", "-q", "--bare", str(work), str(bare)], check=True)
    subprocess.run(["git", "-C", str(bare), "update-server-info"], check=True)


def _curl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "-sS", "--max-time", "10", *args],
        check=False,
        capture_output=True,
        text=True,
        env=CLEAN_ENV,
        timeout=20,
    )


def _log_records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line)["decision"] for line in path.read_text().splitlines() if line]


# -- allowed ------------------------------------------------------------------------------------


def test_curl_http_and_socks_reach_a_named_host(site: tuple[Path, int], proxy: tuple) -> None:
    _, port = site
    _, proxy_port, _ = proxy
    url = f"http://pkgs.test:{port}/hello.txt"
    via_http = _curl("-x", f"http://127.0.0.1:{proxy_port}", url)
    via_connect = _curl("-p", "-x", f"http://127.0.0.1:{proxy_port}", url)
    via_socks = _curl("-x", f"socks5h://127.0.0.1:{proxy_port}", url)
    for result in (via_http, via_connect, via_socks):
        assert result.returncode == 0, result.stderr
        assert result.stdout == "hello from the package host\n"


def test_urllib_through_the_proxy(site: tuple[Path, int], proxy: tuple) -> None:
    _, port = site
    _, proxy_port, _ = proxy
    handler = urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{proxy_port}"})
    opener = urllib.request.build_opener(handler)
    with opener.open(f"http://pkgs.test:{port}/hello.txt", timeout=10) as response:
        assert response.read() == b"hello from the package host\n"
    request = urllib.request.Request(f"http://pkgs.test:{port}/upload", data=b"x" * 5000)
    with opener.open(request, timeout=10) as response:
        assert response.read() == b"got 5000 bytes"


def test_pip_download_from_a_local_index(
    site: tuple[Path, int], proxy: tuple, tmp_path: Path
) -> None:
    _, port = site
    _, proxy_port, _ = proxy
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--isolated",
            "--no-deps",
            "--trusted-host",
            "pkgs.test",
            "--index-url",
            f"http://pkgs.test:{port}/simple/",
            "--proxy",
            f"http://127.0.0.1:{proxy_port}",
            "-d",
            str(tmp_path),
            "corraltestpkg",
        ],
        check=False,
        capture_output=True,
        text=True,
        env=CLEAN_ENV,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "corraltestpkg-0.1-py3-none-any.whl").is_file()


def test_git_clone_over_dumb_http(site: tuple[Path, int], proxy: tuple, tmp_path: Path) -> None:
    _, port = site
    _, proxy_port, _ = proxy
    result = subprocess.run(
        [
            "git",
            "-c",
            f"http.proxy=http://127.0.0.1:{proxy_port}",
            "clone",
            "-q",
            f"http://pkgs.test:{port}/repo.git",
            str(tmp_path / "clone"),
        ],
        check=False,
        capture_output=True,
        text=True,
        env=CLEAN_ENV,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "clone" / "README").read_text() == "cloned through the proxy\n"


# -- refused ------------------------------------------------------------------------------------


def test_host_off_the_list_is_refused_with_the_rule(proxy: tuple) -> None:
    _, proxy_port, log_path = proxy
    result = _curl("-i", "-x", f"http://127.0.0.1:{proxy_port}", "http://example.com/")
    assert "HTTP/1.1 403 Forbidden" in result.stdout
    assert "X-Corral-Rule: CR-POL-001" in result.stdout
    assert "example.com:80 is not on the policy's egress allowlist" in result.stdout
    decision_id = result.stdout.split("X-Corral-Decision-Id: ")[1].split()[0]
    logged = [r for r in _log_records(log_path) if r["decision_id"] == decision_id]
    assert logged and logged[0]["decision"] == "deny"


def test_connect_to_cloud_metadata_is_refused(proxy: tuple) -> None:
    _, proxy_port, _ = proxy
    result = _curl("-i", "-p", "-x", f"http://127.0.0.1:{proxy_port}", "http://169.254.169.254/")
    assert result.returncode != 0
    assert "403 Forbidden" in result.stdout
    assert "X-Corral-Rule: CR-CRD-001" in result.stdout
    reason = result.stdout.split("X-Corral-Reason: ")[1].splitlines()[0]
    assert "metadata" in reason and "169.254.169.254" in reason
    body = _raw_connect(proxy_port, "169.254.169.254:80")
    assert b"Corral refused this connection" in body and b"CR-POL-002" in body


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("internal.corp.test", "10.1.2.3"),
        ("meta.corp.test", "169.254.169.254"),
        ("rebind.corp.test", "127.0.0.1"),
    ],
)
def test_allowed_name_resolving_to_a_private_address_is_refused(
    proxy: tuple, host: str, address: str
) -> None:
    _, proxy_port, _ = proxy
    reply = _raw_connect(proxy_port, f"{host}:443")
    assert reply.startswith(b"HTTP/1.1 403")
    assert b"CR-POL-002" in reply
    assert f"{host} resolved to {address}".encode() in reply


def test_socks_refusals_use_socks_reply_codes(proxy: tuple) -> None:
    _, proxy_port, _ = proxy
    # CONNECT (1) to a name off the list: 0x02, connection not allowed by ruleset.
    assert _socks(proxy_port, 1, b"example.com") == 0x02
    # UDP ASSOCIATE (3): 0x07, command not supported, whatever the address.
    assert _socks(proxy_port, 3, b"pkgs.test") == 0x07


def test_sni_that_disagrees_with_the_connect_host_is_refused(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, ["127.0.0.1", "pkgs.test"])
    log_path = tmp_path / "decisions.jsonl"
    with (
        DecisionLog(log_path) as log,
        running_proxy(policy, log=log) as service,
        sink_server() as (port, received),
    ):
        proxy_port = tcp_port(service.add_tcp("127.0.0.1", 0))
        with pytest.raises(ssl.SSLError, match=r"ACCESS_DENIED|access denied"):
            _tls_through(proxy_port, f"127.0.0.1:{port}", "blocked.example")
        with pytest.raises(ssl.SSLError, match=r"ACCESS_DENIED|access denied"):
            _tls_through(proxy_port, f"pkgs.test:{port}", "www.pkgs.test")
        _tls_through_ignoring_errors(proxy_port, f"pkgs.test:{port}", "pkgs.test")
    # The proxy connected all three, but no byte of a fronted handshake reached the server.
    sent = [data for data in received if data]
    assert len(received) == 3 and len(sent) == 1 and sent[0][:1] == b"\x16"
    fronting = [
        r for r in _log_records(log_path) if r["rules"] and r["rules"][0]["id"] == "CR-NET-001"
    ]
    assert len(fronting) == 2 and "blocked.example" in str(fronting[0]["reason"])


def test_upload_budget_cuts_a_session_off(site: tuple[Path, int], tmp_path: Path) -> None:
    _, port = site
    policy = write_policy(tmp_path, [f"127.0.0.1:{port}"], "  upload_budget: 20000\n")
    with running_proxy(policy) as service:
        proxy_port = tcp_port(service.add_tcp("127.0.0.1", 0, session="budgeted"))
        small = _curl(
            "-x",
            f"http://127.0.0.1:{proxy_port}",
            "--data-binary",
            "@-",
            f"http://127.0.0.1:{port}/up",
        )
        assert small.returncode == 0
        big = subprocess.run(
            [
                "curl",
                "-sS",
                "-i",
                "-x",
                f"http://127.0.0.1:{proxy_port}",
                "--data-binary",
                "@-",
                f"http://127.0.0.1:{port}/up",
            ],
            input=b"y" * 50000,
            check=False,
            capture_output=True,
            env=CLEAN_ENV,
            timeout=20,
        )
        assert b"got 50000 bytes" not in big.stdout
        after = _curl("-i", "-x", f"http://127.0.0.1:{proxy_port}", f"http://127.0.0.1:{port}/")
        assert "CR-NET-003" in after.stdout
        stats = service.stats("budgeted")
        assert stats is not None and stats.bytes_up <= 20000


def test_log_chain_verifies(proxy: tuple) -> None:
    _, _, log_path = proxy
    _curl("-x", f"http://127.0.0.1:{proxy[1]}", "http://example.org/")
    service = proxy[0]
    assert service.proxy is not None
    service.proxy.judge.log.sync()  # type: ignore[union-attr]
    result = verify(log_path)
    assert result.ok, result.describe()
    kinds = {r["action"]["kind"] for r in _log_records(log_path) if "action" in r}  # type: ignore[index]
    assert {"net", "http"} <= kinds


# -- helpers ------------------------------------------------------------------------------------


def _raw_connect(proxy_port: int, authority: str) -> bytes:
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=5) as sock:
        sock.sendall(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode())
        return _read_all(sock)


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def _socks(proxy_port: int, command: int, name: bytes) -> int:
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=5) as sock:
        sock.sendall(b"\x05\x01\x00")
        assert sock.recv(2) == b"\x05\x00"
        sock.sendall(bytes((5, command, 0, 3, len(name))) + name + (443).to_bytes(2, "big"))
        reply = sock.recv(10)
        return reply[1]


def _tls_through(proxy_port: int, authority: str, server_name: str) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=5) as sock:
        sock.sendall(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        assert head.startswith(b"HTTP/1.1 200"), head
        with context.wrap_socket(sock, server_hostname=server_name):
            pass


def _tls_through_ignoring_errors(proxy_port: int, authority: str, server_name: str) -> None:
    try:
        _tls_through(proxy_port, authority, server_name)
    except (ssl.SSLError, OSError) as exc:
        assert "ACCESS_DENIED" not in str(exc)  # the sink is not TLS; only a refusal matters


def _basic(user: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:x".encode()).decode()
