"""One store shared by many threads of a process (the API server, the supervisor's watchers)."""

from __future__ import annotations

import threading
from pathlib import Path

from corral.store import SQLiteStore
from corral.store.base import SessionRow


def test_threads_sharing_one_store_lose_no_update(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "corral.db")
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(100):
                with store.session("shared") as txn:
                    row = txn.row or SessionRow("shared", None, 0.0, 0.0)
                    row.actions += 1
                    txn.save(row)
        except BaseException as exc:  # collected: a failure in a thread must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    row = store.get_session("shared")
    assert row is not None and row.actions == 800
    store.close()
