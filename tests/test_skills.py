"""Agent Skills: real SKILL.md folders, a real session on the scripted server, the line mode."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from termagent.extensions.skills import discover_skills, prefix_listing
from termagent.headless import run_headless
from termagent.testing.scripted_server import reply, text, tool_use
from termagent.trust import is_trusted, trust
from tests.session_support import make_session, tool_results
from tests.test_plain import drive

GREET = """---
name: greet
description: Greets someone by running the bundled script
allowed-tools: Bash(python3:*) Read
license: Apache-2.0
---
Run `python3 .agents/skills/greet/scripts/greet.py NAME` and report what it printed.
"""
STYLE = """---
name: style-guide
description: >
  House style for Python code: read it before writing
  or reviewing Python
metadata:
  version: "2"
---
Follow reference.md in this folder, every rule of it.
"""
DEPLOY = """---
name: deploy
description: Ships the service to production
disable-model-invocation: true
---
Deploy with ./ship.sh, after asking twice.
"""


def write(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return path


@pytest.fixture
def user_skills(isolated_state: Path) -> Path:
    """The person's own skills, in ~/.config/termagent/skills (outside every workspace)."""
    root = isolated_state / "config" / "skills"
    write(root / "style-guide" / "SKILL.md", STYLE)
    write(root / "style-guide" / "reference.md", "Rule 1: four spaces, never tabs.\n")
    write(root / "deploy" / "SKILL.md", DEPLOY)
    write(isolated_state / "secret.txt", "the person's secret\n")
    os.symlink(isolated_state / "secret.txt", root / "style-guide" / "leak.md")
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    ws = tmp_path / "project"
    write(ws / ".agents" / "skills" / "greet" / "SKILL.md", GREET)
    write(ws / ".agents" / "skills" / "greet" / "scripts" / "greet.py",
          "import sys\nprint(f'Hello, {sys.argv[1]}! (from the greet skill)')\n")
    write(ws / ".agents" / "skills" / "broken" / "SKILL.md", "---\nname: broken\n---\nno description above\n")
    write(ws / ".claude" / "skills" / "greet" / "SKILL.md", GREET.replace("Greets someone", "A second greet"))
    write(ws / "app.py", "print('hi')\n")
    return ws


def prefix_bytes(body: dict) -> str:
    return json.dumps({"system": body["system"], "tools": body["tools"]})


def test_discovery_reads_every_place_reports_the_malformed_and_keeps_the_first_of_a_name(project, user_skills):
    found = discover_skills(project, trusted=True)
    assert [s.name for s in found.skills] == ["greet", "deploy", "style-guide"]
    greet, deploy, style = found.skills
    assert greet.scope == "project" and greet.allowed_tools == ("Bash(python3:*)", "Read")
    assert dict(greet.other) == {"license": "Apache-2.0"}
    assert style.description == "House style for Python code: read it before writing or reviewing Python"
    assert style.folder == (user_skills / "style-guide").resolve() and not deploy.model_invocable
    warnings = "\n".join(found.warnings)
    assert f"skipped skill {project}/.agents/skills/broken/SKILL.md: front matter needs `description`" in warnings
    assert f"{project}/.claude/skills/greet/SKILL.md: the name 'greet' is taken by" in warnings


def test_an_untrusted_project_loads_only_the_persons_skills(project, user_skills):
    found = discover_skills(project, trusted=False)
    assert [s.name for s in found.skills] == ["deploy", "style-guide"]
    assert any("ignoring skills in" in w and "not trusted" in w for w in found.warnings)


def test_a_skill_added_to_a_trusted_project_asks_for_trust_again(project):
    trust(project)
    assert is_trusted(project)
    write(project / ".claude" / "skills" / "new" / "SKILL.md", GREET.replace("name: greet", "name: new"))
    assert not is_trusted(project)


def test_the_listing_caps_descriptions_and_says_what_it_left_out(tmp_path):
    for number in range(60):
        write(tmp_path / "s" / f"skill-{number:02}" / "SKILL.md",
              f"---\nname: skill-{number:02}\ndescription: {'word ' * 100}\n---\nbody\n")
    listing = prefix_listing(discover_skills(tmp_path / "nowhere", False, (tmp_path / "s",)))
    lines = [line for line in listing.splitlines() if line.startswith("- skill-")]
    assert all(len(line) <= len("- skill-00: ") + 300 for line in lines) and lines[0].endswith("…")
    assert len(listing) < 9_000
    assert f"({60 - len(lines)} more not described here" in listing and "skill-59" in listing


