"""`termagent eval` benchmarks: the harness's own overhead per run, and the speed-up of two
workers over one.

    .venv/bin/python scripts/bench_eval.py [--cases N] [--delay-s S]

Runs the first N bundled cases (not the Docker ones) offline, 3 runs each, with commands
on the host. Overhead is what a run costs outside its session, its judge and its checks (the case's
own check commands, reported apart): copying and git-initialising the workspace, the
scripted server, the bookkeeping, the cleanup.
Scripted sessions answer in milliseconds, which makes any overhead look large, so the
share is also given with `--delay-s` between streamed events (about 1 s per model reply
at 0.1), closer to a real model; the target is <= 5 % there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from termagent.evals.case import load_cases
from termagent.evals.cli import builtin_dir
from termagent.evals.runner import Settings, run_cases
from termagent.evals.scripted import load_script


def measure(cases: list, scripts: dict, workers: int, delay_s: float, runs: int) -> dict:
    settings = Settings(scripted=True, workers=workers, runs=runs, sandbox="none", scripted_delay_s=delay_s)
    started = time.monotonic()
    results = run_cases(cases, settings, scripts)
    wall = time.monotonic() - started
    runs = [r for c in results for r in c.runs]
    bad = [c.name for c in results if c.status.value != "pass"]
    overhead = [r.wall_s - r.session_s - r.judge_s - r.checks_s for r in runs]
    return {"workers": workers, "delay_s": delay_s, "runs": len(runs), "wall_s": round(wall, 2),
            "overhead_median_s": round(statistics.median(overhead), 3),
            "overhead_share": round(sum(overhead) / sum(r.wall_s for r in runs), 4),
            "checks_share": round(sum(r.checks_s for r in runs) / sum(r.wall_s for r in runs), 4),
            "session_median_s": round(statistics.median(r.session_s for r in runs), 3), "not_passed": bad}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=6)
    parser.add_argument("--runs", type=int, default=3, help="runs per case (the default of a case is 3)")
    parser.add_argument("--delay-s", type=float, default=0.1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        for var in ("TERMAGENT_STATE_DIR", "TERMAGENT_CONFIG_DIR"):
            os.environ[var] = str(Path(home) / var)
            Path(os.environ[var]).mkdir()
        import anthropic  # noqa: F401  (paid once, not per run: keep it out of the figures)

        cases = [c for c in load_cases([builtin_dir()]) if not c.needs_docker][: args.cases]
        scripts = {c.name: load_script(c.script) for c in cases if c.script}
        measure(cases[:2], scripts, 1, 0.0, 1)  # warm caches (imports, git, the page cache)
        rows = [measure(cases, scripts, 1, 0.0, args.runs), measure(cases, scripts, 1, args.delay_s, args.runs),
                measure(cases, scripts, 2, args.delay_s, args.runs)]
    for row in rows:
        print(json.dumps(row))
    print(json.dumps({"speedup_workers_2_over_1": round(rows[1]["wall_s"] / rows[2]["wall_s"], 2),
                      "overhead_share_with_delay": rows[1]["overhead_share"],
                      "target_overhead_share": 0.05}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
