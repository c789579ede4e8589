"""pre-push: run the project's tests through the `test_runner` subagent, in the sandbox.

A headless session (no person: anything that would ask is denied, bash is allowed by
rule so the tests can run, destructive commands still are not) runs the subagent
directly, without a main-agent turn. Failing tests block the push and print the
subagent's summary; a sandbox or model that cannot be reached fails open or closed
like every hook. The tests run on the working tree as it is now; git's list of refs on
stdin is never read.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from termagent.console import say as emit
from termagent.hooks.context import EXIT_BLOCK, EXIT_OK, HookContext, HookUnavailable, say

TASK = (
    "A `git push` is about to happen. Run this project's test suite (the whole suite, as its own configuration "
    "runs it) and report the result. Use `status: ok` only when the tests ran and all passed; `status: failed` "
    "when any test failed or errored; `status: partial` when the suite could not be run at all, saying why."
)
_STATUS = re.compile(r"^\s*status:\s*(ok|failed|partial)\b", re.IGNORECASE | re.MULTILINE)


def summary_status(summary: str) -> str:
    """The status line of a subagent summary ('' when it has none)."""
    match = _STATUS.search(summary)
    return match.group(1).lower() if match else ""


def _open_session(ctx: HookContext) -> tuple[Any, Any]:
    from termagent.core.door import open_session, session_options
    from termagent.store.db import Store

    options = session_options(ctx.top, interactive=False, allow=("bash",), trusted=ctx.trusted)
    store = Store()
    try:
        return open_session(ctx.config, options, store), store
    except BaseException:
        store.close()
        raise


def _progress(event: Any) -> None:
    """Show each command the subagent runs, so a slow push is not a silent one."""
    from termagent.protocol import SubagentEvent, ToolCallStarted

    inner = event.event if isinstance(event, SubagentEvent) else None
    if isinstance(inner, ToolCallStarted) and inner.name == "bash":
        say(f"termagent pre-push: $ {str(inner.input.get('command', ''))[:200]}")


async def run_pre_push(ctx: HookContext) -> int:
    from termagent.sandbox.base import SandboxUnavailable

    session, store = _open_session(ctx)
    try:
        session.bus.listen(_progress)
        session.start()
        try:
            await session.start_sandbox()
        except SandboxUnavailable as exc:
            raise HookUnavailable(f"no sandbox to run the tests in: {exc}") from None
        if "test_runner" not in session.agent_definitions():
            raise HookUnavailable("no test_runner subagent is defined")
        say(f"termagent pre-push: running the tests (sandbox: {ctx.config.get('sandbox', 'backend')})")
        report = await session.run_subagent("test_runner", TASK)
    finally:
        await session.close("pre-push")
        store.close()
    return _verdict(report)


def _verdict(report: Any) -> int:
    if report.status == "failed":
        reason = re.search(r"^reason: (.*)$", report.summary, re.MULTILINE)
        raise HookUnavailable(f"the test run could not talk to the model ({reason.group(1) if reason else 'no reply'})")
    if report.status != "ok":
        raise HookUnavailable(f"the test run stopped early ({report.status}); results are incomplete")
    status = summary_status(report.summary)
    if status == "ok":
        say("termagent pre-push: tests passed")
        return EXIT_OK
    if status == "failed":
        emit(report.summary, flush=True)
        say("termagent pre-push: tests failed, push blocked (TERMAGENT_SKIP_HOOKS=1 git push ... skips once)")
        return EXIT_BLOCK
    emit(report.summary, file=sys.stderr, flush=True)
    raise HookUnavailable("the tests could not be run (see the summary above)")
