"""The integration doors' speed: the decision API and the coding-agent hook.

* ``/v1/decide``: one keep-alive client (httpx) on loopback sends the mixed corpus one action per
  request, in turn, to a real `corral serve`; requests/s and latency percentiles.
* Hook start-to-answer: `python -m corral.cli.hook claude-code --server URL` (the fast path) and
  `corral hook claude-code` judging in-process, each a fresh process fed one payload.

Usage: python bench/integrations.py [--requests N] [--hooks N] [--skip-api]

Everything runs with a throw-away ``CORRAL_STATE_DIR``, so the bench's sessions never land in the
user's own state directory.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from common import machine, mixed_corpus, percentile, stamp

PAYLOAD = {
    "session_id": "bench",
    "cwd": "/workspace",
    "hook_event_name": "PreToolUse",
    "tool_name": "Bash",
    "tool_input": {"command": "python -m pytest -q tests/"},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(corral: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [corral, "serve", "--port", str(port), "--rate-limit", "0"],
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit("corral serve did not start")


def bench_api(url: str, requests: int) -> dict[str, float]:
    corpus = mixed_corpus()
    bodies = [json.dumps(corpus[i % len(corpus)]).encode() for i in range(requests)]
    headers = {"Content-Type": "application/json"}
    latencies: list[float] = []
    with httpx.Client(base_url=url, timeout=10) as client:
        for body in bodies[:200]:  # warm up
            client.post("/v1/decide", content=body, headers=headers)
        started = time.perf_counter()
        for body in bodies:
            t0 = time.perf_counter()
            response = client.post("/v1/decide", content=body, headers=headers)
            latencies.append(time.perf_counter() - t0)
            assert response.status_code == 200, response.text
        total = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": requests / total,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": latencies[-1] * 1000,
    }


def bench_hook(command: list[str], runs: int) -> dict[str, float]:
    stdin = json.dumps(PAYLOAD).encode()
    times: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(command, input=stdin, capture_output=True, check=False)
        times.append(time.perf_counter() - t0)
        assert proc.returncode == 0 and b"allow" in proc.stdout, proc.stderr
    times.sort()
    return {"p50_ms": percentile(times, 0.5) * 1000, "p90_ms": percentile(times, 0.9) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--hooks", type=int, default=30)
    parser.add_argument("--skip-api", action="store_true", help="Only time the hook.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="corral-bench-") as state_dir:
        os.environ["CORRAL_STATE_DIR"] = state_dir  # inherited by every process started below
        run(args)


def run(args: argparse.Namespace) -> None:
    corral = shutil.which("corral", path=str(Path(sys.executable).parent)) or "corral"
    proc, url = start_server(corral)
    try:
        api = None if args.skip_api else bench_api(url, args.requests)
        fast = bench_hook(
            [sys.executable, "-m", "corral.cli.hook", "claude-code", "--server", url], args.hooks
        )
        cli_server = bench_hook([corral, "hook", "claude-code", "--server", url], args.hooks // 3)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
    local = bench_hook([corral, "hook", "claude-code"], max(3, args.hooks // 6))
    print(f"machine: {machine()}; {stamp()}")
    if api is not None:
        print(
            f"/v1/decide, {args.requests} requests, 1 keep-alive client: {api['rps']:.0f} req/s, "
            f"p50 {api['p50_ms']:.2f} ms, p99 {api['p99_ms']:.2f} ms, max {api['max_ms']:.1f} ms"
        )
    print(
        f"hook via server, python -m corral.cli.hook: p50 {fast['p50_ms']:.0f} ms, "
        f"p90 {fast['p90_ms']:.0f} ms"
    )
    print(
        f"hook via server, `corral hook` console script: p50 {cli_server['p50_ms']:.0f} ms, "
        f"p90 {cli_server['p90_ms']:.0f} ms"
    )
    print(
        f"hook judging in-process, `corral hook`: p50 {local['p50_ms']:.0f} ms, "
        f"p90 {local['p90_ms']:.0f} ms"
    )


if __name__ == "__main__":
    main()
