"""Approval requests as `session/request_permission`, and the answers as ResolveApproval.

The four ACP choices map onto the core's three decisions. "Reject always" has no core
counterpart, so this adapter remembers it for the session and answers later requests for
the same thing itself. A destructive request offers no "always" either way, and nothing
here can widen what runs on the host: the sandbox and the rules stay as configured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from acp import schema

from termagent.protocol import Decision, ResolveApproval

ALLOW_ONCE: Final = "allow_once"
ALLOW_ALWAYS: Final = "allow_always"
REJECT_ONCE: Final = "reject_once"
REJECT_ALWAYS: Final = "reject_always"
_DECISIONS = {ALLOW_ONCE: Decision.ALLOW_ONCE, ALLOW_ALWAYS: Decision.ALLOW_SESSION,
              REJECT_ONCE: Decision.DENY, REJECT_ALWAYS: Decision.DENY}


def permission_options(destructive: bool) -> list[schema.PermissionOption]:
    options = [schema.PermissionOption(option_id=ALLOW_ONCE, name="Allow once", kind=ALLOW_ONCE)]
    if not destructive:
        options.append(schema.PermissionOption(option_id=ALLOW_ALWAYS, name="Allow for this session",
                                               kind=ALLOW_ALWAYS))
    options.append(schema.PermissionOption(option_id=REJECT_ONCE, name="Reject", kind=REJECT_ONCE))
    if not destructive:
        options.append(schema.PermissionOption(option_id=REJECT_ALWAYS, name="Reject for this session",
                                               kind=REJECT_ALWAYS))
    return options


@dataclass
class Rejections:
    """What the person rejected "always" in this session: a tool on one path, or one exact detail."""

    keys: set[tuple[str, str]] = field(default_factory=set)

    @staticmethod
    def key(tool: str, path: str, detail: str) -> tuple[str, str]:
        return tool, path or detail

    def remembered(self, tool: str, path: str, detail: str) -> bool:
        return self.key(tool, path, detail) in self.keys

    def remember(self, tool: str, path: str, detail: str) -> None:
        self.keys.add(self.key(tool, path, detail))


def answer(request_id: str, response: schema.RequestPermissionResponse | None, offered: set[str]) -> ResolveApproval:
    """The core's decision for the client's answer; anything but an offered choice denies."""
    outcome = response.outcome if response is not None else None
    if isinstance(outcome, schema.AllowedOutcome) and outcome.option_id in offered:
        return ResolveApproval(request_id, _DECISIONS[outcome.option_id], _reason(outcome.option_id))
    return ResolveApproval(request_id, Decision.DENY, "the request was cancelled in the editor")


def _reason(option_id: str) -> str:
    if option_id == REJECT_ALWAYS:
        return "rejected for the rest of this session in the editor"
    return "rejected in the editor" if option_id == REJECT_ONCE else ""


def answer_remembered(request_id: str) -> ResolveApproval:
    return ResolveApproval(request_id, Decision.DENY, _reason(REJECT_ALWAYS))
