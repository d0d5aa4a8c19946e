"""The shell parser choice: tree-sitter-bash (used) against bashlex (rejected).

Parses every exec command of the corpus with both; reports time per command and how many
commands each one could not parse at all.

Usage: python bench/parsers.py
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import bashlex
import tree_sitter_bash
from tree_sitter import Language, Parser

from common import machine, mixed_corpus, stamp


def commands() -> list[str]:
    return [
        a["command"]
        for a in mixed_corpus()
        if a.get("kind") == "exec" and isinstance(a.get("command"), str)
    ]


def measure(parse: Callable[[str], bool], lines: list[str], rounds: int = 3) -> tuple[float, int]:
    failures = sum(0 if parse(line) else 1 for line in lines)
    times: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter()
        for line in lines:
            parse(line)
        times.append((time.perf_counter() - start) / len(lines) * 1e6)
    return statistics.median(times), failures


def main() -> None:
    lines = commands()
    ts_parser = Parser(Language(tree_sitter_bash.language()))

    def with_tree_sitter(line: str) -> bool:
        return not ts_parser.parse(line.encode()).root_node.has_error

    def with_bashlex(line: str) -> bool:
        try:
            bashlex.parse(line)
        except Exception:
            return False
        return True

    print(f"Parsing {len(lines)} corpus commands; machine: {machine()}; {stamp()}")
    for name, parse in (("tree-sitter-bash", with_tree_sitter), ("bashlex", with_bashlex)):
        per_command, failures = measure(parse, lines)
        print(f"  {name:17} {per_command:8.1f} us/command   could not parse: {failures}")


if __name__ == "__main__":
    main()
