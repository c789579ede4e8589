"""The Harbor adapter's parts that need no Harbor: the disposable-host setting it turns on in
the task container, the stdlib unpacker that installs termagent there, the pip platform tags
for the container's interpreter, and the reading of headless json into Harbor's numbers.
(Harbor running the whole thing is tests/test_harbor.py.)"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from termagent.config import ConfigError, load_config
from termagent.harbor import results, unpack
from termagent.harbor.wheelhouse import Target
from termagent.headless import run_headless
from termagent.testing.scripted_server import reply, text, tool_use
from tests.session_support import make_session, tool_results

DISPOSABLE = {"permissions": {"mode": "auto"}, "sandbox": {"disposable_host": True}}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / "src").mkdir(parents=True)
    (ws / "src" / "main.py").write_text("print('keep me')\n")
    return ws


async def _run(session: object) -> tuple[int, dict]:
    out = io.StringIO()
    result = await run_headless(session, "do it", "json", out, io.StringIO())  # type: ignore[arg-type]
    return result.exit_code, json.loads(out.getvalue())


async def test_a_disposable_host_keeps_auto_mode_without_the_sandbox(workspace, scripted_server, monkeypatch):
    outside = workspace.parent / "outside.txt"
    scripted_server.add(reply(tool_use("bash", {"command": f"ls src && echo made > {outside}"})), reply(text("ok")))
    session, _ = make_session(workspace, scripted_server, monkeypatch, overrides=DISPOSABLE)
    assert session.runner.policy.mode == "auto" and not session.runner.policy.downgraded
    code, payload = await _run(session)
    assert code == 0 and payload["denials"] == []
    assert "main.py" in tool_results(scripted_server.requests[1].body)[0]["content"]
    assert outside.read_text() == "made\n"  # outside the workspace is the container's, not a person's


async def test_a_disposable_host_still_refuses_destructive_commands(workspace, scripted_server, monkeypatch):
    scripted_server.add(reply(tool_use("bash", {"command": "rm -rf src"})), reply(text("stopped")))
    session, _ = make_session(workspace, scripted_server, monkeypatch, overrides=DISPOSABLE)
    code, payload = await _run(session)
    assert code == 4 and payload["denials"][0]["input"] == "rm -rf src"
    assert (workspace / "src" / "main.py").exists()


def test_only_the_person_can_declare_the_host_disposable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".termagent").mkdir()
    (tmp_path / ".termagent" / "config.toml").write_text("[sandbox]\ndisposable_host = true\n")
    with pytest.raises(ConfigError, match="disposable_host cannot be set by a project"):
        load_config(tmp_path)
    (tmp_path / ".termagent" / "config.toml").unlink()
    monkeypatch.setenv("TERMAGENT_DISPOSABLE_HOST", "1")
    assert load_config(tmp_path).get("sandbox", "disposable_host") is True


def _wheel(folder: Path, name: str, files: dict[str, str]) -> Path:
    path = folder / name
    with zipfile.ZipFile(path, "w") as archive:
        for member, body in files.items():
            archive.writestr(member, body)
    return path


def test_unpacked_wheels_run_termagent_isolated_from_the_tasks_python(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels, "termagent-9.9-py3-none-any.whl", {
        "termagent/__init__.py": "",
        "termagent/cli.py": "import os, sys, helper\n"
                            "def main():\n    print(helper.VALUE, os.environ.get('PYTHONPATH'), sys.argv[1:])\n"
                            "    return 7\n"})
    _wheel(wheels, "helper-1.0-py3-none-any.whl", {"helper-1.0.data/purelib/helper.py": "VALUE = 'from-data'\n"})
    launcher = unpack.install(wheels, tmp_path / "prefix")
    assert not list((tmp_path / "prefix" / "site").glob("*.data"))
    # the task's PYTHONPATH points at a shadowing `helper`; termagent must not pick it up
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "helper.py").write_text("VALUE = 'shadowed'\n")
    done = subprocess.run([str(launcher), "--task", "x"], env={**os.environ, "PYTHONPATH": str(shadow)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 7, done.stderr
    assert done.stdout.split()[0] == "from-data" and "--task" in done.stdout


def test_unpack_refuses_a_folder_without_termagent(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no termagent wheel"):
        unpack.install(tmp_path, tmp_path / "prefix")


def test_platform_tags_cover_old_manylinux_wheels_and_musl() -> None:
    glibc = Target(sys.executable, "3.11", "x86_64", "glibc", "2.36").platforms()
    assert glibc[0] == "manylinux_2_36_x86_64" and "manylinux_2_17_x86_64" in glibc
    assert "manylinux2014_x86_64" in glibc and "manylinux1_x86_64" in glibc
    assert Target(sys.executable, "3.12", "aarch64", "musl", "").platforms()[0] == "musllinux_1_2_aarch64"
    probe = '{"executable": "/usr/bin/python3", "python": "3.11", "machine": "x86_64", "libc": "glibc", ' \
            '"libc_version": "2.36"}'
    assert Target.from_probe("noise\n" + probe).key() == "py3.11-x86_64-glibc2.36"


async def test_headless_json_becomes_harbors_tokens_and_cost(workspace, scripted_server, monkeypatch):
    usage = {"input_tokens": 1000, "output_tokens": 50, "cache_read_input_tokens": 200,
             "cache_creation_input_tokens": 30}
    scripted_server.add(reply(tool_use("bash", {"command": "ls"}), usage=usage), reply(text("ok"), usage=usage))
    session, _ = make_session(workspace, scripted_server, monkeypatch, overrides=DISPOSABLE)
    code, payload = await _run(session)
    outcome = results.parse("termagent: warning\n" + json.dumps(payload) + "\n", code)
    assert (outcome.n_input_tokens, outcome.n_cache_tokens, outcome.n_output_tokens) == (2460, 400, 100)
    assert outcome.cost_usd == payload["cost_usd"] > 0
    assert outcome.metadata["tool_calls"] == 1 and outcome.failure() is None


def test_exit_codes_map_to_harbor_outcomes() -> None:
    def outcome(code: int, reason: str) -> results.Outcome:
        return results.parse(json.dumps({"exit_reason": reason, "detail": "why"}), code)

    assert outcome(0, "done").failure() is None
    assert outcome(4, "denied").failure() is None  # finished; the tests judge the work
    assert outcome(1, "max_turns").failure() is None  # a limit is an outcome, not a crash
    assert "internal_error" in (outcome(1, "internal_error").failure() or "")
    assert outcome(3, "api_error").failure() == "termagent exited 3 (api_error): why"
    assert results.parse("Traceback ...", 1).failure() == "termagent exited 1 (no_output)"
