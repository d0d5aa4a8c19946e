"""Egress proxy speed: added latency per request, CONNECT tunnel throughput, connections judged/s,
and the bridge into a sandbox (Unix-socket forwarder vs a veth pair).

    .venv/bin/python bench/proxy.py [--quick] [--write]

The proxy, the origin servers and the client run in separate processes (the proxy as it runs in
production: one asyncio loop in one process). ``--write`` records bench/RESULTS-proxy.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from corral import Guard
from corral.proxy import EgressProxy, ProxyLimits, forwarder_argv

from common import ROOT, machine, percentile, stamp

SMALL = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
BLOCK = b"\0" * (1024 * 1024)
NETNS = "corral-bench"


# -- origin servers (one process, asyncio) -----------------------------------------------------


async def _origin(ports: Any) -> None:
    async def small(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(SMALL)
        await writer.drain()
        writer.close()

    async def source(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        size = int((await reader.readline()).strip())  # the client says how much it wants
        while size > 0:
            writer.write(BLOCK[: min(size, len(BLOCK))])
            size -= len(BLOCK)
            await writer.drain()
        writer.close()

    async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        total = 0
        while data := await reader.read(1 << 18):
            total += len(data)
        writer.write(f"{total}\n".encode())
        await writer.drain()
        writer.close()

    servers = [await asyncio.start_server(h, "127.0.0.1", 0) for h in (small, source, sink)]
    ports.put([s.sockets[0].getsockname()[1] for s in servers])
    await asyncio.Event().wait()


def origin_main(ports: Any) -> None:
    asyncio.run(_origin(ports))


# -- the proxy (one process) -------------------------------------------------------------------


async def _proxy(policy: str, unix_path: str, extra_host: str | None, out: Any) -> None:
    limits = ProxyLimits(max_session_connections=4096, max_connections=16384)
    proxy = EgressProxy(Guard(policy), limits=limits)
    tcp = await proxy.listen_tcp("127.0.0.1", 0, session="bench")
    await proxy.listen_unix(unix_path, session="bench")
    extra = await proxy.listen_tcp(extra_host, 0, session="bench") if extra_host else None
    out.put([tcp.address, extra.address if extra else ""])
    await asyncio.Event().wait()


def proxy_main(policy: str, unix_path: str, extra_host: str | None, out: Any) -> None:
    asyncio.run(_proxy(policy, unix_path, extra_host, out))


# -- client measurements -----------------------------------------------------------------------


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def _read_head(sock: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed during the reply head: {head!r}")
        head += chunk
    return head


def request_latency(proxy: str | None, port: int, count: int) -> list[float]:
    """Seconds per GET (new connection each), direct or through the proxy."""
    times = []
    target = ("127.0.0.1", port) if proxy is None else _split(proxy)
    path = "/" if proxy is None else f"http://127.0.0.1:{port}/"
    payload = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    for _ in range(count):
        start = time.perf_counter()
        with socket.create_connection(target) as sock:
            sock.sendall(payload)
            while sock.recv(65536):
                pass
        times.append(time.perf_counter() - start)
    return sorted(times)


def _tunnel(proxy: str, port: int) -> socket.socket:
    sock = socket.create_connection(_split(proxy))
    sock.sendall(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    head = _read_head(sock)
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head.decode(errors="replace"))
    return sock


def download_rate(proxy: str | None, port: int, size: int) -> float:
    """MB/s from origin to client through one tunnel (or direct)."""
    sock = _tunnel(proxy, port) if proxy else socket.create_connection(("127.0.0.1", port))
    with sock:
        start = time.perf_counter()
        sock.sendall(f"{size}\n".encode())
        got = 0
        while data := sock.recv(1 << 20):
            got += len(data)
        elapsed = time.perf_counter() - start
    assert got >= size, (got, size)
    return got / elapsed / 1e6


def upload_rate(proxy: str | None, port: int, size: int) -> float:
    sock = _tunnel(proxy, port) if proxy else socket.create_connection(("127.0.0.1", port))
    with sock:
        start = time.perf_counter()
        sent = 0
        while sent < size:
            sock.sendall(BLOCK)
            sent += len(BLOCK)
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while data := sock.recv(64):
            reply += data
        elapsed = time.perf_counter() - start
    assert int(reply) == sent, (reply, sent)
    return sent / elapsed / 1e6


async def _connect_rate(proxy: str, port: int, seconds: float, concurrency: int) -> float:
    host, proxy_port = _split(proxy)
    payload = f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    done = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            reader, writer = await asyncio.open_connection(host, proxy_port)
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head
            writer.transport.abort()
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - start)


def connect_rate(proxy: str, port: int, seconds: float, concurrency: int = 32) -> float:
    """New CONNECT tunnels judged, connected and answered per second."""
    return asyncio.run(_connect_rate(proxy, port, seconds, concurrency))


# -- harness -----------------------------------------------------------------------------------


def _start(target: Any, *args: Any) -> tuple[mp.Process, Any]:
    queue: Any = mp.Queue()
    proc = mp.Process(target=target, args=(*args, queue), daemon=True)
    proc.start()
    return proc, queue.get(timeout=30)


def _cpu_seconds(pid: int | None) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _summary(times: list[float]) -> dict[str, float]:
    return {"p50_ms": percentile(times, 0.5) * 1e3, "p99_ms": percentile(times, 0.99) * 1e3}


def _forwarder(unix_path: str, netns: str | None = None) -> tuple[subprocess.Popen[str], str]:
    argv = forwarder_argv(unix_path, 0)
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    port = int(proc.stdout.readline().split()[1])
    return proc, f"127.0.0.1:{port}"


def _veth_up() -> bool:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    _veth_down()
    steps = [
        ["ip", "netns", "add", NETNS],
        ["ip", "link", "add", "crlb0", "type", "veth", "peer", "name", "crlb1"],
        ["ip", "link", "set", "crlb1", "netns", NETNS],
        ["ip", "addr", "add", "10.213.0.1/30", "dev", "crlb0"],
        ["ip", "link", "set", "crlb0", "up"],
        ["ip", "netns", "exec", NETNS, "ip", "addr", "add", "10.213.0.2/30", "dev", "crlb1"],
        ["ip", "netns", "exec", NETNS, "ip", "link", "set", "crlb1", "up"],
        ["ip", "netns", "exec", NETNS, "ip", "link", "set", "lo", "up"],
    ]
    for step in steps:
        if subprocess.run(step, check=False, capture_output=True).returncode != 0:
            _veth_down()
            return False
    return True


def _veth_down() -> None:
    subprocess.run(["ip", "link", "del", "crlb0"], check=False, capture_output=True)
    subprocess.run(["ip", "netns", "del", NETNS], check=False, capture_output=True)


def _in_netns(proxy: str, ports: list[int], count: int, size: int) -> dict[str, Any]:
    """Run the client half of this script inside the bench namespace; returns its JSON."""
    argv = [
        "ip",
        "netns",
        "exec",
        NETNS,
        sys.executable,
        __file__,
        "--client",
        proxy,
        "--ports",
        ",".join(map(str, ports)),
        "--count",
        str(count),
        "--size",
        str(size),
    ]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=True)
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def client_mode(proxy: str, ports: list[int], count: int, size: int) -> None:
    small, source, _ = ports
    times = request_latency(proxy, small, count)
    print(json.dumps({**_summary(times), "download_mb_s": download_rate(proxy, source, size)}))


def run(quick: bool) -> dict[str, Any]:
    count, size, seconds = (300, 256 << 20, 2.0) if quick else (2000, 2 << 30, 5.0)
    tmp = Path(tempfile.mkdtemp(prefix="corral-bench-"))
    policy = tmp / "policy.yaml"
    policy.write_text(
        "name: bench\nextends: default\negress:\n  allow: ['127.0.0.1']\n  upload_budget: null\n"
    )
    unix_path = str(tmp / "proxy.sock")
    veth = _veth_up()
    origin, ports = _start(origin_main)
    prox, (proxy, veth_proxy) = _start(
        proxy_main, str(policy), unix_path, "10.213.0.1" if veth else None
    )
    forwarder, via_forwarder = _forwarder(unix_path)
    small, source, sink = ports
    results: dict[str, Any] = {"machine": machine(), "date": stamp(), "quick": quick}
    try:
        request_latency(proxy, small, 50)  # warm up
        direct = _summary(request_latency(None, small, count))
        proxied = _summary(request_latency(proxy, small, count))
        results["latency"] = {
            "direct": direct,
            "proxy": proxied,
            "added_p50_ms": proxied["p50_ms"] - direct["p50_ms"],
        }
        results["tunnel"] = {
            "direct_download_mb_s": download_rate(None, source, size),
            "download_mb_s": download_rate(proxy, source, size),
            "upload_mb_s": upload_rate(proxy, sink, size),
        }
        cpu_before = _cpu_seconds(prox.pid)
        start = time.perf_counter()
        rate = connect_rate(proxy, small, seconds)
        wall = time.perf_counter() - start
        busy = (_cpu_seconds(prox.pid) - cpu_before) / wall  # share of one core the proxy used
        results["connections_per_s"] = rate
        results["connections_per_proxy_cpu_s"] = rate / busy if busy else 0.0
        results["bridge"] = {
            "forwarder_host": {
                **_summary(request_latency(via_forwarder, small, count)),
                "download_mb_s": download_rate(via_forwarder, source, size),
            }
        }
        if veth:
            ns_forwarder, ns_address = _forwarder(unix_path, NETNS)
            try:
                results["bridge"]["forwarder_netns"] = _in_netns(ns_address, ports, count, size)
                results["bridge"]["veth_netns"] = _in_netns(veth_proxy, ports, count, size)
            finally:
                ns_forwarder.kill()
    finally:
        forwarder.kill()
        prox.kill()
        origin.kill()
        if veth:
            _veth_down()
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def write_results(results: dict[str, Any]) -> None:
    lat, tun, bridge = results["latency"], results["tunnel"], results["bridge"]
    lines = [
        "# Egress proxy benchmarks",
        "",
        f"Machine: {results['machine']}. Date: {results['date']}. "
        "Command: `.venv/bin/python bench/proxy.py --write`. Proxy, origin servers and client",
        "each run in their own process on the same machine (loopback).",
        "",
        "| measure | target | result |",
        "|---|---|---|",
        f"| added latency per request, p50 (GET, new connection each) | <= 1 ms | "
        f"{lat['added_p50_ms']:.3f} ms (direct {lat['direct']['p50_ms']:.3f} ms, "
        f"proxied {lat['proxy']['p50_ms']:.3f} ms; p99 {lat['proxy']['p99_ms']:.3f} ms) |",
        f"| one CONNECT tunnel, download | >= 200 MB/s | {tun['download_mb_s']:.0f} MB/s "
        f"(direct {tun['direct_download_mb_s']:.0f} MB/s) |",
        f"| one CONNECT tunnel, upload | >= 200 MB/s | {tun['upload_mb_s']:.0f} MB/s |",
        f"| new connections judged per second (CONNECT, 32 concurrent) | >= 2,000 | "
        f"{results['connections_per_s']:.0f} /s wall clock, sharing 2 cores with the client "
        f"and origin; {results['connections_per_proxy_cpu_s']:.0f} per second of proxy CPU |",
        "",
        "## Bridge into the sandbox",
        "",
        "| path | p50 latency | download through one tunnel |",
        "|---|---|---|",
    ]
    for name, label in (
        ("forwarder_host", "forwarder on the host's loopback -> Unix socket -> proxy"),
        ("forwarder_netns", "inside a netns: forwarder -> Unix socket -> proxy"),
        ("veth_netns", "inside a netns: veth pair -> proxy's TCP listener"),
    ):
        if name in bridge:
            row = bridge[name]
            lines.append(f"| {label} | {row['p50_ms']:.3f} ms | {row['download_mb_s']:.0f} MB/s |")
    lines += [
        "",
        "Choice: the Unix-socket forwarder. A veth pair is faster (one kernel hop, no second",
        "relay) but needs root to set up and makes every service listening on the host end",
        "reachable from the sandbox; the socket leads to the proxy and nothing else, and killing",
        "the forwarder only cuts the agent off. The forwarder's cost is shown above.",
        "The machine is shared with other work, so single runs vary by tens of percent.",
    ]
    lines += ["", "Raw numbers:", "", "```json", json.dumps(results, indent=2), "```", ""]
    (ROOT / "bench" / "RESULTS-proxy.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--ports", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=1000, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=1 << 30, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client_mode(args.client, [int(p) for p in args.ports.split(",")], args.count, args.size)
        return
    results = run(args.quick)
    print(json.dumps(results, indent=2))
    if args.write:
        write_results(results)


if __name__ == "__main__":
    main()
