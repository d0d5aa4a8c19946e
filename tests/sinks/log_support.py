"""Helpers shared by the decision-log tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from corral.sinks import DecisionLog
from corral.sinks.records import canonical_bytes, parse_record, record_hash

KEY = b"k3y-for-tests-0123456789abcdef"


def decision(index: int) -> dict[str, Any]:
    return {
        "id": f"a-{index}",
        "decision_id": f"00000000-0000-4000-8000-{index:012d}",
        "decision": "deny" if index % 3 == 0 else "allow",
        "severity": "high" if index % 3 == 0 else "info",
        "rules": [
            {"id": "CR-POL-001", "title": "Egress outside the allowlist", "attack": ["T1071"]}
        ]
        if index % 3 == 0
        else [],
        "reason": f"reason {index}",
        "policy": "default",
    }


def build_log(path: Path, records: int, *, key: bytes | None = None, every: int = 4) -> None:
    with DecisionLog(path, key=key, checkpoint_every=every) as log:
        for index in range(1, records + 1):
            log.append(decision(index), {"kind": "exec", "command": f"echo {index}"})


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def records(path: Path) -> list[dict[str, Any]]:
    """Every complete, well-formed record of the file, in order."""
    out = []
    for raw in lines(path):
        if raw.endswith(b"\n"):
            record, why = parse_record(raw[:-1])
            if record is not None and why is None:
                out.append(record)
    return out


def decision_ids(path: Path) -> set[str]:
    return {r["decision"]["decision_id"] for r in records(path) if "decision" in r}


def forge(record: dict[str, Any], **changes: Any) -> bytes:
    """A record line with ``changes`` applied and a correctly recomputed hash."""
    forged = {k: v for k, v in record.items() if k != "hash"} | changes
    forged["hash"] = record_hash(forged)
    return (
        json.dumps(forged, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        + b"\n"
    )


def rechain(raw_lines: list[bytes]) -> list[bytes]:
    """Renumber and re-hash every record: what someone without the key can always do."""
    out, prev = [], "0" * 64
    for seq, raw in enumerate(raw_lines, start=1):
        record = json.loads(raw)
        record.pop("hash")
        record["seq"], record["prev"] = seq, prev
        if "checkpoint" in record:
            record["checkpoint"]["covers"], record["checkpoint"]["hash"] = seq - 1, prev
        prev = record["hash"] = record_hash(record)
        out.append(canonical_bytes(record) + b"\n")
    return out
