"""One decision per tool call: allow, ask or deny, with who decided and why.

Order, first match wins:
1. a deny rule, then a skill's allowed-tools (while it is in use, other tools are refused);
2. plan mode refuses anything that writes or executes ("plan mode is read-only"; no rule
   overrides it: plan mode is a promise that nothing changes);
3. an "allow for this session" answer the person gave for this exact command or path;
4. an ask rule;
5. the safety net: a destructive or unknown bash command, or a file-tool write to git
   internals or agent configuration, asks in every mode. Only an allow rule whose pattern
   is exactly the command (or path), character for character, lets it through; `bash`,
   `bash(git *)` or any other broad rule does not;
6. allow rules (for a compound command, every simple command must be covered);
7. the mode: plan reads; ask reads and asks for the rest; accept-edits reads and writes
   and asks before commands; auto allows everything.

Reading a file that may hold secrets (`.env`, private keys, cloud credentials) is part of
the safety net too: it asks in every mode, and an allow rule naming the file without
wildcards (`read_file(.env)`) lets it through.

Unsandboxed (`--sandbox none`), auto mode is not available: it would run any command on
the person's machine without a look. Asking for auto gives ask mode (and `downgraded`
says so, for a warning), and writes or deletes outside the workspace count as destructive.

Headless runs and hooks cannot ask, so there every "ask" becomes a deny whose reason says
which flag would allow it; the denial goes back to the model.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from termagent.config import MODES
from termagent.policy.classifier import classify
from termagent.terminal_text import hidden_characters
from termagent.policy.protected import protected_reason
from termagent.policy.rules import (
    Rule,
    RuleSet,
    Target,
    exact_rule,
    literal_match,
    named_match,
)
from termagent.policy.secrets import secret_file_reason
from termagent.protocol import RISK_READ, RISK_WRITE, Subject

UNSANDBOXED_AUTO = ("auto mode is not available without the sandbox (--sandbox none): using ask mode; "
                    "allow commands you trust with --allow or permission rules")


@dataclass(frozen=True)
class Decision:
    action: str  # "allow" | "ask" | "deny"
    reason: str
    decided_by: str  # "rule" | "mode" | "classifier" | "session"
    destructive: bool = False


@dataclass(frozen=True)
class _Review:
    guard: str | None  # why the safety net asks, if it does
    destructive: bool
    parts: tuple[str, ...] | None  # simple commands, for bash
    plain: tuple[str, ...] | None = None  # each program's words after quote removal, for deny and ask rules
    secret: bool = False  # a read of a secret-bearing file: a wildcard-free allow rule naming it unlocks it


Narrowing = Callable[[str, dict[str, Any]], str | None]  # a reason refuses the call


def _no_tool_is_destructive(_: str) -> bool:
    return False


class Policy:
    """Everything it consults is given here, once: the rules, the mode, the checks that narrow
    (a skill's allowed-tools) and which tools are destructive by their own say (MCP's
    destructiveHint, known only once the servers answered, hence a question, not a set)."""

    def __init__(self, mode: str, rules: RuleSet, interactive: bool,
                 existing_paths: Callable[[str], bool] | None = None, host_workspace: str | None = None,
                 narrowing: Sequence[Narrowing] = (),
                 destructive_tool: Callable[[str], bool] = _no_tool_is_destructive) -> None:
        self.host_workspace = host_workspace  # set when commands run unsandboxed on the host
        self.downgraded = False  # auto was asked for unsandboxed and ask is used instead
        self.mode = mode
        self.rules = rules
        self.interactive = interactive
        self.existing_paths = existing_paths
        self._session: list[Rule] = []
        self._destructive_tool = destructive_tool  # MCP tools the server marks destructiveHint
        self._narrowing = tuple(narrowing)  # checks that can only narrow, after the deny rules

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ValueError(f"unknown permission mode {value!r}; choose one of {', '.join(MODES)}")
        if value == "auto" and self.host_workspace is not None:
            self.downgraded = True
            value = "ask"
        self._mode = value

    @property
    def modes(self) -> tuple[str, ...]:
        """The modes this session can switch to, in cycling order: auto needs the sandbox."""
        return tuple(m for m in MODES if m != "auto" or self.host_workspace is None)

    def allow_for_session(self, tool: str, args: dict[str, Any]) -> None:
        """The person allowed this exact call for the rest of the session (not look-alikes)."""
        self._session.append(exact_rule(self.rules.target(tool, args or {})))

    def decide(self, tool: str, args: dict[str, Any], risk: str) -> Decision:
        args = args or {}
        call = self.rules.target(tool, args)
        review = self._review(call, risk)
        hurt = review.destructive
        denied = self.rules.denied_by(tool, args, review.parts, review.plain)
        if denied is not None:
            return Decision("deny", f"denied by rule {denied.text} ({denied.source})", "rule", hurt)
        narrowed = next((reason for check in self._narrowing if (reason := check(tool, args))), None)
        if narrowed:
            return Decision("deny", narrowed, "skill", hurt)
        if self.mode == "plan" and risk != RISK_READ:
            return Decision("deny", "plan mode is read-only", "mode", hurt)
        if literal_match(self._session, call) is not None:
            return Decision("allow", "allowed for this session", "session", hurt)
        asked = self.rules.asked_by(tool, args, review.parts, review.plain)
        if asked is not None:
            return self._ask(call, f"rule {asked.text} ({asked.source}) asks", "rule", hurt)
        if review.guard is not None:
            exact = self.rules.literal_allow(tool, args)
            if exact is None and review.secret:
                exact = named_match(self.rules.allow, call)
            if exact is not None:
                return Decision("allow", f"allowed by rule {exact.text} ({exact.source}) despite: {review.guard}",
                                "rule", hurt)
            return self._ask(call, review.guard, "classifier", hurt)
        covered = self.rules.allowed_by(tool, args, review.parts)
        if covered:
            return Decision("allow", "allowed by rule " + ", ".join(rule.text for rule in covered), "rule", hurt)
        return self._by_mode(call, risk)

    def _review(self, call: Target, risk: str) -> _Review:
        args = call.args
        if self._destructive_tool(call.tool):
            return _Review("destructive tool (its MCP server marks it destructiveHint)", True, None)
        if call.is_command:
            found = classify(call.subject or "", self.existing_paths, self.host_workspace)
            if found.verdict == "safe":
                return _Review(None, False, found.commands, found.plain)
            label = "destructive command" if found.verdict == "destructive" else "command needs review"
            return _Review(f"{label}: {'; '.join(found.reasons)}", found.verdict == "destructive", found.commands,
                           found.plain)
        if call.kind is Subject.READ_PATH and isinstance(args.get("path"), str):
            secret = secret_file_reason(args["path"])
            if secret:
                return _Review(f"{secret}, which always needs approval", False, None, secret=True)
        if call.kind is Subject.WRITE_PATH or (risk == RISK_WRITE and "path" in args):
            path = args.get("path")
            path = path if isinstance(path, str) else ""
            hidden = hidden_characters(path)
            if hidden:
                return _Review(f"path {'; '.join(hidden)}", False, None)
            guarded = protected_reason(path)
            if guarded:
                return _Review(f"{guarded}, which always needs approval", False, None)
        return _Review(None, False, None)

    def _by_mode(self, call: Target, risk: str) -> Decision:
        if risk == RISK_READ:
            return Decision("allow", f"{self.mode} mode allows reading", "mode")
        if risk == RISK_WRITE:
            if self.mode in ("accept-edits", "auto"):
                return Decision("allow", f"{self.mode} mode allows file changes", "mode")
            return self._ask(call, f"{self.mode} mode: file changes need approval", "mode", False)
        if self.mode == "auto":
            return Decision("allow", "auto mode allows commands", "mode")
        return self._ask(call, f"{self.mode} mode: commands need approval", "mode", False)

    def _ask(self, call: Target, why: str, by: str, destructive: bool) -> Decision:
        if self.interactive:
            return Decision("ask", why, by, destructive)
        rule = f"{call.tool}({call.key})" if call.subject else call.tool
        return Decision("deny", f"would need approval (headless): {why}; allow with --allow {shlex.quote(rule)}",
                        by, destructive)
