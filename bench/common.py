"""Shared bits of the benchmarks: the mixed corpus and the machine description."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"


def mixed_corpus() -> list[dict[str, Any]]:
    """Every benign and malicious corpus action, in file order: roughly what an agent sends."""
    actions: list[dict[str, Any]] = []
    for folder in ("benign", "malicious"):
        for path in sorted((CORPUS / folder).glob("*.jsonl")):
            with path.open(encoding="utf-8") as handle:
                actions.extend(json.loads(line) for line in handle if line.strip())
    return actions


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{python}, {cpu}, {os.cpu_count()} cpus"


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index]
