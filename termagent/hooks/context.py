"""What every git hook runner shares: its context, exit codes, model client and messages.

Apart from `run.py`, which picks and bounds a runner, so the runners can import this
without importing the module that imports them.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from termagent import gitsafe
from termagent.console import warn
from termagent.config import Config

SKIP_VAR = "TERMAGENT_SKIP_HOOKS"
EXIT_OK = 0
EXIT_BLOCK = 1
EXIT_USAGE = 2


class HookUnavailable(Exception):
    """The hook could not do its job (no model, no sandbox, no answer): fail open or closed."""


@dataclass(frozen=True)
class HookContext:
    name: str
    args: tuple[str, ...]
    top: Path  # the work tree's top directory
    config: Config
    trusted: bool  # the project's .termagent/ settings apply
    index_file: str | None  # GIT_INDEX_FILE git gave the hook (`commit -a`, `commit <paths>`)
    repo_env: tuple[tuple[str, str], ...] = ()  # GIT_DIR/GIT_WORK_TREE git gave the hook, absolute

    @property
    def fail_closed(self) -> bool:
        return bool(self.config.get("hooks", "fail_closed"))

    @property
    def timeout_s(self) -> float:
        return float(self.config.get("hooks", "timeout_s"))

    def git(self, *args: str, check: bool = True) -> str:
        """Hardened git at the top, in the repository and index git handed to this hook."""
        env = hook_git_env(self.top, dict(self.repo_env))
        if self.index_file:
            env["GIT_INDEX_FILE"] = self.index_file
        proc = run_hook_git(self.top, env, *args)
        if check and proc.returncode != 0:
            raise gitsafe.GitError(f"git {args[0]} failed: {proc.stderr.strip() or proc.returncode}",
                                   proc.returncode, proc.stderr)
        return proc.stdout

    def staged_diff(self) -> str:
        """Exactly what the commit will contain: the index, never the working tree."""
        return self.git("diff", "--cached", "--no-color", "-M", *gitsafe.DIFF_SAFETY)


def repo_from_environment() -> dict[str, str]:
    """GIT_DIR and GIT_WORK_TREE as git set them for this hook (a bare repository with a
    separate work tree, the dotfiles setup), made absolute against the hook's cwd.

    gitsafe scrubs every inherited GIT_* variable, so these are passed on explicitly:
    without them git would not find the repository at all."""
    pinned: dict[str, str] = {}
    for key in ("GIT_DIR", "GIT_WORK_TREE"):
        value = os.environ.get(key, "")
        if value:
            path = Path(value)
            pinned[key] = str(path if path.is_absolute() else Path.cwd() / path)
    return pinned


def hook_git_env(root: Path, pinned: dict[str, str]) -> dict[str, str]:
    """`gitsafe.git_env(root)` for the repository `pinned` names, its filter drivers included."""
    return gitsafe.git_env(root, pinned=pinned)


def run_hook_git(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(gitsafe.git_command(cwd, *args), check=False, capture_output=True, env=env, cwd=cwd,
                              stdin=subprocess.DEVNULL, timeout=gitsafe.DEFAULT_TIMEOUT_S, encoding="utf-8",
                              errors="replace")
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise gitsafe.GitError(f"git {args[0]} did not run: {exc}") from None


#: A hook's model budget: a commit must not sit out an interactive session's retries (about
#: 15 s with the endpoint down) before failing open. Caps only; a user's lower values stand.
HOOK_MODEL_BUDGET = {"connect_timeout_s": 2.0, "max_retries": 1, "backoff_max_s": 1.0, "max_retry_wait_s": 2.0}


def model_client(ctx: HookContext) -> Any:
    """The model client (raises ModelError at once when no credentials are set, before
    the SDK is imported, so the fail-open path stays fast)."""
    from termagent.model.client import ModelClient

    model = ctx.config.section("model")
    capped = {key: min(type(cap)(model[key]), cap) for key, cap in HOOK_MODEL_BUDGET.items()}
    return ModelClient(ctx.config.with_overrides({"model": capped}))


def hook_prompt(ctx: HookContext, name: str) -> str:
    """A prompt from prompts/, or the trusted project's override under .termagent/prompts/."""
    from termagent.core.door import load_prompt

    return load_prompt(name, ctx.top, ctx.trusted)


def skip_requested() -> bool:
    return os.environ.get(SKIP_VAR, "").strip().lower() in ("1", "true", "yes", "on")


def say(message: str) -> None:
    warn(message)


def fail(ctx: HookContext, why: str) -> int:
    """One line on stderr; exit 0 (fail open) or 1 (fail closed)."""
    return fail_as(ctx.name, ctx.fail_closed, why)


def fail_as(name: str, fail_closed: bool, why: str) -> int:
    why = " ".join(why.split())
    if fail_closed:
        say(f"termagent {name}: blocked: {why} (hooks.fail_closed = true; {SKIP_VAR}=1 skips once)")
        return EXIT_BLOCK
    say(f"termagent: warning: {name} hook skipped: {why}; continuing (hooks.fail_closed = true blocks instead)")
    return EXIT_OK
