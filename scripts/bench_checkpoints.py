"""Checkpoint benchmarks (issue 7): what a snapshot costs on a large repository.

A snapshot runs before every write and every bash command, so its cost is paid many
times per turn. Builds a repository of `--files` committed files (default 20,000) and
reports median milliseconds over `--runs` repetitions for: the first snapshot of a
session (seeds the private index), a snapshot with nothing changed, one after editing
a file, one after adding an untracked file, and planning a rewind.

    .venv/bin/python scripts/bench_checkpoints.py [--files N] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from termagent.git import Checkpointer, plan_rewind

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid"}


def make_repo(path: Path, files: int) -> None:
    per_dir = 100
    for i in range(files):
        directory = path / f"pkg{i // per_dir:04d}"
        directory.mkdir(exist_ok=True)
        (directory / f"mod{i % per_dir:03d}.py").write_text(f"VALUE = {i}\n" * 20)
    (path / ".gitignore").write_text("build/\n")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "bench fixture"]):
        subprocess.run(["git", *args], cwd=path, env=GIT_ENV, check=True, capture_output=True)


def timed(runs: int, before: Callable[[int], None], action: Callable[[], object]) -> float:
    samples = []
    for i in range(runs):
        before(i)
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return round(statistics.median(samples) * 1000, 1)


def bench(path: Path, runs: int) -> dict[str, float]:
    results: dict[str, float] = {}
    counter = iter(range(10**9))

    def fresh_session(_: int) -> None:
        nonlocal checkpointer
        checkpointer = Checkpointer(path, f"bench-{next(counter)}")

    checkpointer = Checkpointer(path, "bench-0")
    results["first_snapshot_ms"] = timed(runs, fresh_session, lambda: checkpointer.snapshot_sync("first"))
    results["unchanged_snapshot_ms"] = timed(runs, lambda i: None, lambda: checkpointer.snapshot_sync("same"))
    edited = path / "pkg0000" / "mod000.py"
    results["one_edit_snapshot_ms"] = timed(
        runs, lambda i: edited.write_text(f"EDIT = {i}\n"), lambda: checkpointer.snapshot_sync("edit"))
    results["one_new_file_snapshot_ms"] = timed(
        runs, lambda i: (path / f"new{i}.txt").write_text("new\n"), lambda: checkpointer.snapshot_sync("new"))
    session = checkpointer.session_id
    results["plan_rewind_ms"] = timed(runs, lambda i: None, lambda: plan_rewind(path, session, 1))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="termagent-bench-cp-") as tmp:
        repo = Path(tmp)
        started = time.perf_counter()
        make_repo(repo, args.files)
        setup_s = round(time.perf_counter() - started, 1)
        results = bench(repo, args.runs)
    print(json.dumps({"files": args.files, "runs": args.runs, "setup_s": setup_s, **results}, indent=2))


if __name__ == "__main__":
    main()
