"""Warm-up before serving: import what a task imports, and stream one scripted reply
through the real SDK and termagent's reply builder over loopback, so each task's first
request pays for neither the imports nor the SDK's lazily built parsers and serializers
(pydantic builds a model's validator and serializer on first use, about 0.4 s of CPU for
the stream events).

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
           "termagent.hooks.pre_push", "termagent.model.client", "termagent.sandbox.docker_backend", "docker",
           # what opening a session imports on first use (about 70 ms of a task's start otherwise)
           "termagent.core.compaction", "termagent.core.watcher", "termagent.git.checkpoints",
           "termagent.git.rewind", "termagent.git.autocommit", "termagent.mcp.attach", "termagent.sandbox.host",
           "termagent.tools.bash", "termagent.tools.jobs", "termagent.tools.artifacts", "termagent.telemetry",
           "termagent.lifecycle.settings", "termagent.extensions.places", "watchdog.observers", "pathspec",
           "platformdirs")
EDITORS_PRELOAD = ("termagent.acp.server",)  # the ACP SDK's models: about 0.6 s


def warm_up(log: Callable[[str], None], editors: bool = False) -> None:
    from termagent.model.sdk import import_sdk, tls_context

    loaders: list[tuple[str, Callable[[], object]]] = [("anthropic", import_sdk), ("TLS context", tls_context)]
    modules = PRELOAD + EDITORS_PRELOAD if editors else PRELOAD
    loaders += [(name, partial(importlib.import_module, name)) for name in modules]
    for name, load in loaders:
        try:
            load()
        except Exception as exc:  # noqa: BLE001 - a missing optional part only costs its tasks the import
            log(f"preload {name} failed: {exc!r}")
    try:
        from termagent.policy.shell_parse import parse

        parse("true")  # builds bashlex's parse table
        asyncio.run(_stream_once())
    except Exception as exc:  # noqa: BLE001 - a failed warm-up costs speed, never a task
        log(f"warm-up failed: {exc!r}")
    for thread in threading.enumerate():
        if thread is not threading.current_thread():
            thread.join(timeout=5)
    gc.collect()
    gc.freeze()  # forked tasks then do not copy these pages merely by collecting them


async def _stream_once() -> None:
    from termagent.model.reply import ReplyBuilder
    from termagent.model.sdk import import_sdk
    from termagent.testing.scripted_server import ScriptedServer, reply, text, tool_use

    steps = [reply(text("warm"), tool_use("read_file", {"path": "warm"}))]
    with ScriptedServer(steps) as server:
        client = import_sdk().AsyncAnthropic(api_key="warm-up", base_url=server.url, max_retries=0)
        try:
            stream = await client.messages.create(model="warm-up", max_tokens=16, stream=True,
                                                  messages=[{"role": "user", "content": "warm"}])
            builder = ReplyBuilder()
            async with stream:
                async for event in stream:
                    builder.feed(event)  # its model_dump builds each event type's serializer (about 40 ms)
        finally:
            await client.close()
