"""Skills benchmarks: request-prefix bytes each skill adds, and session start-up with 0 and 50
skills (the real open_session, unsandboxed, no model request). Medians over runs.

    .venv/bin/python scripts/bench_skills.py [--runs N]
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

from termagent.extensions.catalog import load_extensions, skill_tools  # noqa: E402
from termagent.extensions.skills import prefix_listing  # noqa: E402

DESCRIPTION = ("Fills in PDF forms and extracts their fields; use it when the user asks to read, fill or "
               "flatten a PDF form")  # about the length of the descriptions in Anthropic's skills repository


def make_skills(root: Path, count: int) -> None:
    for number in range(count):
        folder = root / f"skill-{number:03}"
        folder.mkdir(parents=True)
        (folder / "SKILL.md").write_text(f"---\nname: skill-{number:03}\ndescription: {DESCRIPTION}\n"
                                         f"license: MIT\n---\n" + "Step one, then step two.\n" * 40)
        (folder / "reference.md").write_text("Details.\n" * 100)


def prefix_bytes(workspace: Path, user_dir: Path) -> int:
    """Bytes the skills put into the request prefix: the listing and the skill tool's spec."""
    extensions = load_extensions(workspace, False, (user_dir,), ())
    tools = [tool.spec.to_api() for tool in skill_tools(extensions)]
    return len(prefix_listing(extensions.skills).encode()) + len(json.dumps(tools).encode()) if tools else 0


def start_seconds(workspace: Path, runs: int) -> float:
    from termagent.config import load_config
    from termagent.core.assembly import SessionOptions, open_session
    from termagent.store.db import Store

    config = load_config(workspace, include_project=False).with_overrides({"sandbox": {"backend": "none"}})
    times = []
    for _ in range(runs):
        store = Store()
        started = time.perf_counter()
        open_session(config, SessionOptions(workspace, interactive=False), store)
        times.append(time.perf_counter() - started)
        store.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for name in ("config", "state", "claude"):
            (base / name).mkdir()
        os.environ.update(TERMAGENT_CONFIG_DIR=str(base / "config"), TERMAGENT_STATE_DIR=str(base / "state"),
                          CLAUDE_CONFIG_DIR=str(base / "claude"), ANTHROPIC_API_KEY="sk-bench-unused",
                          ANTHROPIC_BASE_URL="http://127.0.0.1:9")
        workspace = base / "project"
        workspace.mkdir()
        per_skill, total = {}, {}
        for count in (1, 10, 50):
            user_dir = base / f"skills-{count}"
            make_skills(user_dir, count)
            total[count] = prefix_bytes(workspace, user_dir)
            per_skill[count] = total[count] / count
            print(f"{count:>3} skills: {total[count]:>6} prefix bytes, {per_skill[count]:.0f} per skill")
        marginal = (total[50] - total[1]) / 49
        print(f"median prefix bytes per skill: {statistics.median(per_skill.values()):.0f}; each skill past the "
              f"first adds {marginal:.0f} (~{marginal / 4:.0f} tokens); fixed part (tool + header) "
              f"{total[1] - marginal:.0f}")
        empty = start_seconds(workspace, args.runs)
        make_skills(base / "config" / "skills", 50)
        full = start_seconds(workspace, args.runs)
        print(f"session start (open_session), median of {args.runs}: 0 skills {empty * 1000:.1f} ms, "
              f"50 skills {full * 1000:.1f} ms (+{(full - empty) * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
