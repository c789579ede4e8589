"""A git hook with the model endpoint down must cost a commit seconds, not the session's
whole retry budget: hooks build their client with a short connect budget of their own."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.hooks_support import closed_port_url, git, make_repo, model_env


def test_model_down_costs_a_commit_only_the_hook_connect_budget(tmp_path: Path) -> None:
    """With the default retry settings (5 retries, backoff up to 30 s) a commit with the model
    down used to sit through every backoff, about 15 s."""
    config = Path(os.environ["TERMAGENT_CONFIG_DIR"]) / "config.toml"
    config.write_text("", encoding="utf-8")  # the defaults, not the suite's fast-retry config
    repo = make_repo(tmp_path / "repo")
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "a.txt")
    url = closed_port_url()
    started = time.monotonic()
    proc = git(repo, "commit", "-m", "a", env=model_env(url))
    elapsed = time.monotonic() - started
    assert "pre-commit hook skipped" in proc.stderr
    assert "failed after 2 attempts" in proc.stderr  # one retry, not five
    assert f"cannot reach {url}/v1/messages: connection refused" in proc.stderr
    assert git(repo, "log", "-1", "--format=%s").stdout.strip() == "a"
    # generous: two interpreter start-ups and git on a loaded 2-core machine; the old budget
    # alone was 7.5-15 s of backoff on top of those
    assert elapsed < 10
