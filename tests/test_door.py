"""The one door: front ends reach a session only through ops, events and status()."""

from __future__ import annotations

import ast
import graphlib
import asyncio
import re
import sys
from pathlib import Path

import pytest

from termagent.protocol import (
    ApprovalRequested,
    Decision,
    ModeChanged,
    ModelChanged,
    ResolveApproval,
    SetMode,
    SetModel,
    Shutdown,
    SubagentEvent,
    SubmitTurn,
    TurnFinished,
)
from termagent.testing.scripted_server import reply, text, tool_use
from tests.session_support import eventually, make_session
from tests.test_subagents import Router

PACKAGE = Path(__file__).resolve().parent.parent / "termagent"
FRONT_ENDS = ("tui", "plain", "headless", "hooks", "acp", "frontend")
STDLIB = set(sys.stdlib_module_names)


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path, module: str) -> set[str]:
    """Every module a file imports, anywhere in it (lazy imports inside functions count too)."""
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                names.add(node.module)
    return names


def _is_front_end(module: str) -> bool:
    parts = module.split(".")
    return len(parts) > 1 and parts[1] in FRONT_ENDS


def test_protocol_imports_only_the_standard_library():
    """The package's own modules (vocabulary, message, ops, events, views) may import each other."""
    modules = {name: path for name, path in _modules().items()
               if name == "termagent.protocol" or name.startswith("termagent.protocol.")}
    assert "termagent.protocol" in modules and len(modules) > 1
    outside = {f"{module} imports {name}" for module, path in modules.items() for name in _imports(path, module)
               if name.split(".")[0] not in STDLIB and name != "__future__" and name not in modules}
    assert outside == set()


def test_core_imports_no_front_end_and_no_ui_or_docker_library():
    banned = re.compile(r"^(textual|rich|prompt_toolkit|docker|mcp|opentelemetry|ray|acp)(\.|$)")
    offenders = []
    for name, path in _modules().items():
        if not name.startswith("termagent.core"):
            continue
        for imported in _imports(path, name):
            if banned.match(imported) or _is_front_end(imported):
                offenders.append(f"{name} imports {imported}")
    assert offenders == []


def _module_edges(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the termagent modules it imports; `from pkg import mod` names the module."""
    edges: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = set()
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    targets.add(full if full in modules else node.module)
        targets |= {name for name in _imports(path, module) if name in modules}
        edges[module] = {t for t in targets if t in modules and t != module}
    return edges


def test_no_two_modules_import_each_other():
    """A cycle, even through a lazy import or a type-only one, means two modules that can only
    be understood and changed together; each was broken by moving the shared part out."""
    edges = _module_edges(_modules())
    try:
        tuple(graphlib.TopologicalSorter(edges).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_front_ends_import_the_core_only_through_the_door():
    offenders = []
    for name, path in _modules().items():
        if not _is_front_end(name):
            continue
        for imported in _imports(path, name):
            if imported.startswith("termagent.core") and imported != "termagent.core.door":
                offenders.append(f"{name} imports {imported}")
    assert offenders == []


def test_no_module_outside_the_core_reaches_into_the_loop_or_the_runner():
    reach_in = re.compile(r"\bsession\.(loop|runner)\b|\.loop\.(budget|history|model)\b|\.runner\.(policy|registry)\b")
    offenders = [f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
                 for path in PACKAGE.rglob("*.py") if "core" not in path.relative_to(PACKAGE).parts
                 for number, line in enumerate(path.read_text().splitlines(), 1) if reach_in.search(line)]
    assert offenders == []


async def test_set_mode_and_set_model_are_operations_answered_by_events(tmp_path, scripted_server, monkeypatch):
    scripted_server.add(reply(text("first")), reply(text("second")))
    session, events = make_session(tmp_path, scripted_server, monkeypatch, interactive=True)
    serve = asyncio.get_running_loop().create_task(session.serve())
    session.start()
    session.submit(SetMode("accept-edits"))
    session.submit(SubmitTurn("one"))
    session.submit(SetModel("claude-other-model"))  # arrives during the turn: waits for it to end
    session.submit(SubmitTurn("two"))
    assert await eventually(lambda: sum(isinstance(e, TurnFinished) for e in events) == 2, 20)
    session.submit(Shutdown())
    await serve
    kinds = [type(e) for e in events if isinstance(e, (ModeChanged, ModelChanged, TurnFinished))]
    assert kinds == [ModeChanged, TurnFinished, ModelChanged, TurnFinished]
    assert session.status().mode == "accept-edits" and session.status().model == "claude-other-model"
    assert [r.body["model"] for r in scripted_server.requests] == [scripted_server.requests[0].body["model"],
                                                                    "claude-other-model"]


async def test_a_subagents_approval_request_reaches_the_front_end_wrapped(tmp_path, scripted_server, monkeypatch):
    (tmp_path / "tests").mkdir()
    router = Router()
    scripted_server.responder = router
    router.add("main", reply(tool_use("delegate", {"agent": "test_runner", "task": "run the tests"})),
               reply(text("done")))
    router.add("test_runner", reply(tool_use("bash", {"command": "echo hi"})), reply(text("status: ok")))
    session, events = make_session(tmp_path, scripted_server, monkeypatch, interactive=True)
    serve = asyncio.get_running_loop().create_task(session.serve())
    session.start()
    session.submit(SubmitTurn("run the tests"))
    assert await eventually(lambda: any(isinstance(e, SubagentEvent) and isinstance(e.event, ApprovalRequested)
                                        for e in events), 20)
    assert not any(isinstance(e, ApprovalRequested) for e in events)  # never bare: the dialog can say who asks
    wrapped = next(e for e in events if isinstance(e, SubagentEvent) and isinstance(e.event, ApprovalRequested))
    assert wrapped.agent_id.startswith("test_runner")
    session.submit(ResolveApproval(wrapped.event.request_id, Decision.DENY, "not now"))
    assert await eventually(lambda: any(isinstance(e, TurnFinished) for e in events), 20)
    session.submit(Shutdown())
    await serve
    assert "not now" in str(router.seen["main"][1])


def test_an_edit_describes_itself_as_the_real_diff_with_line_numbers_and_indentation(tmp_path):
    from termagent.tools.registry import ToolRegistry, default_tools

    lines = [f"line {n}" for n in range(1, 60)]
    lines[49] = "        return total  # line 50"
    (tmp_path / "calc.py").write_text("\n".join(lines) + "\n")
    view = ToolRegistry(default_tools()).describe(
        "edit_file", {"path": "calc.py", "old_string": "        return total  # line 50",
                      "new_string": "        return total + 1  # line 50"}, tmp_path)
    assert view.kind == "diff" and view.paths == ("calc.py",) and view.touch == "edited"
    assert "@@ -47,7 +47,7 @@" in view.detail
    assert "-        return total  # line 50" in view.detail and "+        return total + 1  # line 50" in view.detail
    assert " line 49" in view.detail and " line 53" in view.detail  # context around it


def test_a_command_describes_itself_and_an_unknown_tool_shows_its_input(tmp_path):
    from termagent.tools.bash import BashTool
    from termagent.tools.registry import ToolRegistry

    registry = ToolRegistry([BashTool()])
    assert registry.describe("nope", {"a": 1}, tmp_path).gist == '{"a": 1}'
    command = registry.describe("bash", {"command": "pytest -q\n  -x"}, tmp_path)
    assert command.kind == "command" and command.gist == "pytest -q -x" and command.detail == "pytest -q\n  -x"
