"""Custom slash commands: Markdown files in the project and the person's config, sent as turns."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from termagent.extensions.commands import discover_commands, fill
from termagent.frontend.completion import completions
from termagent.frontend.slash import extension_commands
from termagent.headless import run_headless
from termagent.testing.scripted_server import reply, text
from tests.session_support import make_session
from tests.test_plain import drive

REVIEW = """---
description: Review a file for bugs
argument-hint: FILE [focus]
---
Review $1 for bugs, focusing on $2. Everything asked: $ARGUMENTS
"""


def write(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return path


@pytest.fixture
def project(tmp_path: Path, isolated_state: Path) -> Path:
    ws = tmp_path / "project"
    write(ws / ".termagent" / "commands" / "review.md", REVIEW)
    write(ws / ".claude" / "commands" / "fix-issue.md", "# Fix a GitHub issue\nFind and fix issue #$ARGUMENTS.\n")
    write(ws / ".claude" / "commands" / "help.md", "This file loses to the built-in /help.\n")
    write(isolated_state / "config" / "commands" / "standup.md", "Summarise what changed since yesterday.\n")
    write(ws / "app.py", "print('hi')\n")
    return ws


def first_user_text(server) -> str:
    content = server.requests[0].body["messages"][0]["content"]
    return content if isinstance(content, str) else "".join(block.get("text", "") for block in content)


def test_arguments_fill_the_body_and_nothing_typed_is_lost():
    assert fill("Fix #$ARGUMENTS now", " 42 ") == "Fix #42 now"
    assert fill("Review $1 then $2 ($3)", 'a.py "the parser"') == "Review a.py then the parser ()"
    assert fill("Summarise the day\n", "briefly please") == "Summarise the day\n\nARGUMENTS: briefly please\n"
    assert fill("Price is $10", "x") == "Price is $10\n\nARGUMENTS: x\n"  # $10 is not $1 followed by 0


def test_discovery_reads_both_project_folders_and_the_persons_own(project):
    found = discover_commands(project, True, frozenset())
    by_name = {c.name: c for c in found.commands}
    assert set(by_name) == {"review", "fix-issue", "help", "standup"}
    assert by_name["review"].description == "Review a file for bugs" and by_name["review"].argument_hint == "FILE [focus]"
    assert by_name["fix-issue"].description == "Fix a GitHub issue"  # no front matter: its first line
    assert by_name["standup"].scope == "user"
    untrusted = discover_commands(project, False, frozenset())
    assert [c.name for c in untrusted.commands] == ["standup"]
    assert sum("not trusted" in w for w in untrusted.warnings) == 2


async def test_slash_name_sends_the_filled_body_and_help_lists_the_commands(project, scripted_server, monkeypatch):
    scripted_server.add(reply(text("Reviewed.")))
    session, _ = make_session(project, scripted_server, monkeypatch, interactive=True, trusted=True)
    code, out = await drive(session, ["/help\r", "/review app.py errors\r", "/quit\r"])
    assert code == 0
    assert first_user_text(scripted_server).startswith(
        "Review app.py for bugs, focusing on errors. Everything asked: app.py errors")
    assert "Custom commands and skills" in out
    assert "/review FILE [focus]" in out and "Review a file for bugs" in out and "/standup" in out
    assert "Not available (a built-in command has the name): /help" in out
    assert "Commands" in out and "/compact [focus]" in out  # the built-in /help ran, not the file


async def test_completion_offers_custom_commands_after_the_built_ins(project, scripted_server, monkeypatch):
    session, _ = make_session(project, scripted_server, monkeypatch, interactive=True, trusted=True)
    extra = extension_commands(session)
    labels = [c.label for c in completions("/", None, extra)]
    assert labels.index("/help") < labels.index("/review FILE [focus]")
    assert [c.text for c in completions("/fi", None, extra)] == ["/fix-issue"]
    assert [c.label for c in completions("/he", None, extra)] == ["/help"]  # the built-in only
    await session.close()


async def test_headless_task_expands_a_command(project, scripted_server, monkeypatch):
    scripted_server.add(reply(text("Fixed.")))
    session, _ = make_session(project, scripted_server, monkeypatch, trusted=True)
    result = await run_headless(session, "/fix-issue 123", "text", io.StringIO(), io.StringIO())
    assert result.exit_code == 0
    assert first_user_text(scripted_server) == "# Fix a GitHub issue\nFind and fix issue #123.\n"


async def test_headless_leaves_a_path_like_task_alone(project, scripted_server, monkeypatch):
    scripted_server.add(reply(text("Looked.")))
    session, _ = make_session(project, scripted_server, monkeypatch, trusted=True)
    await run_headless(session, "/usr/bin/env fails here", "text", io.StringIO(), io.StringIO())
    assert first_user_text(scripted_server) == "/usr/bin/env fails here"


async def test_an_editor_is_offered_the_commands_and_a_prompt_naming_one_expands(project, scripted_server):
    from acp import text_block

    from tests.test_acp import new_session, running_agent

    scripted_server.add(reply(text("Summarised.")))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    environ.update(ANTHROPIC_BASE_URL=scripted_server.url, ANTHROPIC_API_KEY="sk-acp-secret-0000000000")
    async with running_agent(project, environ, "--trust-project") as (conn, client):
        sid = await new_session(conn, project)
        await client.until(lambda: client.of("available_commands_update"))
        names = {c.name for c in client.of("available_commands_update")[0].available_commands}
        assert {"review", "fix-issue", "standup", "cost"} <= names and "help" in names
        await conn.prompt(session_id=sid, prompt=[text_block("/standup for the team")])
    assert first_user_text(scripted_server) == ("Summarise what changed since yesterday.\n\n"
                                                "ARGUMENTS: for the team\n")
