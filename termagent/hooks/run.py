"""`termagent hook run NAME`: the frame every git hook runs in.

A hook must never hang a commit or push and never ask anything: it has a time bound
(`hooks.timeout_s`), no stdin, and when it cannot do its job (no model, no Docker engine,
out of time) it fails open with one warning line, or closed when `hooks.fail_closed` is
set. `TERMAGENT_SKIP_HOOKS=1` skips every hook before anything heavy is imported.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from termagent import gitsafe
from termagent.config import DEFAULTS, ConfigError, load_config
from termagent.hooks.context import (
    EXIT_OK,
    SKIP_VAR,
    HookContext,
    HookUnavailable,
    fail,
    fail_as,
    hook_git_env,
    repo_from_environment,
    run_hook_git,
    say,
    skip_requested,
)

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
