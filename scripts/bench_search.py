#!/usr/bin/env python3
"""Benchmark list_files and grep on a generated 20,000-file tree, in a git repo and a plain dir.

Usage: .venv/bin/python scripts/bench_search.py [--files 20000] [--runs 5]
Prints the median wall time per operation. Target: each well under a second on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from termagent.config import DEFAULTS, Config
from termagent.tools.base import ToolContext, ToolResult
from termagent.tools.search import Grep, ListFiles
from termagent.tools.workspace import ReadLedger


def build_tree(root: Path, count: int) -> None:
    """count files in nested packages, plus an ignored directory the tools must skip."""
    root.joinpath(".gitignore").write_text("node_modules/\n*.log\n")
    for i in range(count):
        path = root / f"pkg{i % 40:02d}" / f"mod{(i // 40) % 25:02d}" / f"file{i:05d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        body = "".join(f"def func_{i}_{j}(x):\n    return x + {j}\n" for j in range(20))
        if i % 997 == 0:
            body += "# NEEDLE marker\n"
        path.write_text(body)
    ignored = root / "node_modules" / "dep"
    ignored.mkdir(parents=True)
    for i in range(2000):
        (ignored / f"x{i}.js").write_text("// NEEDLE in ignored\n")


def timed(label: str, runs: int, action: Callable[[], Coroutine[Any, Any, ToolResult]]) -> None:
    samples = []
    result = ToolResult(output="")
    for _ in range(runs):
        start = time.perf_counter()
        result = asyncio.run(action())
        samples.append(time.perf_counter() - start)
    lines = result.output.count("\n") + 1
    print(f"{label:<34} median {statistics.median(samples) * 1000:8.1f} ms  ({lines} output lines)")


def bench(root: Path, runs: int, label: str) -> None:
    ctx = ToolContext(root=root, ledger=ReadLedger(), config=Config(copy.deepcopy(DEFAULTS)))
    timed(f"{label}: list_files", runs, lambda: ListFiles().run({}, ctx))
    timed(f"{label}: list_files '*.py'", runs, lambda: ListFiles().run({"pattern": "**/mod0*/*.py"}, ctx))
    timed(f"{label}: grep NEEDLE", runs, lambda: Grep().run({"pattern": "NEEDLE"}, ctx))
    timed(f"{label}: grep common word", runs, lambda: Grep().run({"pattern": r"return x \+ 7$"}, ctx))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="termagent-bench-") as tmp:
        root = Path(tmp) / "tree"
        root.mkdir()
        build_tree(root, args.files)
        bench(root, args.runs, "plain dir")
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
        bench(root, args.runs, "git repo")


if __name__ == "__main__":
    main()
