"""The demo's local stand-ins: a stratum-like mining pool and a cloud billing API.

Both serve on 127.0.0.1 only and keep a count of what reached them, so the demo can say whether
anything got through. The pool listens inside the agent's network namespace (the only network
the agent has); the compute API listens on the host's loopback, which the agent reaches only
through the egress proxy, and only because the demo policy names it.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StratumPool:
    """Answers mining.subscribe/authorize, sends one job, counts submitted shares."""

    def __init__(self, listener: socket.socket) -> None:
        self.listener = listener
        self.port = listener.getsockname()[1]
        self.connections = 0
        self.shares = 0
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="demo-pool", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._clients.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError), client, client.makefile("rb") as lines:
            for raw in lines:
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue
                reply = self._answer(message)
                client.sendall((json.dumps(reply) + "\n").encode())
                if message.get("method") == "mining.authorize":
                    job = {"id": None, "method": "mining.notify", "params": ["job1", "00" * 32]}
                    client.sendall((json.dumps(job) + "\n").encode())

    def _answer(self, message: dict[str, object]) -> dict[str, object]:
        method = message.get("method")
        if method == "mining.subscribe":
            return {"id": message.get("id"), "result": [["mining.notify", "1"], "08", 4]}
        if method == "mining.submit":
            with self._lock:
                self.shares += 1
        return {"id": message.get("id"), "result": True, "error": None}

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.close()
        with self._lock:
            for client in self._clients:
                with contextlib.suppress(OSError):
                    client.shutdown(socket.SHUT_RDWR)


class BillingAPI:
    """A cloud compute API's stand-in: any ``POST`` records an order (nothing is bought). It
    listens on the host's loopback; ``url`` names it by ``host``, which only the demo's own
    proxy resolves (to 127.0.0.1)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.orders: list[bytes] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                api.orders.append(self.rfile.read(length))
                body = b'{"order": "accepted"}'
                self.send_response(201)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        port = self._server.server_address[1]
        self.url = (
            f"http://{host}:{port}/compute/v1/projects/corral-demo/zones/us-central1-a/instances"
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
