"""Lifecycle hook records: the events, one configured hook, and how a matcher picks tools.

Standard library only: config.py imports the event names to accept `[[hooks.EVENT]]`
tables, and `import termagent` must stay fast.

Matcher rule (Claude Code's, made exact): an empty matcher or `*` matches everything; a
matcher of plain name characters and `|` is a list of exact names (`Bash`, `Edit|Write`);
one with `*` or `?` but no other regex syntax is a shell glob per alternative (`mcp__*`);
anything else is a Python regular expression that must match the whole name
(`mcp__.*`, `Notebook.*`). Matching is case-sensitive. A tool matches when either its
termagent name or its Claude Code name does, so `Bash` and `bash` both pick the bash tool
and settings copied from Claude Code work unchanged.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from enum import Enum


class HookEvent(str, Enum):
    SESSION_START = "SessionStart"
    USER_PROMPT_SUBMIT = "UserPromptSubmit"
    PRE_TOOL_USE = "PreToolUse"
    POST_TOOL_USE = "PostToolUse"
    STOP = "Stop"
    SUBAGENT_STOP = "SubagentStop"
    PRE_COMPACT = "PreCompact"
    NOTIFICATION = "Notification"


EVENT_NAMES: tuple[str, ...] = tuple(event.value for event in HookEvent)


class Dialect(str, Enum):
    """What a hook reads on stdin: termagent's tool names and inputs, or Claude Code's."""

    TERMAGENT = "termagent"
    CLAUDE = "claude"


# Claude Code tool name -> termagent tool name (Task is Claude Code's subagent tool).
CLAUDE_TOOL_NAMES: dict[str, str] = {
    "Bash": "bash", "Read": "read_file", "Write": "write_file", "Edit": "edit_file",
    "Glob": "list_files", "Grep": "grep", "Task": "delegate",
}
TERMAGENT_TO_CLAUDE: dict[str, str] = {ours: theirs for theirs, ours in CLAUDE_TOOL_NAMES.items()}

DEFAULT_TIMEOUT_S = 60.0
MAX_STOP_CONTINUATIONS = 3  # a Stop hook that always blocks cannot keep a turn going forever
_NAMES = re.compile(r"[A-Za-z0-9_\-|]+")
_GLOB = re.compile(r"[A-Za-z0-9_\-|*?]+")


@dataclass(frozen=True)
class Matcher:
    """A compiled matcher; `kind` is all, names, glob or regex (see the module docstring)."""

    text: str
    kind: str
    alternatives: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None

    @classmethod
    def parse(cls, text: str) -> "Matcher":
        """Raises ValueError for a regular expression that does not compile."""
        text = text.strip()
        if text in ("", "*"):
            return cls(text, "all")
        if _NAMES.fullmatch(text):
            return cls(text, "names", tuple(part for part in text.split("|") if part))
        if _GLOB.fullmatch(text):
            return cls(text, "glob", tuple(part for part in text.split("|") if part))
        try:
            return cls(text, "regex", pattern=re.compile(text))
        except re.error as exc:
            raise ValueError(f"matcher {text!r} is not a valid regular expression: {exc}") from None

    def matches(self, subject: str) -> bool:
        if self.kind == "all":
            return True
        candidates = {subject, TERMAGENT_TO_CLAUDE.get(subject, subject)}
        if self.kind == "names":
            return any(name in candidates for name in self.alternatives)
        if self.kind == "glob":
            return any(fnmatch.fnmatchcase(name, alt) for name in candidates for alt in self.alternatives)
        assert self.pattern is not None
        return any(self.pattern.fullmatch(name) for name in candidates)


@dataclass(frozen=True)
class HookSpec:
    """One configured hook: which event, which subjects, what to run, for how long at most."""

    event: HookEvent
    matcher: Matcher
    command: str
    timeout_s: float
    source: str  # the file it came from, for messages and the audit log
    dialect: Dialect = Dialect.TERMAGENT

    def applies_to(self, subject: str) -> bool:
        """Tool events match the tool name; SessionStart the source, PreCompact the trigger,
        Notification its type; the other events have no subject and always run."""
        return subject == "" or self.matcher.matches(subject)