async def test_the_model_loads_a_skill_reads_its_reference_and_cannot_write_there(project, user_skills,
                                                                                 scripted_server, monkeypatch):
    folder = (user_skills / "style-guide").resolve()
    scripted_server.add(
        reply(tool_use("skill", {"name": "style-guide"})),
        reply(tool_use("read_file", {"path": f"{folder}/reference.md"})),
        reply(tool_use("write_file", {"path": f"{folder}/reference.md", "content": "Rule 1: tabs.\n"})),
        reply(tool_use("read_file", {"path": f"{folder}/leak.md"})),
        reply(tool_use("skill", {"name": "deploy"})),
        reply(tool_use("skill", {"name": "nope"})),
        reply(text("Styled.")),
        reply(text("Second turn.")),
    )
    session, events = make_session(project, scripted_server, monkeypatch, trusted=True,
                                   overrides={"permissions": {"mode": "accept-edits"}})
    session.start()
    await session.run_turn("tidy app.py")
    await session.run_turn("and again")
    await session.close()
    requests = scripted_server.requests
    assert len(requests) == 8
    loaded = tool_results(requests[1].body)[0]["content"]
    assert f"Folder: {folder}" in loaded and "Follow reference.md in this folder" in loaded
    assert "reference.md" in loaded.split("Files:")[1].splitlines()[0]
    assert "Rule 1: four spaces, never tabs." in tool_results(requests[2].body)[0]["content"]
    refused = json.loads(tool_results(requests[3].body)[0]["content"])["error"]
    assert refused["type"] == "outside_workspace"
    assert (folder / "reference.md").read_text() == "Rule 1: four spaces, never tabs.\n"
    leak = json.loads(tool_results(requests[4].body)[0]["content"])["error"]
    assert leak["type"] == "outside_workspace" and "symlink" in leak["message"]
    assert "secret" not in json.dumps([r.body["messages"] for r in requests])
    disabled = json.loads(tool_results(requests[5].body)[0]["content"])["error"]
    assert disabled["type"] == "skill_not_for_model" and "/deploy" in disabled["message"]
    unknown = json.loads(tool_results(requests[6].body)[0]["content"])["error"]
    assert unknown["type"] == "unknown_skill" and "greet, style-guide" in unknown["message"]
    first = requests[0].body
    system = "\n".join(block["text"] for block in first["system"])
    assert "- greet: Greets someone" in system and "- style-guide: House style" in system
    assert "deploy" not in system  # model invocation disabled: not offered
    assert [t["name"] for t in first["tools"]].count("skill") == 1
    assert all(prefix_bytes(r.body) == prefix_bytes(first) for r in requests)
    assert any("broken/SKILL.md" in getattr(e, "message", "") for e in events)


async def test_a_project_skill_asks_for_its_script_and_the_script_runs(project, scripted_server, monkeypatch):
    command = "python3 .agents/skills/greet/scripts/greet.py World"
    scripted_server.add(reply(tool_use("skill", {"name": "greet"})), reply(tool_use("bash", {"command": command})),
                        reply(text("It said hello.")))
    session, _ = make_session(project, scripted_server, monkeypatch, trusted=True, allow=(f"bash({command})",))
    result = await run_headless(session, "greet World", "json", io.StringIO(), io.StringIO())
    assert result.exit_code == 0
    loaded = tool_results(scripted_server.requests[1].body)[0]["content"]
    assert "Folder: .agents/skills/greet" in loaded and "scripts/greet.py" in loaded
    assert "Hello, World! (from the greet skill)" in tool_results(scripted_server.requests[2].body)[0]["content"]


async def test_without_skills_there_is_no_skill_tool_and_no_listing(project, scripted_server, monkeypatch):
    scripted_server.add(reply(text("ok")))
    session, events = make_session(project, scripted_server, monkeypatch, trusted=False)
    session.start()
    await session.run_turn("hi")
    await session.close()
    body = scripted_server.requests[0].body
    assert "skill" not in [t["name"] for t in body["tools"]]
    assert "<skills>" not in json.dumps(body["system"])
    assert any("ignoring skills in" in getattr(e, "message", "") for e in events)


