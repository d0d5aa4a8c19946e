"""Run inside a fresh network namespace (loopback only) by test_proxy_netns.py.

Starts the forwarder, then reports as JSON what an agent there can and cannot reach."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request

from corral.proxy import forwarder_argv, sandbox_env


def attempt(action: object) -> str:
    try:
        action()  # type: ignore[operator]
    except OSError as exc:
        return f"failed: {exc.__class__.__name__}: {exc}"
    return "ok"


def main() -> None:
    unix_path, site_port = sys.argv[1], int(sys.argv[2])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    forwarder = subprocess.Popen(forwarder_argv(unix_path, 0), stdout=subprocess.PIPE, text=True)
    assert forwarder.stdout is not None
    port = int(forwarder.stdout.readline().split()[1])
    env = {**os.environ, **sandbox_env(port)}
    url = f"http://pkgs.test:{site_port}/hello.txt"
    report: dict[str, str] = {}
    curl = subprocess.run(
        ["curl", "-sS", "--max-time", "5", url],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    report["curl_via_env"] = curl.stdout or curl.stderr
    os.environ.update(sandbox_env(port))
    with urllib.request.urlopen(url, timeout=5) as response:
        report["urllib_via_env"] = response.read().decode()
    report["direct_tcp_host_loopback"] = attempt(
        lambda: socket.create_connection(("127.0.0.1", site_port), timeout=2)
    )
    report["direct_tcp_internet"] = attempt(
        lambda: socket.create_connection(("1.1.1.1", 443), timeout=2)
    )
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    report["udp_dns"] = attempt(lambda: udp.sendto(b"\0" * 12, ("8.8.8.8", 53)))
    report["resolve"] = attempt(lambda: socket.getaddrinfo("example.com", 443))
    forwarder.kill()
    forwarder.wait()
    after = subprocess.run(
        ["curl", "-sS", "--max-time", "5", url],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    report["curl_after_forwarder_killed"] = f"rc={after.returncode} {after.stderr.strip()}"
    print(json.dumps(report))


if __name__ == "__main__":
    main()
