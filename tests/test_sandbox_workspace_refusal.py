"""A workspace at $HOME, /, an ancestor of $HOME or around termagent's own files is refused.

Through the real CLI entry point (exit code 2, a message naming the path and the
override); with the override, the sandbox still hides dotfiles and termagent's files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from termagent.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["--task", "say hi", "--sandbox", "none", *argv])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("where", ["home", "ancestor", "root", "config-inside"])
def test_dangerous_workspaces_are_refused_with_exit_2(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "users" / "me"
    home.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    workspace = {"home": home, "ancestor": tmp_path / "users", "root": Path("/"), "config-inside": tmp_path / "proj"}[where]
    if where == "config-inside":
        workspace.mkdir()
        monkeypatch.setenv("TERMAGENT_CONFIG_DIR", str(workspace / "cfg"))
    code, err = _run(capsys, "-C", str(workspace))
    assert code == 2
    assert f"refusing to use {workspace.resolve()} as the workspace" in err
    assert "--allow-home-workspace" in err


def test_a_project_directory_and_the_override_pass_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "me"
    (home / "proj").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    for argv in (["-C", str(home / "proj")], ["-C", str(home), "--allow-home-workspace"]):
        code, err = _run(capsys, *argv)
        assert "refusing to use" not in err, err


@pytest.mark.docker
async def test_with_the_override_the_sandbox_sees_no_dotfiles(
    canary_home: Any, sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (canary_home.home / ".bashrc").write_text("# real rc\n")
    (canary_home.home / "notes.txt").write_text("visible\n")
    sandbox = await sandbox_factory(canary_home.home)
    listing = await sandbox.exec("cat notes.txt; ls -A .ssh .aws; cat .netrc .bashrc; "
                                 "echo pwn > .bashrc; echo pwn > .ssh/authorized_keys; cat .ssh/id_canary", 10)
    assert listing.output.startswith("visible\n")
    assert not any(secret.strip() in listing.output for secret in canary_home.secrets())
    assert canary_home.unchanged()
    assert (canary_home.home / ".bashrc").read_text() == "# real rc\n"
    assert not (canary_home.home / ".ssh" / "authorized_keys").exists()
