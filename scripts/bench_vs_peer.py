"""Start-up and CPU per one-shot task (issue 21), side by side with Claude Code when installed.

Every variant runs a one-turn headless task against the same scripted model server, in
interleaved rounds (A B C A B C ...), and reports medians and per-round ratios:

- time from process start to its first `/v1/messages` request, and to exit;
- CPU per task: user + sys of the process tree (wait4), plus, for runs the worker served,
  the forked task process's own user + sys as the worker reports it back (it is not our
  descendant, so wait4 cannot see it);
- peak RSS: the client's, and the task process's when the worker ran it.

Variants: termagent in-process (TERMAGENT_WORKER=0), termagent through a warm worker,
termagent's cold first start (fresh runtime dir: the run goes on in its own process and
starts the worker for the next; the worker's warm-up CPU counts for that run), and
`claude -p` (scripts/install-claude-code.sh puts it under .venv/claude-code) pointed at the
scripted server with a dummy key. Also: the pre-commit review hook from
hook start to its first request, with and without the worker.

    python scripts/bench_vs_peer.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from termagent.testing.scripted_server import ScriptedServer, reply, text  # noqa: E402

CLAUDE_CODE = "claude code"  # the reference variant, when `claude` is installed


@dataclass
class Sample:
    first_request_s: float
    wall_s: float
    cpu_s: float
    rss_mib: float
    code: int


@dataclass
class Variant:
    name: str
    command: list[str]
    env: dict[str, str]
    before: object = None  # called before each run (cold start: a fresh runtime dir)
    samples: list[Sample] = field(default_factory=list)


def find_claude() -> str | None:
    local = ROOT / ".venv" / "claude-code" / "node_modules" / ".bin" / "claude"
    beside = Path(sys.executable).parent.parent / "claude-code" / "node_modules" / ".bin" / "claude"
    for candidate in (local, beside):
        if candidate.exists():
            return str(candidate)
    return shutil.which("claude")


def run_once(variant: Variant, server: ScriptedServer, cwd: Path) -> Sample:
    report = Path(variant.env.get("TERMAGENT_WORKER_REPORT", "/nonexistent"))
    seen = len(report.read_text().splitlines()) if report.exists() else 0
    if callable(variant.before):
        variant.before()
    start_count = len(server.requests)
    started = time.monotonic()
    proc = subprocess.Popen(variant.command, cwd=cwd, env=variant.env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    requests = server.requests[start_count:]
    first = next((r.received_at for r in requests if r.path.startswith("/v1/messages")), float("nan")) - started
    cpu, rss = usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
    if report.exists():
        for line in report.read_text().splitlines()[seen:]:
            child = json.loads(line)
            cpu += child["utime"] + child["stime"] + child["handler_utime"] + child["handler_stime"]
            rss = max(rss, child["maxrss_kib"] / 1024)
    if callable(variant.before):  # a cold start: the worker it started imported the SDK; count that too
        runtime = Path(variant.env["TERMAGENT_RUNTIME_DIR"])
        wait_warmed(runtime)
        cpu += worker_cpu_s(runtime)
    return Sample(first, wall, cpu, rss, os.waitstatus_to_exitcode(status))


def serving_workers(runtime: Path) -> list[int]:
    """The pids of the workers under `runtime` that serve (each logs its pid when it starts to)."""
    import re

    return [int(pid) for log in runtime.glob("worker-*.log") for pid in re.findall(r"\(pid (\d+)\)", log.read_text())]


def worker_cpu_s(runtime: Path) -> float:
    """user + sys the worker daemons under `runtime` used so far (/proc/PID/stat, clock ticks)."""
    total = 0.0
    for pid in serving_workers(runtime):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):7.3f} (min {min(values):.3f}, max {max(values):.3f})"


def print_results(variants: list[Variant], reference: str | None) -> None:
    """Each variant's figures, then their ratios to the `reference` variant when one is named."""
    for variant in variants:
        s = variant.samples
        print(f"\n{variant.name}  ({len(s)} runs, exit codes {sorted({x.code for x in s})})")
        print(f"  first request s  {summary([x.first_request_s for x in s])}")
        print(f"  wall s           {summary([x.wall_s for x in s])}")
        print(f"  cpu s (u+s)      {summary([x.cpu_s for x in s])}")
        print(f"  peak RSS MiB     {summary([x.rss_mib for x in s])}")
    if reference is None:
        return
    ref = next((v for v in variants if v.name == reference), None)
    if ref is None:
        print("\n(no Claude Code: ratios skipped; scripts/install-claude-code.sh installs it)")
        return
    for variant in variants:
        if variant is ref:
            continue
        pairs = list(zip(variant.samples, ref.samples))
        for label, pick in (("first request", lambda x: x.first_request_s), ("cpu", lambda x: x.cpu_s),
                            ("peak RSS", lambda x: x.rss_mib)):
            ratios = [pick(a) / pick(b) for a, b in pairs if pick(b) > 0]
            print(f"ratio {variant.name} / {ref.name} {label}: median {statistics.median(ratios):.2f} "
                  f"(min {min(ratios):.2f}, max {max(ratios):.2f})")


