"""The pre-commit framework runs termagent's hooks as `.pre-commit-hooks.yaml` declares them.

The manifest is validated by pre-commit itself; a `repo: local` config then uses each
hook's declared entry, stages and options verbatim (with `language: system`, so no
environment is built from the network), and real commits go through the framework.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from termagent.testing.scripted_server import ScriptedServer, reply, text, tool_use
from tests.hooks_support import (
    first_user_text,
    git,
    head,
    make_repo,
    model_env,
    write_user_config,
)

MANIFEST = Path(__file__).resolve().parent.parent / ".pre-commit-hooks.yaml"
BIN = Path(sys.executable).parent


def pre_commit() -> str:
    found = shutil.which("pre-commit", path=str(BIN)) or shutil.which("pre-commit")
    if found is None:
        message = "pre-commit is not installed (pip install -e '.[test]')"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def local_config() -> str:
    import yaml

    hooks = yaml.safe_load(MANIFEST.read_text())
    for hook in hooks:
        hook["language"] = "system"
    config = {"default_install_hook_types": ["pre-commit", "commit-msg"],
              "repos": [{"repo": "local", "hooks": hooks}]}
    return yaml.safe_dump(config, sort_keys=False)


def framework_env(tmp_path: Path, url: str) -> dict[str, str]:
    return model_env(url, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                     PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"))


def test_manifest_is_valid() -> None:
    proc = subprocess.run([pre_commit(), "validate-manifest", str(MANIFEST)], check=False, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_framework_runs_review_and_commit_message_hooks(tmp_path: Path, scripted_server: ScriptedServer) -> None:
    write_user_config()
    repo = make_repo(tmp_path / "repo", hooks=())
    env = framework_env(tmp_path, scripted_server.url)
    (repo / ".pre-commit-config.yaml").write_text(local_config())
    git(repo, "add", ".pre-commit-config.yaml")
    subprocess.run([pre_commit(), "install"], cwd=repo, env=env, check=True, capture_output=True)

    (repo / "danger.py").write_text("eval(input())\n")
    git(repo, "add", "danger.py")
    before = head(repo)
    scripted_server.add(reply(tool_use("submit_review", {"verdict": "block", "findings": [
        {"file": "danger.py", "line": 1, "severity": "error", "message": "eval of user input"}]})))
    blocked = git(repo, "commit", "-m", "add danger", env=env, check=False)
    assert blocked.returncode != 0
    assert "danger.py:1: error: eval of user input" in blocked.stdout + blocked.stderr
    assert head(repo) == before

    (repo / "danger.py").write_text("print(input())\n")
    git(repo, "add", "danger.py")
    scripted_server.add(reply(tool_use("submit_review", {"verdict": "pass", "findings": []})),
                        reply(text("fix: echo input instead of evaluating it")))
    git(repo, "commit", env=env)
    assert git(repo, "log", "-1", "--format=%s").stdout.strip() == "fix: echo input instead of evaluating it"
    assert "print(input())" in first_user_text(scripted_server.requests[1].body)
