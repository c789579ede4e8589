"""Shared parts of the batch tests: one scripted model server serving many sessions.

The server's existing `responder` hook routes each request to its task's script: the
task id is written into the task text (`[task t03]`), and the step is the number of
assistant turns already in the request, so every session, and every retry of one (a
fresh session after a lost worker), walks its own script from the start. No change to
the server was needed.
"""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from termagent.testing.scripted_server import RecordedRequest, reply, text, tool_use

MARK = re.compile(r"\[task ([A-Za-z0-9_-]+)\]")
API_KEY = "sk-batch-secret-4b1d9e7f0c2a"
Script = Callable[[int], list[dict[str, Any]]]  # attempt number (1-based) -> the steps of that attempt


def task_id_of(request: RecordedRequest) -> str | None:
    messages = request.body.get("messages") or []
    if not messages:
        return None
    content = messages[0].get("content")
    blocks = content if isinstance(content, list) else [{"type": "text", "text": str(content)}]
    for block in blocks:
        found = MARK.search(str(block.get("text", ""))) if isinstance(block, dict) else None
        if found:
            return found.group(1)
    return None


class TaskScripts:
    """A responder: per-task scripts, per-attempt counts, and who asked what."""

    def __init__(self) -> None:
        self.scripts: dict[str, Script] = {}
        self.attempts: collections.Counter[str] = collections.Counter()
        self.requests: collections.Counter[str] = collections.Counter()
        self.changed = threading.Condition()

    def add(self, task_id: str, script: Script) -> None:
        self.scripts[task_id] = script

    def __call__(self, request: RecordedRequest) -> dict[str, Any] | None:
        task_id = task_id_of(request)
        if task_id is None or task_id not in self.scripts:
            return None
        turn = sum(1 for m in request.body.get("messages", []) if m.get("role") == "assistant")
        with self.changed:
            if turn == 0:
                self.attempts[task_id] += 1
            self.requests[task_id] += 1
            attempt = self.attempts[task_id]
            self.changed.notify_all()
        steps = self.scripts[task_id](attempt)
        return steps[turn] if turn < len(steps) else reply(text(f"{task_id}: script exhausted"))

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 120.0) -> bool:
        deadline = time.monotonic() + timeout_s
        with self.changed:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(min(left, 1.0))
        return True


def edit_script(task_id: str) -> Script:
    """Read notes.txt, fix its spelling, say so: done, with a one-line diff."""
    return lambda attempt: [
        reply(tool_use("read_file", {"path": "notes.txt"})),
        reply(tool_use("edit_file", {"path": "notes.txt", "old_string": "colour", "new_string": f"color {task_id}"})),
        reply(text(f"{task_id} fixed")),
    ]


def denied_script(task_id: str) -> Script:
    """A command without a sandbox asks; headless denies it: the task ends `denied`."""
    return lambda attempt: [reply(tool_use("bash", {"command": "touch made-by-bash"})),
                            reply(text(f"{task_id} could not run it"))]


def make_project(root: Path) -> Path:
    project = root / "project"
    project.mkdir(parents=True)
    (project / "notes.txt").write_text("colour\n")
    (project / "README").write_text("a project\n")
    return project


def make_remote(root: Path) -> tuple[str, str]:
    """A bare repository with a `feature` branch whose notes.txt says colour; (URL, ref)."""
    work = root / "remote-work"
    work.mkdir(parents=True)
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t")

    def git(*args: str, cwd: Path = work) -> None:
        subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    (work / "notes.txt").write_text("main branch\n")
    git("add", "-A")
    git("commit", "-q", "-m", "main")
    git("checkout", "-q", "-b", "feature")
    (work / "notes.txt").write_text("colour\n")
    git("commit", "-q", "-am", "feature")
    git("checkout", "-q", "main")
    git("clone", "-q", "--bare", str(work), str(root / "remote.git"), cwd=root)
    return (root / "remote.git").as_uri(), "feature"


def write_tasks(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def read_results(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    return {line["id"]: line for line in map(json.loads, path.read_text().splitlines()) if line}


def batch_env(server_url: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    environ.update(ANTHROPIC_BASE_URL=server_url, ANTHROPIC_API_KEY=API_KEY,
                   PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    return environ


def batch_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "termagent", *args]


DONE = ("t01", "t02", "t03", "t04", "t05", "t06", "t07", "t08", "t10")


def twelve_tasks(root: Path, scripts: TaskScripts) -> Path:
    """Nine edits (copies of a directory and clones of a git ref), a denial, a missing
    workspace and a task stopped by its own turn limit."""
    project, (url, ref) = make_project(root), make_remote(root)
    lines: list[dict[str, Any]] = []
    for n in range(1, 13):
        tid = f"t{n:02d}"
        workspace: Any = str(project) if n % 3 else {"git": url, "ref": ref}
        line = {"id": tid, "task": f"fix the spelling in notes.txt [task {tid}]", "workspace": workspace,
                "mode": "accept-edits"}
        scripts.add(tid, edit_script(tid))
        if tid == "t09":
            scripts.add(tid, denied_script(tid))
        if tid == "t11":
            line["workspace"] = str(root / "no-such-dir")
        if tid == "t12":
            line["max_turns"] = 1
        lines.append(line)
    return write_tasks(root / "tasks.jsonl", lines)


def check_twelve(results: dict[str, dict[str, Any]]) -> None:
    """What the twelve tasks must have produced, wherever they ran."""
    assert sorted(results) == [f"t{n:02d}" for n in range(1, 13)]
    for tid in DONE:
        line = results[tid]
        assert (line["exit_reason"], line["exit_code"], line["result"]) == ("done", 0, f"{tid} fixed"), line
        assert f"-colour\n+color {tid}\n" in line["diff"] and line["diff_stat"]["files"] == 1
        assert line["session_id"] and line["turns"] == 3 and line["cost_usd"] > 0
        assert {"prepare_s", "agent_s", "diff_s", "total_s"} <= set(line["timings"])
    assert (results["t09"]["exit_reason"], results["t09"]["exit_code"]) == ("denied", 4)
    assert results["t09"]["denials"] and results["t09"]["diff"] == ""
    assert (results["t11"]["exit_reason"], results["t11"]["exit_code"]) == ("usage_error", 2)
    assert "no-such-dir does not exist" in results["t11"]["detail"]
    assert (results["t12"]["exit_reason"], results["t12"]["exit_code"]) == ("max_turns", 1)


def processes_naming(*words: str) -> list[int]:
    """Pids of live processes whose command line contains every one of `words`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if all(word in cmdline for word in words):
                pids.append(int(entry.name))
    return pids
