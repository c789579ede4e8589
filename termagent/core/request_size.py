"""A request's size in characters, as the context meter counts it, without re-encoding it.

The meter sizes the whole history two or three times per model request; encoding all of
it as JSON each time grew with the session and was the largest part of a turn's own
overhead. Messages and their blocks are never changed once in the history (trimming and
compaction make new dicts), so each block's encoded size is computed once and reused
while the block is still in the history; the total adds the JSON punctuation between
them and equals the length of encoding the whole list at once.
"""

from __future__ import annotations

import functools
import json
from typing import Any

IMAGE_TOKENS = 1_600  # what the API charges for an image of about 1.2 megapixels, its usual cap
IMAGE_CHARS = IMAGE_TOKENS * 4  # in the meter's characters, at its starting four characters per token

_SEPARATOR = len(", ")
_LIST = len("[]")
_MESSAGE_KEYS = len('{"role": , "content": }')


def _encoded(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False))


@functools.lru_cache(maxsize=8)
def _role_chars(role: str) -> int:
    """A role's encoded size; there are two roles, and encoding one for every message of
    every request cost more than all the block lookups together."""
    return _encoded(role)


def _lean(block: Any) -> tuple[Any, int]:
    """The block with each image reduced to its type, and how many images that removed
    (a 1 MB screenshot is ~1,600 tokens to the model, not 350,000)."""
    if not isinstance(block, dict):
        return block, 0
    if block.get("type") == "image":
        return {"type": "image"}, 1
    content = block.get("content")
    if not isinstance(content, list) or not any(isinstance(b, dict) and b.get("type") == "image" for b in content):
        return block, 0
    leaned = [_lean(b) for b in content]
    return {**block, "content": [b for b, _ in leaned]}, sum(n for _, n in leaned)


def _block_chars(block: Any) -> int:
    leaned, images = _lean(block)
    return _encoded(leaned) + images * IMAGE_CHARS


def _joined(sizes: list[int]) -> int:
    return _LIST + sum(sizes) + _SEPARATOR * max(len(sizes) - 1, 0)


class RequestSizer:
    """Remembers the size of each block it has seen, for as long as the block is in use."""

    def __init__(self) -> None:
        self._sizes: dict[int, tuple[Any, int]] = {}  # id(block) -> (the block, kept so its id stays its own; size)

    def chars(self, messages: list[dict[str, Any]]) -> int:
        known, self._sizes = self._sizes, {}
        return _joined([self._message(m, known) for m in messages])

    def _message(self, message: dict[str, Any], known: dict[int, tuple[Any, int]]) -> int:
        content = message.get("content")
        if not isinstance(content, list) or set(message) != {"role", "content"}:
            return _block_chars(message)
        return _MESSAGE_KEYS + _role_chars(message["role"]) + _joined([self._block(b, known) for b in content])

    def _block(self, block: Any, known: dict[int, tuple[Any, int]]) -> int:
        seen = known.get(id(block)) or self._sizes.get(id(block))
        size = seen[1] if seen is not None and seen[0] is block else _block_chars(block)
        self._sizes[id(block)] = (block, size)
        return size
