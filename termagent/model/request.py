"""Build the request body, placing prompt-cache breakpoints on a byte-stable prefix.

Order on the wire is tools, system, messages. The tool list and the system blocks are
fixed at session start; breakpoints go on the last system block (covering tools, the
system prompt and project memory) and on the newest message, so every request shares
its prefix with the one before and reads it from the cache.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

EPHEMERAL = {"type": "ephemeral"}


@dataclass(frozen=True)
class StablePrefix:
    """What never changes within a session (until compaction re-reads project memory)."""

    system_blocks: tuple[str, ...]
    tools: tuple[dict[str, Any], ...]

    def system(self) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = [{"type": "text", "text": text} for text in self.system_blocks if text]
        if blocks:
            blocks[-1]["cache_control"] = dict(EPHEMERAL)
        return blocks


def build_request(
    model: str,
    max_tokens: int,
    prefix: StablePrefix,
    messages: list[dict[str, Any]],
) -> dict[str, Any]:
    """Never mutates `messages`: the stored history must not carry cache markers."""
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": max_tokens,
        "system": prefix.system(),
        "messages": _mark_newest(messages),
    }
    if prefix.tools:
        body["tools"] = list(prefix.tools)
    return body


def _mark_newest(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not messages:
        return []
    out = list(messages)
    newest = copy.deepcopy(out[-1])
    content = newest.get("content")
    if isinstance(content, str):
        newest["content"] = [{"type": "text", "text": content, "cache_control": dict(EPHEMERAL)}]
    elif isinstance(content, list) and content:
        content[-1]["cache_control"] = dict(EPHEMERAL)
    out[-1] = newest
    return out


def without_cache_markers(value: Any) -> Any:
    """A request part with the cache_control markers removed.

    The markers move to the newest message on every request, so comparisons of what the
    model saw across requests (resume checks, prefix-stability benchmarks) ignore them.
    """
    if isinstance(value, dict):
        return {k: without_cache_markers(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [without_cache_markers(v) for v in value]
    return value
