"""`corral check` end to end: a 10,000-line JSONL file through the real command.

Usage: python bench/check_throughput.py [--lines N]
"""

from __future__ import annotations

import argparse
import json
import os
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
        env = {**os.environ, "CORRAL_STATE_DIR": str(Path(tmp) / "state")}
        print(f"corral check, policy default, {args.lines} lines; machine: {machine()}; {stamp()}")
        for label, extra in (("stateless (--no-sessions)", ["--no-sessions"]), ("sessions", [])):
            start = time.perf_counter()
            proc = subprocess.run(
                [corral, "check", *extra, str(source)], capture_output=True, check=False, env=env
            )
            elapsed = time.perf_counter() - start
            decisions = proc.stdout.count(b"\n")
            print(
                f"  {label}: {decisions} decisions (exit {proc.returncode}) in {elapsed:.2f} s "
                f"wall including start-up: {decisions / elapsed:,.0f} actions/s"
            )


if __name__ == "__main__":
    main()
