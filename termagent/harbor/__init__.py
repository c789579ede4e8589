"""Harbor / Terminal-Bench adapter: `harbor run -a termagent.harbor:TermagentAgent ...`.

Nothing else in termagent imports this package. `TermagentAgent` is resolved on first use
(it imports Harbor, which lives in Harbor's own venv: scripts/install-harbor.sh), so the
Harbor-free parts (the wheel builder, the unpacker, the json reader) import without it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TermagentAgent"]


def __getattr__(name: str) -> Any:
    if name == "TermagentAgent":
        from termagent.harbor.agent import TermagentAgent

        return TermagentAgent
    raise AttributeError(f"module 'termagent.harbor' has no attribute {name!r}")
