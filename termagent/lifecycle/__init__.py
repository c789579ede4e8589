"""Lifecycle hooks: the person's own programs run at fixed points of a session.

Events (SessionStart, UserPromptSubmit, PreToolUse, PostToolUse, Stop, SubagentStop,
PreCompact, Notification) come from `[[hooks.EVENT]]` config tables and Claude Code's
settings.json `hooks` block (`settings`); each run gets the event as JSON on stdin and
answers with its exit code and optional JSON on stdout (`runner`); `dispatch` wires the
answers into the session. Nothing here is imported unless a hook is configured, except
the small record module config.py needs for the event names.
"""
