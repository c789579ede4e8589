"""Slash commands in an ACP prompt: the ones that make sense inside an editor run here.

An editor has its own ways to start, resume and quit sessions and to show diffs, so only
commands about the running session are offered; each answers with an agent message.
"""

from __future__ import annotations

from termagent.core.door import SessionLike
from termagent.protocol import Compact, Operation, SetMode, SetModel

ACP_COMMANDS = ("help", "compact", "cost", "model", "mode", "agents")
MODES = ("plan", "ask", "accept-edits", "auto")


def parse(text: str) -> tuple[str, str] | None:
    """(name, argument) when the prompt is one of the offered commands, else None."""
    if not text.startswith("/"):
        return None
    name, _, arg = text[1:].strip().partition(" ")
    return (name, arg.strip()) if name in ACP_COMMANDS else None


def run(session: SessionLike, name: str, arg: str) -> tuple[str, Operation | None]:
    """The reply to show and the operation to submit, if any."""
    status = session.status()
    if name == "compact":
        return "compacting older turns into a summary…", Compact(arg)
    if name == "model":
        return (f"switching the main model to {arg}", SetModel(arg)) if arg else (f"model: {status.model}", None)
    if name == "mode":
        if not arg:
            return f"mode: {status.mode}", None
        if arg not in MODES:
            return f"unknown mode {arg!r}; one of {', '.join(MODES)}", None
        return f"mode: {arg}", SetMode(arg)
    if name == "cost":
        usage = status.usage
        return (f"{usage.input_tokens} in, {usage.output_tokens} out, {usage.cache_read_input_tokens} cache reads; "
                f"${status.cost_usd:.4f} over {status.turns} turns"), None
    if name == "agents":
        agents = session.agent_definitions()
        return ("subagents: " + ", ".join(sorted(agents)) if agents else "no subagents defined"), None
    from termagent.frontend.completion import SLASH_COMMANDS

    return "\n".join(f"/{c.name} {c.args}".rstrip() + f" — {c.help}"
                     for c in SLASH_COMMANDS if c.name in ACP_COMMANDS), None
