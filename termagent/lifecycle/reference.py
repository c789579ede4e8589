"""`termagent help hooks`: what each event sends and what its answer changes (stdlib only)."""

from __future__ import annotations

import textwrap

from termagent.lifecycle.events import CLAUDE_TOOL_NAMES, DEFAULT_TIMEOUT_S, MAX_STOP_CONTINUATIONS, HookEvent

WHEN: dict[HookEvent, tuple[str, str, str]] = {
    # event: (when it runs and what the matcher is tested against, extra stdin fields, what the answer does)
    HookEvent.SESSION_START: ("as the session starts; matcher: startup | resume", "source",
                              "additionalContext (or plain stdout) joins the first user turn"),
    HookEvent.USER_PROMPT_SUBMIT: ("before a prompt is sent", "prompt",
                                   "exit 2 / decision block: the prompt is not sent, the reason is shown; "
                                   "additionalContext (or plain stdout) goes in after it"),
    HookEvent.PRE_TOOL_USE: ("before the policy judges a call; matcher: the tool name",
                             "tool_name, tool_input, tool_use_id",
                             "exit 2 / deny: the call does not run, the reason is its result; ask: the policy asks "
                             "(denied headless); allow approves nothing; updatedInput replaces the input, "
                             "checked by the schema and the policy again"),
    HookEvent.POST_TOOL_USE: ("after a call ran; matcher: the tool name",
                              "tool_name, tool_input, tool_use_id, tool_response",
                              "additionalContext, and the reason of exit 2 / decision block, are appended to the "
                              "result the model reads"),
    HookEvent.STOP: ("when the main agent would end its turn", "stop_hook_active",
                     f"exit 2 / decision block: the model goes on with the reason (at most {MAX_STOP_CONTINUATIONS} times "
                     "a turn)"),
    HookEvent.SUBAGENT_STOP: ("when a subagent would finish", "stop_hook_active", "as Stop, for the subagent"),
    HookEvent.PRE_COMPACT: ("before compaction; matcher: manual | auto", "trigger, custom_instructions",
                            "observes only (the run is audited)"),
    HookEvent.NOTIFICATION: ("when an approval is asked; matcher: permission_prompt", "message, notification_type",
                             "observes only"),
}


def hooks_help() -> str:
    lines = [
        "Lifecycle hooks: your programs, run on the host in the workspace at fixed points of a session.",
        "",
        "  [[hooks.PreToolUse]]            # in ~/.config/termagent/config.toml or a trusted .termagent/config.toml",
        '  matcher = "bash|edit_file"      # exact names, a glob (mcp__*) or a full-match regex (mcp__.*)',
        '  command = "~/bin/guard.sh"     # run with bash; plain words run the program directly',
        f"  timeout_s = 30                  # default {DEFAULT_TIMEOUT_S:g}; the process group is killed after it",
        "",
        *textwrap.wrap(
            "Claude Code's settings.json hooks block is read as it is: ~/.claude/settings.json, and in a trusted "
            "project .claude/settings.json and .claude/settings.local.json ([hooks] claude_settings = false turns "
            "that off). Those hooks see Claude Code's tool names ("
            + ", ".join(f"{theirs}={ours}" for theirs, ours in CLAUDE_TOOL_NAMES.items())
            + ") and tool_input.file_path; matchers accept either name. Project hooks run only in a trusted "
            "project, and adding or changing one asks for trust again.", width=100),
        "",
        "stdin: JSON with session_id, cwd, hook_event_name, permission_mode and the event's fields below.",
        "env: PATH, HOME, LANG/LC_*, USER, SHELL, TMPDIR, TZ, TERM, CLAUDE_PROJECT_DIR, TERMAGENT_PROJECT_DIR,",
        "TERMAGENT_SESSION_ID, TERMAGENT_HOOK_EVENT, TRACEPARENT; nothing else (no API keys).",
        "exit 0: go on; stdout may be JSON: decision (allow|deny|ask|block, approve = allow), reason,",
        "updatedInput, additionalContext, systemMessage, or Claude Code's hookSpecificOutput spelling",
        "(permissionDecision, permissionDecisionReason, updatedInput, additionalContext).",
        "exit 2: block; stderr is the reason the model reads. Any other exit, a timeout or bad JSON:",
        "a warning, and the action goes on. Every run is in `termagent audit`.",
        "",
    ]
    for event, (when, fields, answer) in WHEN.items():
        lines += [f"{event.value}: {when}", f"    stdin: {fields}",
                  *textwrap.wrap(answer, width=100, initial_indent="    answer: ", subsequent_indent=" " * 12)]
    return "\n".join(lines)