async def test_slash_skills_lists_them_and_slash_name_runs_one_the_model_may_not(project, user_skills,
                                                                                scripted_server, monkeypatch):
    scripted_server.add(reply(text("Deployed, after asking twice.")))
    session, _ = make_session(project, scripted_server, monkeypatch, interactive=True, trusted=True)
    code, out = await drive(session, ["/skills\r", "/deploy the api service\r", "/quit\r"])
    assert code == 0
    assert "greet" in out and "Greets someone by running the bundled script" in out
    assert f"{project}/.agents/skills/greet/SKILL.md" in out
    assert "deploy" in out and "only you: model invocation disabled" in out
    sent = scripted_server.requests[0].body["messages"][-1]["content"]
    sent_text = sent if isinstance(sent, str) else " ".join(b.get("text", "") for b in sent)
    assert "Deploy with ./ship.sh, after asking twice." in sent_text and "the api service" in sent_text
    assert "Deployed, after asking twice." in out


async def test_allowed_tools_refuse_other_tools_while_the_skill_is_in_use_and_only_then(project, scripted_server,
                                                                                         monkeypatch):
    scripted_server.add(reply(tool_use("skill", {"name": "greet"})),
                        reply(tool_use("write_file", {"path": "notes.txt", "content": "x\n"})),
                        reply(text("Could not write.")),
                        reply(tool_use("write_file", {"path": "notes.txt", "content": "x\n"})),
                        reply(text("Wrote it.")))
    session, _ = make_session(project, scripted_server, monkeypatch, trusted=True,
                              overrides={"permissions": {"mode": "accept-edits"}})
    session.start()
    await session.run_turn("greet, then take notes")
    await session.run_turn("take notes")
    await session.close()
    refused = json.loads(tool_results(scripted_server.requests[2].body)[0]["content"])["error"]
    assert refused["type"] == "permission_denied"
    assert "the greet skill in use allows only bash, read_file (its allowed-tools), not write_file" in refused["message"]
    assert session.status().denials[0].decided_by == "skill"
    assert (project / "notes.txt").read_text() == "x\n"  # the next turn: no skill in use, the write ran
    assert [r.body["tools"] for r in scripted_server.requests].count(scripted_server.requests[0].body["tools"]) == 5


async def test_a_skill_the_person_runs_narrows_that_turn_too(project, scripted_server, monkeypatch):
    scripted_server.add(reply(tool_use("write_file", {"path": "notes.txt", "content": "x\n"})), reply(text("No.")))
    session, _ = make_session(project, scripted_server, monkeypatch, trusted=True, allow=("write_file",))
    result = await run_headless(session, "/greet Ada", "text", io.StringIO(), io.StringIO())
    assert result.exit_code == 4 and not (project / "notes.txt").exists()
    sent = scripted_server.requests[0].body["messages"][0]["content"]
    assert "Run `python3 .agents/skills/greet/scripts/greet.py NAME`" in json.dumps(sent) and "Ada" in json.dumps(sent)


async def test_the_app_lists_skills_completes_them_and_runs_one(project, user_skills, scripted_server, monkeypatch):
    from tests.test_tui import idle, send, shows, tui

    scripted_server.add(reply(text("Style applied.")))
    session, _ = make_session(project, scripted_server, monkeypatch, interactive=True, trusted=True)
    app = tui(session)
    async with app.run_test(size=(140, 50)) as pilot:
        await send(pilot, "/skills")
        await shows(pilot, "House style for Python code")
        app.prompt.insert("/sty")
        await pilot.pause(0.1)
        assert [item.label for item in app.menu.items] == ["/style-guide [request]"]
        app.prompt.clear()
        await send(pilot, "/style-guide app.py")
        await idle(pilot, app)
        await shows(pilot, "Style applied.")
    sent = json.dumps(scripted_server.requests[0].body["messages"][0]["content"])
    assert "Follow reference.md in this folder" in sent and "app.py" in sent


def test_project_skills_are_never_read_through_a_symlink(project, tmp_path):
    outside = tmp_path / "elsewhere" / "keys"
    write(outside / "SKILL.md", GREET.replace("name: greet", "name: keys"))
    os.symlink(outside, project / ".agents" / "skills" / "keys")
    write(project / ".agents" / "skills" / "sneaky" / "placeholder", "")
    os.symlink(outside / "SKILL.md", project / ".agents" / "skills" / "sneaky" / "SKILL.md")
    found = discover_skills(project, trusted=True, user_dirs=())
    assert [s.name for s in found.skills] == ["greet"]
    assert outside not in found.folders() and outside.resolve() not in found.folders()
    warnings = "\n".join(found.warnings)
    assert "skills/keys: a symlink" in warnings and "sneaky/SKILL.md: a symlink" in warnings
