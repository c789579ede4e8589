"""Host-side printers never pass terminal escapes through: file names in the rewind
listing and plan, and review findings printed by the pre-commit hook, come from the
sandbox or the model and must reach the person's terminal sanitised."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from termagent.git.checkpoints import Checkpointer
from termagent.testing.scripted_server import ScriptedServer, reply, tool_use
from tests.hooks_support import base_env, git, make_repo, model_env, write_user_config

CLIPBOARD = "\x1b]52;c;ZWNobyBwd25lZA==\x07"
CLEAR = "\x1b[2J"
EVIL = f"x{CLIPBOARD}{CLEAR}y.txt"


def termagent(repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "termagent", *args], cwd=repo, env=base_env(),
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=120, check=False)


def test_rewind_list_and_plan_escape_planted_file_names(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", hooks=())
    checkpointer = Checkpointer(repo, "s-escapes")
    checkpointer.snapshot_sync("start")
    (repo / EVIL).write_text("planted\n")
    checkpointer.snapshot_sync(f"before changing {EVIL}")
    (repo / EVIL).write_text("changed again\n")

    listing = termagent(repo, "rewind", "--list")
    plan = termagent(repo, "rewind", "--to", "1")
    for proc in (listing, plan):
        assert b"\x1b" not in proc.stdout + proc.stderr
        assert b"\x07" not in proc.stdout + proc.stderr
    assert b"before changing x\\x1b]52;c;" in listing.stdout
    assert b"x\\x1b]52;c;ZWNobyBwd25lZA==\\x07\\x1b[2Jy.txt" in plan.stdout
    assert (repo / EVIL).read_text() == "changed again\n"  # no terminal, no --yes: nothing changed


def test_review_findings_reach_the_terminal_without_escapes(tmp_path: Path,
                                                            scripted_server: ScriptedServer) -> None:
    write_user_config()
    repo = make_repo(tmp_path / "repo")
    (repo / "app.py").write_text("print('hi')\n")
    git(repo, "add", "app.py")
    message = f"looks fine{CLIPBOARD}\x1b]0;pwned title\x07{CLEAR}\x1b[1A\x1b[2K"
    scripted_server.add(reply(tool_use("submit_review", {"verdict": "pass", "findings": [
        {"file": f"app{CLEAR}.py", "line": 1, "severity": "info", "message": message}]})))
    proc = subprocess.run(["git", "commit", "-m", "add app"], cwd=repo, env=model_env(scripted_server.url),
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=180, check=True)
    output = proc.stdout + proc.stderr
    assert b"looks fine" in output
    assert b"\x1b" not in output and b"\x07" not in output
    assert b"pwned title" not in output
