"""The narrow view a hook gets of the loop before each model request.

Compaction, the file watcher, the MCP settle step and the sandbox check run before every
request. They may fold or extend the conversation, swap the stable prefix, announce an
event and make (and account for) a request of their own; they may not drive the loop,
its tools or its budget. Typing them against this protocol keeps it so.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from termagent.core.history import History
    from termagent.model.client import ModelClient
    from termagent.model.reply import ModelReply
    from termagent.model.request import StablePrefix
    from termagent.protocol import Event


class PendingRequest(Protocol):
    history: History
    prefix: StablePrefix
    model: ModelClient
    last_prompt_tokens: int

    def emit(self, event: Event) -> None: ...

    def account(self, reply: ModelReply, role: str = "") -> None: ...


RequestHook = Callable[[PendingRequest], Awaitable[None]]