def base_env(server: ScriptedServer, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANTHROPIC_", "TERMAGENT_", "CLAUDE")) and k not in ("PYTHONDONTWRITEBYTECODE",)}
    env.update(ANTHROPIC_BASE_URL=server.url, ANTHROPIC_API_KEY="sk-bench-dummy-000000", HOME=str(tmp / "home"),
               TERMAGENT_STATE_DIR=str(tmp / "state"), TERMAGENT_SANDBOX="none",
               PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
    return env


def variants_for(server: ScriptedServer, tmp: Path) -> list[Variant]:
    env = base_env(server, tmp)
    task = [sys.executable, "-m", "termagent", "--task", "say hello", "--output", "json"]
    warm_rt, report = tmp / "rt-warm", tmp / "report.jsonl"
    cold_rt = tmp / "rt-cold"

    def fresh_cold() -> None:
        stop_workers(cold_rt)
        shutil.rmtree(cold_rt, ignore_errors=True)

    found = [
        Variant("termagent in-process", task, dict(env, TERMAGENT_WORKER="0")),
        Variant("termagent warm worker", task, dict(env, TERMAGENT_RUNTIME_DIR=str(warm_rt),
                                                    TERMAGENT_WORKER_REPORT=str(report))),
        Variant("termagent cold worker", task, dict(env, TERMAGENT_RUNTIME_DIR=str(cold_rt),
                                                    TERMAGENT_WORKER_REPORT=str(tmp / "report-cold.jsonl")),
                before=fresh_cold),
    ]
    claude = find_claude()
    if claude:
        claude_env = dict(env, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", DISABLE_AUTOUPDATER="1")
        found.append(Variant(CLAUDE_CODE, [claude, "-p", "say hello", "--output-format", "json"], claude_env))
    return found


def wait_warmed(runtime: Path, workers: int = 1) -> None:
    """Until `workers` workers under `runtime` have had their quiet second (both warm-up rounds)."""
    deadline = time.monotonic() + 120
    while sum("quiet: warmed" in log.read_text() for log in runtime.glob("worker-*.log")) < workers:
        if time.monotonic() > deadline:
            raise SystemExit(f"no worker under {runtime} finished its warm-up; see its log there")
        time.sleep(0.05)


def stop_workers(runtime: Path) -> None:
    import signal

    for pid in serving_workers(runtime):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def bench_hook(server: ScriptedServer, tmp: Path, runs: int) -> None:
    """The pre-commit review: `python -P -m termagent hook run pre-commit` (what the installed
    hook script execs) in a repository with one staged change, start to first request."""
    repo = tmp / "repo"
    repo.mkdir()
    git_env = dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@b", GIT_COMMITTER_NAME="b",
                   GIT_COMMITTER_EMAIL="b@b")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, env=git_env)
    (repo / "app.py").write_text("def add(a, b):\n    return a - b\n")
    subprocess.run(["git", "add", "app.py"], cwd=repo, check=True, env=git_env)
    env = base_env(server, tmp)
    command = [sys.executable, "-P", "-m", "termagent", "hook", "run", "pre-commit"]
    hook_variants = [Variant("pre-commit hook in-process", command, dict(env, TERMAGENT_WORKER="0")),
                     Variant("pre-commit hook warm worker", command,
                             dict(env, TERMAGENT_RUNTIME_DIR=str(tmp / "rt-hook"),
                                  TERMAGENT_WORKER_REPORT=str(tmp / "report-hook.jsonl")))]
    for variant in hook_variants:
        run_once(variant, server, repo)  # warm-up (and the worker's start)
    wait_warmed(tmp / "rt-hook")
    for _ in range(runs):
        for variant in hook_variants:
            variant.samples.append(run_once(variant, server, repo))
    print_results(hook_variants, None)
    stop_workers(tmp / "rt-hook")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-hook", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bvp-", dir="/tmp") as name, \
            ScriptedServer(responder=lambda request: reply(text("hello"))) as server:
        tmp = Path(name)
        (tmp / "home").mkdir()
        workspace = tmp / "ws"
        workspace.mkdir()
        variants = variants_for(server, tmp)
        for variant in variants:
            run_once(variant, server, workspace)  # warm-up: bytecode caches, the warm worker's start
            variant.samples.clear()
        wait_warmed(tmp / "rt-warm")
        for _ in range(args.runs):
            for variant in variants:
                variant.samples.append(run_once(variant, server, workspace))
        print_results(variants, CLAUDE_CODE)
        stop_workers(tmp / "rt-warm")
        stop_workers(tmp / "rt-cold")
        if not args.no_hook:
            bench_hook(server, tmp, args.runs)


if __name__ == "__main__":
    main()
