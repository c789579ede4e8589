"""Warm-up: import what a task imports, and stream one scripted reply through the real SDK
over loopback, so each task's first request pays for neither the imports nor the SDK's
lazily built parsers (pydantic builds a model's validator on first use, about 0.4 s of CPU
for the stream events). A second round in the worker's first quiet second adds what only
saves a task tens of milliseconds: the modules a session opens on first use, and one
reply through termagent's reply builder, whose model_dump builds the serializers.

Runs before the first fork with a dummy key against termagent's own scripted server on
127.0.0.1; nothing of a user's session is involved, and every thread it starts has ended
before the worker forks.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import threading
from collections.abc import Callable
from functools import partial

PRELOAD = ("termagent.cli", "termagent.headless", "termagent.core.assembly", "termagent.store.db",
           "termagent.policy.decide", "termagent.hooks.run", "termagent.hooks.review", "termagent.hooks.commit_msg",
           "termagent.hooks.pre_push", "termagent.model.client", "termagent.sandbox.docker_backend", "docker")
EDITORS_PRELOAD = ("termagent.acp.server",)  # the ACP SDK's models: about 0.6 s
# What opening a session imports on first use (about 70 ms of a task otherwise); loaded in
# the worker's first quiet second with the reply serializers, so a task that arrives while
# the worker warms up (the next commit's hook, a batch's second task) does not wait for them.
WHEN_QUIET = ("termagent.core.compaction", "termagent.core.watcher", "termagent.git.checkpoints",
              "termagent.git.rewind", "termagent.git.autocommit", "termagent.mcp.attach", "termagent.sandbox.host",
              "termagent.tools.bash", "termagent.tools.jobs", "termagent.tools.artifacts", "termagent.telemetry",
              "termagent.lifecycle.settings", "termagent.extensions.places", "watchdog.observers", "pathspec",
              "platformdirs")


def warm_up(log: Callable[[str], None], editors: bool = False) -> None:
    """Before serving: the SDK, the modules every task imports, and one stream through the SDK."""
    from termagent.model.sdk import import_sdk, tls_context

    loaders: list[tuple[str, Callable[[], object]]] = [("anthropic", import_sdk), ("TLS context", tls_context)]
    loaders += _importers(PRELOAD + EDITORS_PRELOAD if editors else PRELOAD)
    _load(loaders, log)
    try:
        from termagent.policy.shell_parse import parse

        parse("true")  # builds bashlex's parse table
        asyncio.run(_stream_once(build_reply=False))
    except Exception as exc:  # noqa: BLE001 - a failed warm-up costs speed, never a task
        log(f"warm-up failed: {exc!r}")
    _settle()


def warm_when_quiet(log: Callable[[str], None]) -> None:
    """The second round, once no task is waiting; the tasks forked after it share it."""
    _load(_importers(WHEN_QUIET), log)
    try:
        asyncio.run(_stream_once(build_reply=True))
    except Exception as exc:  # noqa: BLE001
        log(f"quiet warm-up failed: {exc!r}")
    _settle()
    log("quiet: warmed what could wait")


def _importers(modules: tuple[str, ...]) -> list[tuple[str, Callable[[], object]]]:
    return [(name, partial(importlib.import_module, name)) for name in modules]


def _load(loaders: list[tuple[str, Callable[[], object]]], log: Callable[[str], None]) -> None:
    for name, load in loaders:
        try:
            load()
        except Exception as exc:  # noqa: BLE001 - a missing optional part only costs its tasks the import
            log(f"preload {name} failed: {exc!r}")


def _settle() -> None:
    """No thread may run when the worker forks; frozen objects are not copied by a task's collections."""
    for thread in threading.enumerate():
        if thread is not threading.current_thread():
            thread.join(timeout=5)
    gc.collect()
    gc.freeze()


async def _stream_once(build_reply: bool) -> None:
    from termagent.model.reply import ReplyBuilder
    from termagent.model.sdk import import_sdk
    from termagent.testing.scripted_server import ScriptedServer, reply, text, tool_use

    steps = [reply(text("warm"), tool_use("read_file", {"path": "warm"}))]
    with ScriptedServer(steps) as server:
        client = import_sdk().AsyncAnthropic(api_key="warm-up", base_url=server.url, max_retries=0)
        try:
            stream = await client.messages.create(model="warm-up", max_tokens=16, stream=True,
                                                  messages=[{"role": "user", "content": "warm"}])
            builder = ReplyBuilder() if build_reply else None
            async with stream:
                async for event in stream:
                    if builder is not None:
                        builder.feed(event)  # its model_dump builds each event type's serializer (about 40 ms)
        finally:
            await client.close()
