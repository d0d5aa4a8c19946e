"""A harmless miner emulator: burns CPU on SHA-256 and speaks stratum JSON-RPC to a local pool.

It mines nothing (no real coin, no real pool): it exists so that Corral's demo and tests can show
what a miner looks like to the supervisor. It stops by itself after ``--seconds`` (default 30).
Pool address: ``-o stratum+tcp://HOST:PORT`` or, when run without arguments, from the file named
by ``MINER_CONFIG`` (default ``./miner.json``) — the "renamed, argument-free" miner.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import time

from netclient import connect  # type: ignore[import-not-found]  # sibling script


def pool_address(argv: list[str]) -> tuple[str, int, float]:
    seconds = 30.0
    if "--seconds" in argv:
        seconds = float(argv[argv.index("--seconds") + 1])
    if "-o" in argv:
        url = argv[argv.index("-o") + 1].split("://", 1)[-1]
        host, _, port = url.rpartition(":")
        return host, int(port), seconds
    with open(os.environ.get("MINER_CONFIG", "miner.json")) as handle:
        config = json.load(handle)
    return config["host"], int(config["port"]), float(config.get("seconds", seconds))


def rpc(sock: socket.socket, ident: int, method: str, params: list[object]) -> None:
    message = {"id": ident, "method": method, "params": params}
    sock.sendall((json.dumps(message) + "\n").encode())


def main() -> int:
    host, port, seconds = pool_address(sys.argv[1:])
    try:
        sock = connect(host, port)
    except OSError as exc:
        print(f"miner: cannot reach the pool {host}:{port}: {exc}", file=sys.stderr)
        return 1
    rpc(sock, 1, "mining.subscribe", ["emulator/1.0"])
    rpc(sock, 2, "mining.authorize", ["demo-wallet.worker1", "x"])
    deadline = time.monotonic() + seconds
    nonce, ident, next_share = 0, 3, time.monotonic() + 0.5
    while time.monotonic() < deadline:
        for _ in range(20000):  # busy: this is what saturates the CPU
            hashlib.sha256(nonce.to_bytes(8, "little")).digest()
            nonce += 1
        if time.monotonic() >= next_share:
            rpc(sock, ident, "mining.submit", ["demo-wallet.worker1", "job1", f"{nonce:016x}"])
            ident, next_share = ident + 1, time.monotonic() + 0.5
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
