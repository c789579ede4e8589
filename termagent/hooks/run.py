"""`termagent hook run NAME`: the frame every git hook runs in.

A hook must never hang a commit or push and never ask anything: it has a time bound
(`hooks.timeout_s`), no stdin, and when it cannot do its job (no model, no Docker engine,
out of time) it fails open with one warning line, or closed when `hooks.fail_closed` is
set. `TERMAGENT_SKIP_HOOKS=1` skips every hook before anything heavy is imported.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from termagent import gitsafe
from termagent.console import warn
from termagent.config import DEFAULTS, Config, ConfigError, load_config

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


def _setup_failed(name: str, workspace: Path, why: str, overrides: dict[str, dict[str, Any]] | None) -> int:
    """No context could be built: decide open/closed from the user's own config (the project's
    may be what is broken), or the defaults when that is unreadable too."""
    try:
        config = load_config(workspace, include_project=False)
        if overrides:
            config = config.with_overrides(overrides)
        fail_closed = bool(config.get("hooks", "fail_closed"))
    except ConfigError:
        fail_closed = bool(DEFAULTS["hooks"]["fail_closed"])
    return fail_as(name, fail_closed, why)


def build_context(name: str, args: tuple[str, ...], workspace: Path,
                  overrides: dict[str, dict[str, Any]] | None = None) -> HookContext:
    """Raises ConfigError for a broken config and HookUnavailable outside a work tree."""
    pinned = repo_from_environment()
    proc = run_hook_git(workspace, hook_git_env(workspace, pinned), "rev-parse", "--show-toplevel")
    if proc.returncode != 0 or not proc.stdout.strip():
        raise HookUnavailable(f"{workspace} is not inside a git work tree")
    top = Path(proc.stdout.strip())
    from termagent.trust import is_trusted

    trusted = is_trusted(top)
    if not trusted:
        say("termagent: warning: ignoring this project's .termagent/ settings until you trust them "
            "(termagent --trust-project)")
    config = load_config(top, include_project=trusted)
    if overrides:
        config = config.with_overrides(overrides)
    return HookContext(name, args, top, config, trusted, _index_file(), tuple(sorted(pinned.items())))


def _index_file() -> str | None:
    """git sets GIT_INDEX_FILE (relative to the hook's cwd) when the commit uses another index."""
    value = os.environ.get("GIT_INDEX_FILE", "")
    if not value:
        return None
    path = Path(value)
    return str(path if path.is_absolute() else Path.cwd() / path)


def _runner(name: str) -> Callable[[HookContext], Awaitable[int]]:
    if name == "pre-commit":
        from termagent.hooks.review import run_review

        return run_review
    if name == "commit-msg":
        from termagent.hooks.commit_msg import run_commit_msg

        return run_commit_msg
    from termagent.hooks.pre_push import run_pre_push

    return run_pre_push


def run_hook(name: str, args: tuple[str, ...], workspace: Path,
             overrides: dict[str, dict[str, Any]] | None = None) -> int:
    """Run one hook to an exit code for git: 0 lets the commit/push go on."""
    if skip_requested():
        say(f"termagent {name}: skipped ({SKIP_VAR} is set)")
        return EXIT_OK
    try:
        ctx = build_context(name, args, workspace, overrides)
    except ConfigError as exc:
        return _setup_failed(name, workspace, f"broken configuration ({exc})", overrides)
    except (HookUnavailable, gitsafe.GitError) as exc:
        return _setup_failed(name, workspace, str(exc), overrides)
    return _run_bounded(ctx, _runner(name))


def _run_bounded(ctx: HookContext, runner: Callable[[HookContext], Awaitable[int]]) -> int:
    from termagent.model.retry import ModelError
    from termagent.sandbox.base import SandboxUnavailable

    try:
        return asyncio.run(asyncio.wait_for(runner(ctx), timeout=ctx.timeout_s))
    except HookUnavailable as exc:
        return fail(ctx, str(exc))
    except ModelError as exc:
        return fail(ctx, f"no model reachable ({exc})")
    except SandboxUnavailable as exc:
        return fail(ctx, f"no sandbox ({exc})")
    except TimeoutError:
        return fail(ctx, f"no answer within {ctx.timeout_s:.0f} s (hooks.timeout_s)")
    except gitsafe.GitError as exc:
        return fail(ctx, f"git failed ({exc})")
