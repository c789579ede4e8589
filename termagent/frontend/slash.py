"""Slash commands, shared by the TUI and the plain line mode. Each answers as a notice.

Commands read the session's public parts (config, policy, budget, store, registry) and
never reach into the running loop; anything that would disturb a turn in flight
(/model, /clear, /resume) waits until the turn is over. The front end is the
`Host`: it shows notices and diffs, swaps sessions and quits. No textual import here.
"""

from __future__ import annotations

import time
from typing import Any, Awaitable, Callable, Protocol

from termagent.config import MODES
from termagent.core.door import SessionLike
from termagent.protocol import SetMode, SetModel
from termagent.frontend.completion import SLASH_COMMANDS, SlashCommand


class Host(Protocol):
    """What a front end offers the commands."""

    session: SessionLike
    reopen: Callable[[str | None], Any] | None
    requests: int

    def notice(self, kind: str, text: str) -> None: ...

    def show_diff(self, text: str) -> None: ...

    async def switch_session(self, resume_id: str | None) -> None: ...

    async def quit_app(self, code: int = 0) -> None: ...



KEYS_HELP = (
    ("enter", "send the prompt"),
    ("ctrl+j / shift+enter / \\⏎", "new line"),
    ("↑ ↓", "prompt history (from the first / last line)"),
    ("tab", "take a completion: /commands, @files"),
    ("esc", "interrupt the running turn"),
    ("ctrl+c twice", "quit"),
    ("shift+tab", "cycle permission mode"),
    ("ctrl+o", "verbose: expand every tool call"),
    ("pgup / pgdn, ctrl+up", "scroll, show earlier items"),
    ("tab to a tool call, enter", "expand it / show all lines"),
)


PLAIN_KEYS_HELP = (
    ("enter", "send the prompt (typed during a turn: sent when it ends)"),
    ("ctrl+j / esc enter / \\⏎", "new line"),
    ("↑ ↓", "prompt history"),
    ("tab", "take a completion: /commands, @files"),
    ("ctrl+c", "interrupt the running turn; twice quits"),
    ("ctrl+d", "quit"),
)


BUILTIN_NAMES = frozenset({c.name for c in SLASH_COMMANDS} | {"exit"})


def extension_commands(session: SessionLike) -> tuple[SlashCommand, ...]:
    """The session's own commands, as completion and /help show them: custom commands, then
    skills (a command of the same name wins), then MCP prompts. Built-in names are left out:
    a built-in always wins over a file of the same name."""
    found: dict[str, SlashCommand] = {}
    for command in session.custom_commands():
        found.setdefault(command.name, SlashCommand(command.name, command.argument_hint, command.description))
    for skill in session.skills():
        found.setdefault(skill.name, SlashCommand(skill.name, "[request]", f"skill: {skill.description}"))
    for name, what in session.mcp_prompts().items():
        found.setdefault(name, SlashCommand(name, "[text]", f"MCP prompt: {what}"))
    return tuple(command for name, command in found.items() if name.lower() not in BUILTIN_NAMES)


def expand_typed(session: SessionLike, text: str) -> str:
    """For front ends without the built-ins (headless, an editor): `/name args` runs a custom
    command or a skill; anything else (a path like /usr/bin/x, an unknown name) goes as written."""
    parts = text.strip().split(None, 1)
    if not parts or not parts[0].startswith("/") or len(parts[0]) < 2:
        return text
    return session.expand_command(parts[0][1:], parts[1] if len(parts) > 1 else "") or text


def hidden_by_builtins(session: SessionLike) -> list[str]:
    """Command and skill files whose name a built-in command takes (they never run as /NAME)."""
    hidden = [f"/{c.name} ({c.source})" for c in session.custom_commands() if c.name.lower() in BUILTIN_NAMES]
    hidden += [f"/{s.name} (skill {s.source})" for s in session.skills() if s.name.lower() in BUILTIN_NAMES]
    return hidden


def help_text(keys: tuple[tuple[str, str], ...] = KEYS_HELP, extra: tuple[SlashCommand, ...] = (),
              hidden: list[str] | None = None) -> str:
    """The commands and the keys of the front end asking (the line mode has fewer)."""
    width = max(len(f"/{c.name} {c.args}") for c in (*SLASH_COMMANDS, *extra))
    lines = ["Commands"]
    lines += [f"  {f'/{c.name} {c.args}'.ljust(width)}  {c.help}" for c in SLASH_COMMANDS]
    if extra:
        lines += ["", "Custom commands and skills"]
        lines += [f"  {f'/{c.name} {c.args}'.ljust(width)}  {c.help}" for c in extra]
    if hidden:
        lines += ["", "Not available (a built-in command has the name): " + ", ".join(hidden)]
    key_width = max(len(k) for k, _ in keys)
    lines += ["", "Keys"] + [f"  {k.ljust(key_width)}  {v}" for k, v in keys]
    return "\n".join(lines)


