"""Helpers for the integration doors: real `corral serve` processes on free loopback ports."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

PAYLOADS = Path(__file__).parent / "payloads"


def corral_command() -> list[str]:
    """The installed console script, or the module when running from a bare checkout."""
    script = shutil.which("corral", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "corral"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen[bytes]


def start_server(*args: str, env: dict[str, str] | None = None) -> Server:
    """`corral serve` in its own process group, ready when /healthz answers."""
    port = free_port()
    process = subprocess.Popen(
        [*corral_command(), "serve", "--port", str(port), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"corral serve exited with {process.returncode}: {err}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return Server(url, process)
        except httpx.TransportError:
            time.sleep(0.05)
    stop_server(Server(url, process))
    raise RuntimeError("corral serve did not answer /healthz within 30 s")


def stop_server(server: Server) -> None:
    try:
        os.killpg(server.process.pid, signal.SIGTERM)
        server.process.wait(timeout=10)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()
    if server.process.stderr:
        server.process.stderr.close()


def hook_command() -> list[str]:
    """The hook as agents run it with the fast path: the module, not the whole CLI."""
    return [sys.executable, "-m", "corral.cli.hook"]
