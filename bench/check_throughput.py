"""`corral check` end to end: a 10,000-line JSONL file through the real command.

Usage: python bench/check_throughput.py [--lines N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import machine, mixed_corpus, stamp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=10_000)
    args = parser.parse_args()
    corpus = mixed_corpus()
    corral = shutil.which("corral", path=str(Path(sys.executable).parent)) or "corral"
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "actions.jsonl"
        with source.open("w", encoding="utf-8") as handle:
            for index in range(args.lines):
                handle.write(json.dumps(corpus[index % len(corpus)]) + "\n")
        start = time.perf_counter()
        proc = subprocess.run([corral, "check", str(source)], capture_output=True, check=False)
        elapsed = time.perf_counter() - start
    decisions = proc.stdout.count(b"\n")
    print(
        f"corral check, policy default, {args.lines} lines -> {decisions} decisions "
        f"(exit {proc.returncode})"
    )
    print(f"  machine: {machine()}; {stamp()}")
    print(f"  {elapsed:.2f} s wall including start-up: {decisions / elapsed:,.0f} actions/s")


if __name__ == "__main__":
    main()
