"""Lifecycle hook overhead: one tool call through the real ToolRunner (policy, audit,
redaction, the read_file tool), with no hooks and with one no-op PreToolUse hook (`true`,
run through bash on the host like every hook). Medians over many calls, in-process.

    .venv/bin/python scripts/bench_hooks.py [--calls N]

Target: the hook adds at most 15 ms per call (median).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from termagent.config import load_config  # noqa: E402
from termagent.core.approvals import NoPersonApprover  # noqa: E402
from termagent.core.tool_runner import ToolRunner  # noqa: E402
from termagent.lifecycle.dispatch import Lifecycle  # noqa: E402
from termagent.lifecycle.settings import LoadedHooks, toml_hook  # noqa: E402
from termagent.model.reply import ToolCall  # noqa: E402
from termagent.policy.decide import Policy  # noqa: E402
from termagent.policy.rules import RuleSet  # noqa: E402
from termagent.store.db import Store  # noqa: E402
from termagent.tools.base import ToolContext  # noqa: E402
from termagent.tools.registry import ToolRegistry, default_tools  # noqa: E402
from termagent.tools.workspace import ReadLedger  # noqa: E402

TARGET_MS = 15.0


def runner(workspace: Path, store: Store, hook: str) -> ToolRunner:
    config = load_config(workspace, include_project=False)
    registry = ToolRegistry(default_tools(config))
    policy = Policy("ask", RuleSet.from_config([], [], [], "bench"), False)
    ctx = ToolContext(root=workspace, ledger=ReadLedger(), config=config, session_id="bench", artifacts=store)
    hooks = None
    if hook:
        loaded = LoadedHooks([toml_hook("PreToolUse", {"command": hook}, "bench")])
        hooks = Lifecycle(loaded, workspace, "bench", store, lambda event: None, [], lambda: policy.mode)
    return ToolRunner(registry, policy, NoPersonApprover(), ctx, lambda event: None, store, hooks=hooks)


async def timed_call(tool_runner: ToolRunner, n: int) -> float:
    call = ToolCall(f"toolu_{n}", "read_file", {"path": "a.txt"}, "")
    started = time.perf_counter()
    [result] = await tool_runner.run([call])
    elapsed = time.perf_counter() - started
    assert not result.get("is_error"), result
    return elapsed


async def paired(plain: ToolRunner, hooked: ToolRunner, calls: int) -> tuple[list[float], list[float]]:
    """Alternating calls, so a busy moment of the machine lands on both sides alike."""
    without, with_hook = [], []
    for n in range(calls):
        without.append(await timed_call(plain, n))
        with_hook.append(await timed_call(hooked, n))
    return without, with_hook


async def main(calls: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("TERMAGENT_STATE_DIR", str(Path(tmp) / "state"))
        os.environ.setdefault("TERMAGENT_CONFIG_DIR", str(Path(tmp) / "config"))
        workspace = Path(tmp) / "ws"
        workspace.mkdir()
        (workspace / "a.txt").write_text("hello\n" * 50)
        store = Store()
        plain, direct, shelled = runner(workspace, store, ""), runner(workspace, store, "true"), \
            runner(workspace, store, "exit 0")
        await paired(plain, direct, 10)  # warm-up: imports, the page cache
        rows = []
        for label, hooked in (("one no-op hook (`true`, run directly)", direct),
                              ("one no-op hook (`exit 0`, through bash)", shelled)):
            plain_s, hooked_s = await paired(plain, hooked, calls)
            rows.append((label, statistics.median(plain_s) * 1000, statistics.median(hooked_s) * 1000,
                         statistics.median(h - p for p, h in zip(plain_s, hooked_s)) * 1000))
        runs = sum(1 for row in store.audit("bench") if row["tool"] == "hook PreToolUse")
        store.close()
    assert runs == 2 * calls + 10, f"the hooks ran {runs} times, not {2 * calls + 10}"
    for label, without, with_hook, overhead in rows:
        print(f"{label}: {with_hook:.2f} ms per call vs {without:.2f} ms without hooks (medians of {calls})")
        print(f"  overhead {overhead:.2f} ms per call (median of paired differences; target <= {TARGET_MS:.0f} ms) "
              f"{'OK' if overhead <= TARGET_MS else 'OVER'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    asyncio.run(main(parser.parse_args().calls))
