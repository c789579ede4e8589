"""The protocol's vocabularies: risks, subjects, decisions, stop reasons, statuses, error kinds.

StrEnum members are their wire strings, so events stay plain JSON and old traces load.
"""

from __future__ import annotations

from enum import StrEnum


class Risk(StrEnum):
    READ = "read"
    WRITE = "write"
    EXEC = "exec"


class Subject(StrEnum):
    """What a tool's permission rules match, declared by the tool: `bash(npm test*)` matches
    the command, `write_file(src/**)` the path, `delegate(test_*)` the agent. The kind also
    says which safety checks apply: commands are classified, reads of secret files and
    writes to protected paths ask."""

    COMMAND = "command"
    READ_PATH = "read_path"  # reads a file's content
    LIST_PATH = "list_path"  # lists or searches names under a path
    WRITE_PATH = "write_path"
    AGENT = "agent"

    @property
    def argument(self) -> str:
        """The input field holding the subject."""
        return {Subject.COMMAND: "command", Subject.AGENT: "agent"}.get(self, "path")

    @property
    def is_path(self) -> bool:
        return self in (Subject.READ_PATH, Subject.LIST_PATH, Subject.WRITE_PATH)


class Decision(StrEnum):
    """A person's (or a rule's) answer to an approval request."""

    ALLOW_ONCE = "allow_once"
    ALLOW_SESSION = "allow_session"
    DENY = "deny"


class DecidedBy(StrEnum):
    PERSON = "person"
    RULE = "rule"
    MODE = "mode"
    CLASSIFIER = "classifier"
    SESSION = "session"
    HOOK = "hook"
    SKILL = "skill"  # a skill in use allows only its allowed-tools


class StopReason(StrEnum):
    """Why a turn ended; each maps to one headless exit reason."""

    END_TURN = "end_turn"
    MAX_TURNS = "max_turns"
    MAX_COST = "max_cost"
    MAX_TOKENS = "max_tokens"  # the --max-tokens budget, or the model's own output limit
    MAX_WALL = "max_wall"
    API_ERROR = "api_error"
    SANDBOX_ERROR = "sandbox_error"
    INTERRUPTED = "interrupted"
    ERROR = "error"


LIMIT_STOPS = frozenset({StopReason.MAX_TURNS, StopReason.MAX_COST, StopReason.MAX_TOKENS, StopReason.MAX_WALL})


class ViewKind(StrEnum):
    """How a front end shows a call's detail: the tool says which, so no front end switches on tool names."""

    COMMAND = "command"  # a shell command: highlight as bash
    DIFF = "diff"  # a unified diff: colour it
    FILE = "file"  # a file's content (or a path to one): highlight by the path's extension
    AGENT = "agent"  # a delegation: nest the subagent's activity under it
    TEXT = "text"  # anything else: shown as it is


class SubagentStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"
    LIMIT = "limit"
    INTERRUPTED = "interrupted"


class ErrorKind(StrEnum):
    ERROR = "error"
    API = "api"
    CONFIG = "config"
    SANDBOX = "sandbox"
    TOOL = "tool"
    INTERNAL = "internal"


RISK_READ = Risk.READ
RISK_WRITE = Risk.WRITE
RISK_EXEC = Risk.EXEC

DECISION_ALLOW_ONCE = Decision.ALLOW_ONCE
DECISION_ALLOW_SESSION = Decision.ALLOW_SESSION
DECISION_DENY = Decision.DENY
