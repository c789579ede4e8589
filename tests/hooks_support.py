"""Helpers for the git-hook tests: real repositories, real `git commit`/`git push`, the
installed hook scripts running this venv's termagent against the scripted model server."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path
from typing import Any

from termagent.hooks.install import install

FAST_MODEL = "[model]\nmax_retries = 1\nbackoff_base_s = 0.01\nbackoff_max_s = 0.02\n"


def base_env(**extra: str) -> dict[str, str]:
    """The test process's environment (isolated state dirs) without git or model variables."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "ANTHROPIC_")) and k != "TERMAGENT_SKIP_HOOKS"}
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", "GIT_EDITOR": "true"})
    env.update(extra)
    return env


def model_env(url: str, **extra: str) -> dict[str, str]:
    return base_env(ANTHROPIC_BASE_URL=url, ANTHROPIC_API_KEY="test", **extra)


def closed_port_url() -> str:
    """A loopback URL nothing listens on: the model is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def write_user_config(text: str = "") -> Path:
    path = Path(os.environ["TERMAGENT_CONFIG_DIR"]) / "config.toml"
    path.write_text(FAST_MODEL + text, encoding="utf-8")
    return path


def git(repo: Path, *args: str, env: dict[str, str] | None = None, check: bool = True,
        timeout: float = 180) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["git", *args], check=False, cwd=repo, env=env or base_env(), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def make_repo(path: Path, hooks: tuple[str, ...] = ("pre-commit",)) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Test Person")
    git(path, "config", "user.email", "test@example.invalid")
    (path / "README.md").write_text("demo\n")
    git(path, "add", "README.md")
    git(path, "commit", "-q", "--no-verify", "-m", "initial")
    if hooks:
        install(path, hooks)
    return path


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").stdout.strip()


def first_user_text(body: dict[str, Any]) -> str:
    content = body["messages"][0]["content"]
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content if isinstance(block, dict))
