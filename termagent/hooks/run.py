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
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from termagent import gitsafe
from termagent.config import Config, ConfigError, load_config

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

    @property
    def fail_closed(self) -> bool:
        return bool(self.config.get("hooks", "fail_closed"))

    @property
    def timeout_s(self) -> float:
        return float(self.config.get("hooks", "timeout_s"))

    def git(self, *args: str, check: bool = True) -> str:
        """Hardened git at the top, reading the index git handed to this hook."""
        env = gitsafe.git_env(self.top)
        if self.index_file:
            env["GIT_INDEX_FILE"] = self.index_file
        try:
            proc = subprocess.run(gitsafe.git_command(self.top, *args), check=False, capture_output=True, env=env,
                                  cwd=self.top, stdin=subprocess.DEVNULL, timeout=gitsafe.DEFAULT_TIMEOUT_S,
                                  encoding="utf-8", errors="replace")
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise gitsafe.GitError(f"git {args[0]} did not run: {exc}") from None
        if check and proc.returncode != 0:
            raise gitsafe.GitError(f"git {args[0]} failed: {proc.stderr.strip() or proc.returncode}",
                                   proc.returncode, proc.stderr)
        return proc.stdout

    def staged_diff(self) -> str:
        """Exactly what the commit will contain: the index, never the working tree."""
        return self.git("diff", "--cached", "--no-color", "-M", *gitsafe.DIFF_SAFETY)


def model_client(ctx: HookContext) -> Any:
    """The model client (raises ModelError at once when no credentials are set, before
    the SDK is imported, so the fail-open path stays fast)."""
    from termagent.model.client import ModelClient

    return ModelClient(ctx.config)


def hook_prompt(ctx: HookContext, name: str) -> str:
    """A prompt from prompts/, or the trusted project's override under .termagent/prompts/."""
    from termagent.core.prompts import load_prompt

    return load_prompt(name, ctx.top, ctx.trusted)


def skip_requested() -> bool:
    return os.environ.get(SKIP_VAR, "").strip().lower() in ("1", "true", "yes", "on")


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fail(ctx: HookContext, why: str) -> int:
    """One line on stderr; exit 0 (fail open) or 1 (fail closed)."""
    why = " ".join(why.split())
    if ctx.fail_closed:
        say(f"termagent {ctx.name}: blocked: {why} (hooks.fail_closed = true; {SKIP_VAR}=1 skips once)")
        return EXIT_BLOCK
    say(f"termagent: warning: {ctx.name} hook skipped: {why}; continuing (hooks.fail_closed = true blocks instead)")
    return EXIT_OK


def build_context(name: str, args: tuple[str, ...], workspace: Path,
                  overrides: dict[str, dict[str, Any]] | None = None) -> HookContext:
    """Raises ConfigError for a broken config and HookUnavailable outside a work tree."""
    proc = gitsafe.run_git(workspace, "rev-parse", "--show-toplevel", check=False, timeout=15)
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
    return HookContext(name, args, top, config, trusted, _index_file())


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
        say(f"termagent {name}: {exc}")
        return EXIT_USAGE
    except (HookUnavailable, gitsafe.GitError) as exc:
        say(f"termagent {name}: {exc}")
        return EXIT_USAGE
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