class SlashCommands:
    def __init__(self, host: Host) -> None:
        self.app = host
        self.table: dict[str, Callable[[str], Awaitable[None]]] = {
            "help": self.help, "clear": self.clear, "compact": self.compact, "cost": self.cost,
            "model": self.model, "mode": self.mode, "sessions": self.sessions, "resume": self.resume,
            "agents": self.agents, "diff": self.diff, "quit": self.quit, "exit": self.quit,
            "undo": self.undo, "transcript": self.transcript, "mcp": self.mcp, "skills": self.skills,
            "jobs": self.jobs,
        }

    @property
    def session(self) -> SessionLike:
        return self.app.session

    def say(self, text: str, kind: str = "info") -> None:
        self.app.notice(kind, text)

    async def run(self, line: str) -> str | None:
        """Run a command; returns the prompt to send as a turn when the command stands for one
        (a custom command, a skill, an MCP server's `/mcp__server__prompt`), else None."""
        name, _, arg = line[1:].strip().partition(" ")
        if name in self.session.mcp_prompts():
            try:
                return await self.session.expand_mcp_prompt(name, arg.strip())
            except ValueError as exc:
                self.say(f"/{name} failed: {exc}", "error")
                return None
        handler = self.table.get(name.lower())
        if handler is None:
            prompt = self.session.expand_command(name, arg)
            if prompt is None:
                self.say(f"unknown command /{name} — /help lists them", "warning")
            return prompt
        try:
            await handler(arg.strip())
        except Exception as exc:  # noqa: BLE001 - a failed command is reported, the session goes on
            self.say(f"/{name} failed: {exc}", "error")
        return None

    def _idle(self, what: str) -> bool:
        if self.session.busy:
            self.say(f"{what} waits for the running turn: press esc to interrupt it first", "warning")
            return False
        return True

    async def help(self, _: str) -> None:
        self.say(help_text(getattr(self.app, "keys_help", KEYS_HELP), extension_commands(self.session),
                           hidden_by_builtins(self.session)), "help")

    async def skills(self, _: str) -> None:
        """Every skill found at start: who may use it, and where it came from."""
        skills = self.session.skills()
        if not skills:
            self.say("no skills found (folders with a SKILL.md in .agents/skills/, .termagent/skills/, "
                     ".claude/skills/, ~/.config/termagent/skills/ or ~/.claude/skills/)")
            return
        lines = ["skills (the model loads one with the skill tool; /NAME runs one now):"]
        width = max(len(skill.name) for skill in skills)
        for skill in skills:
            who = "" if skill.model_invocable else "  [only you: model invocation disabled]"
            lines.append(f"  {skill.name.ljust(width)}  {skill.description}{who}")
            lines.append(f"  {''.ljust(width)}  {skill.source}")
        self.say("\n".join(lines))

    async def quit(self, _: str) -> None:
        await self.app.quit_app(0)

    async def clear(self, _: str) -> None:
        if not self._idle("/clear"):
            return
        if self.app.reopen is None:
            self.say("a fresh session is not available here: start termagent again", "warning")
            return
        await self.app.switch_session(None)

    async def resume(self, arg: str) -> None:
        if not arg:
            await self.sessions("")
            self.say("/resume ID continues one of these (an id prefix is enough)")
            return
        if not self._idle("/resume"):
            return
        if self.app.reopen is None:
            self.say("resuming is not available here: run termagent --resume ID", "warning")
            return
        await self.app.switch_session(arg)

    async def compact(self, focus: str) -> None:
        """During a turn the session folds the history before its next model request."""
        when = " before the next model request" if self.session.busy else ""
        self.say(f"compacting{when}…" + (f" (focus: {focus})" if focus else ""))
        await self.session.compact(focus)

    async def cost(self, _: str) -> None:
        status = self.session.status()
        usage = status.usage
        rate = f"{usage.cache_hit_rate:.0%}" if usage.cache_hit_rate is not None else "n/a"
        lines = [
            f"model requests this run: {self.app.requests}",
            f"input tokens:  {usage.input_tokens:,} fresh, {usage.cache_read_input_tokens:,} cache read, "
            f"{usage.cache_creation_input_tokens:,} cache write",
            f"output tokens: {usage.output_tokens:,}",
            f"cache hit rate: {rate}",
            f"cost this run: ${status.cost_usd:.4f}",
        ]
        stored = self.session.store.usage_totals(self.session.session_id)
        if self.session.resumed:
            lines.append(f"cost of the whole session (stored): ${float(stored['cost_usd']):.4f}")
        self.say("\n".join(lines))

    async def model(self, name: str) -> None:
        if not name:
            self.say(f"main model: {self.session.status().model} · /model NAME changes it")
            return
        if not self._idle("/model"):
            return
        await self.session.apply(SetModel(name))
        self.say(f"main model is now {name}")

    async def mode(self, name: str) -> None:
        if not name:
            self.say(f"permission mode: {self.session.status().mode} (one of {', '.join(MODES)}; shift+tab cycles)")
            return
        if name not in MODES:
            self.say(f"unknown mode {name!r}: choose one of {', '.join(MODES)}", "warning")
            return
        await self.session.apply(SetMode(name))
        self.say(f"permission mode: {name}")

    async def sessions(self, _: str) -> None:
        store = self.session.store
        records = store.sessions(str(self.session.workspace), limit=15)
        if not records:
            self.say("no stored sessions for this workspace")
            return
        lines = [f"sessions in {self.session.workspace.name} (newest first):"]
        for record in records:
            current = " ← current" if record.id == self.session.session_id else ""
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(record.updated_at))
            count = store.message_count(record.id)
            title = _first_prompt(store, record.id) if not record.title else record.title
            lines.append(f"  {record.id}  {when}  {count:>4} msgs  {title}{current}")
        self.say("\n".join(lines))

    async def agents(self, _: str) -> None:
        definitions = self.session.agent_definitions()
        if not definitions:
            self.say("no subagents are defined")
            return
        lines = ["subagents (the model delegates to them with the delegate tool):"]
        width = max(len(name) for name in definitions)
        for name in sorted(definitions):
            definition = definitions[name]
            tools = ", ".join(definition.tools)
            lines.append(f"  {name.ljust(width)}  {definition.description}  [tools: {tools}]")
        self.say("\n".join(lines))

    async def diff(self, _: str) -> None:
        from termagent.gitsafe import GitError, is_git_repo, run_git
        from termagent.tools.base import ToolError
        from termagent.tools.git_tools import workspace_diff

        root = self.session.workspace
        if not is_git_repo(root):
            self.say(f"{root.name} is not a git repository", "warning")
            return
        try:
            has_head = run_git(root, "rev-parse", "--verify", "--quiet", "HEAD", check=False).returncode == 0
            text = workspace_diff(root, *(("HEAD",) if has_head else ()))
        except (ToolError, GitError) as exc:
            self.say(f"git diff failed: {exc}", "error")
            return
        if not text.strip():
            self.say("no uncommitted changes to tracked files")
            return
        self.app.show_diff(text)


    async def mcp(self, _: str) -> None:
        """The MCP servers as they are now, and the prompt commands they offer."""
        servers = self.session.status().mcp_servers
        if not servers:
            self.say("no MCP server is configured (termagent mcp add NAME -- CMD …)")
            return
        lines = ["MCP servers:"]
        for server in servers:
            note = f" — {server['message']}" if server.get("message") else ""
            lines.append(f"  {server['name']}  {server['transport']}  {server['status']}  {server['tools']} tools{note}")
        prompts = self.session.mcp_prompts()
        if prompts:
            lines += ["prompts (send one as /NAME [text]):"] + [f"  /{name}  {what}" for name, what in prompts.items()]
        self.say("\n".join(lines))

    async def jobs(self, _: str) -> None:
        """The session's background jobs; a status is as of the model's last job_output."""
        jobs = self.session.status().jobs
        if not jobs:
            self.say("no background jobs in this session (the model starts them with bash run_in_background)")
            return
        width = max(len(job.id) for job in jobs)
        lines = ["background jobs (they end with the session):"]
        lines += [f"  {job.id.ljust(width)}  {job.status:<10}  {job.command}" for job in jobs]
        self.say("\n".join(lines))

    async def undo(self, _: str) -> None:
        """One checkpoint back; the state before the undo is itself kept, so it can be redone."""
        if not self._idle("/undo"):
            return
        reason = self.session.checkpoints_off_reason()
        if reason:
            self.say(reason, "warning")
            return
        from termagent.git import undo_last

        self.say(await undo_last(self.session.workspace, self.session.session_id))

    async def transcript(self, arg: str) -> None:
        from termagent.store.transcript import format_transcript

        children = self.session.store.children(self.session.session_id)
        if not children:
            self.say("no subagent has run in this session yet")
            return
        try:
            chosen = children[int(arg) - 1] if arg else children[-1]
        except (ValueError, IndexError):
            listing = "\n".join(f"  {n}. {c.agent} ({c.status})" for n, c in enumerate(children, 1))
            self.say(f"choose one of:\n{listing}", "warning")
            return
        self.say(format_transcript(self.session.store, chosen))


def _first_prompt(store, session_id: str) -> str:
    """A title for untitled sessions: the start of their first prompt."""
    for message in store.messages(session_id)[:3]:
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for block in blocks:
            if message["role"] == "user" and block.get("type") == "text":
                words = " ".join(str(block["text"]).split())
                return words[:50] + ("…" if len(words) > 50 else "")
    return ""
