"""Watcher benchmark (issue 8): what watching a 100,000-file workspace costs.

Builds a tree shaped like a real project (src/ and tests/ packages, an ignored
node_modules/ and a .git/ with object directories), starts the WorkspaceWatcher and
reports: start-up time until watching, RSS growth (watchdog import and the watches),
inotify watches and threads in use, CPU while idle, the delay until an outside edit
of a file the agent has read is seen, and the CPU cost of a burst of writes the
watcher must ignore. `--recursive-root` watches the whole tree instead, for comparison.

    .venv/bin/python scripts/bench_watcher.py [--files 100000] [--idle-s 10]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from termagent.core import watcher as watcher_module
from termagent.core.watcher import WorkspaceWatcher
from termagent.tools.workspace import ReadLedger

SHARES = (("src", 0.75, 150), ("tests", 0.10, 100), ("node_modules", 0.15, 100))  # (dir, share, files per package)


def build_tree(root: Path, files: int) -> int:
    (root / ".gitignore").write_text("node_modules/\n__pycache__/\n")
    made = 0
    for top, share, per_dir in SHARES:
        count = int(files * share)
        for n in range(count):
            package = root / top / f"pkg_{n // per_dir:04d}"
            if n % per_dir == 0:
                package.mkdir(parents=True)
            (package / f"mod_{n % per_dir:03d}.py").write_text(f"VALUE = {n}\n")
            made += 1
    for n in range(256):
        (root / ".git" / "objects" / f"{n:02x}").mkdir(parents=True)
    return made


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def inotify_watches() -> int:
    total = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:inotify":
                total += Path(f"/proc/self/fdinfo/{fd}").read_text().count("inotify wd:")
        except OSError:
            continue
    return total


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def edit_latency_ms(watcher: WorkspaceWatcher, ledger: ReadLedger, target: Path) -> float:
    ledger.record(target)
    started = time.perf_counter()
    target.write_text("VALUE = 'edited outside'\n")
    while not watcher.collect():
        time.sleep(0.0005)
    return round((time.perf_counter() - started) * 1000, 2)


def burst_cpu_s(root: Path, writes: int) -> float:
    """CPU this process spends on events for files the agent never read (written by another process)."""
    script = ("import sys, pathlib\nd = pathlib.Path(sys.argv[1])\n"
              "for n in range(int(sys.argv[2])): (d / f'burst_{n}.py').write_text('x')")
    before = cpu_s()
    subprocess.run([sys.executable, "-c", script, str(root / "src" / "pkg_0000"), str(writes)], check=True)
    time.sleep(1.0)  # let the watcher threads drain the events
    return round(cpu_s() - before, 3)


def measure(root: Path, idle_s: float) -> dict[str, float]:
    import watchdog.observers  # noqa: F401 - imported first so its cost is reported apart

    base_rss, base_threads = rss_kb(), threading.active_count()
    ledger = ReadLedger()
    watcher = WorkspaceWatcher(root, ledger, lambda event: None)
    started = time.perf_counter()
    watcher.start()
    watcher.ready.wait(120)
    start_s = time.perf_counter() - started
    time.sleep(1.0)
    idle_before, idle_t0 = cpu_s(), time.perf_counter()
    time.sleep(idle_s)
    idle_cpu = (cpu_s() - idle_before) / (time.perf_counter() - idle_t0)
    figures = {
        "start_s": round(start_s, 2), "rss_delta_mb": round((rss_kb() - base_rss) / 1024, 1),
        "inotify_watches": inotify_watches(), "threads_added": threading.active_count() - base_threads,
        "idle_cpu_percent": round(idle_cpu * 100, 3),
        "edit_seen_ms": edit_latency_ms(watcher, ledger, root / "src" / "pkg_0003" / "mod_007.py"),
        "burst_5000_unread_writes_cpu_s": burst_cpu_s(root, 5000), "reported_after_burst": len(watcher.collect()),
    }
    watcher.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--idle-s", type=float, default=10.0)
    parser.add_argument("--recursive-root", action="store_true", help="one recursive watch on the whole tree")
    args = parser.parse_args()
    if args.recursive_root:
        watcher_module.MAX_SPLIT_WATCHES = -1
    rss_start = rss_kb()
    import watchdog.observers  # noqa: F401

    import_mb = round((rss_kb() - rss_start) / 1024, 1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        made_started = time.perf_counter()
        made = build_tree(root, args.files)
        build_s = round(time.perf_counter() - made_started, 1)
        result = {"files": made, "tree_build_s": build_s, "watchdog_import_rss_mb": import_mb,
                  "mode": "recursive root" if args.recursive_root else "root + top-level dirs",
                  **measure(root, args.idle_s)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
