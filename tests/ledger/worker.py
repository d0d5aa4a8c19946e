"""A real process that reserves against one shared budget, for the concurrency tests.

``worker.py URL COUNT BUDGET NAME`` reserves 1 USD COUNT times against a global budget of BUDGET
USD, commits a varying real amount (or releases) and prints one JSON line of what it did.
``worker.py URL hold BUDGET NAME`` reserves once, prints the reservation id and waits forever
(to be killed between reserve and commit).
"""

from __future__ import annotations

import json
import sys
import time

from corral.ledger import Limit, Subjects, open_ledger
from corral.ledger.amounts import to_micro

TTL = 30.0


def main() -> None:
    url, count, budget, name = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    ledger = open_ledger(url)
    limits = [Limit("global", "total", "USD", hard=to_micro(budget))]
    subjects = Subjects(agent=name)
    if count == "hold":
        outcome = ledger.reserve({"USD": budget}, subjects, limits, ttl=TTL)
        assert outcome.reservation is not None
        print(outcome.reservation.id, flush=True)
        time.sleep(3600)
        return
    done = {"allowed": 0, "denied": 0, "released": 0, "committed_micro": 0}
    for i in range(int(count)):
        outcome = ledger.reserve({"USD": 1}, subjects, limits, ttl=TTL)
        if outcome.reservation is None:
            done["denied"] += 1
            continue
        done["allowed"] += 1
        if i % 7 == 0:
            ledger.release(outcome.reservation.id)
            done["released"] += 1
            continue
        real = "1" if i % 3 else "0.25"  # the real cost may be below the estimate
        committed = ledger.commit(outcome.reservation.id, {"USD": real})
        done["committed_micro"] += (committed.spent or {}).get("USD", 0)
    print(json.dumps(done), flush=True)


if __name__ == "__main__":
    main()
