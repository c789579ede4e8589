"""A git hook with the model endpoint down must cost a commit seconds, not the session's
whole retry budget: hooks build their client with a short connect budget of their own."""

from __future__ import annotations

import os
from pathlib import Path

from tests.hooks_support import closed_port_url, git, make_repo, model_env


def test_model_down_costs_a_commit_only_the_hook_connect_budget(tmp_path: Path) -> None:
    """With the session's retry settings (5 retries by default, backoff up to 30 s) a commit with
    the model down used to sit through every backoff, about 15 s. The hook caps them whatever
    the user configured for interactive sessions; the count of attempts shows the cap held
    (wall time on a shared, loaded test machine would not)."""
    config = Path(os.environ["TERMAGENT_CONFIG_DIR"]) / "config.toml"
    config.write_text("[model]\nmax_retries = 9\nconnect_timeout_s = 30.0\n", encoding="utf-8")
    repo = make_repo(tmp_path / "repo")
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "a.txt")
    url = closed_port_url()
    proc = git(repo, "commit", "-m", "a", env=model_env(url))
    assert "pre-commit hook skipped" in proc.stderr
    assert "failed after 2 attempts" in proc.stderr  # one retry, not the configured nine
    assert f"cannot reach {url}/v1/messages: connection refused" in proc.stderr
    assert git(repo, "log", "-1", "--format=%s").stdout.strip() == "a"
