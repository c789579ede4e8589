"""`termagent hooks install` never writes through a symbolic link a session could have
planted in the hooks directory, the directory itself, or under core.hooksPath."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from termagent.cli import main
from tests.hooks_support import git, make_repo

PROFILE = "export PATH=$HOME/bin:$PATH  # the person's own file\n"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake home with a canary ~/.profile that no install may touch."""
    path = tmp_path / "home"
    path.mkdir()
    (path / ".profile").write_text(PROFILE)
    monkeypatch.setenv("HOME", str(path))
    return path


def hooks_install(repo: Path, *extra: str) -> int:
    return main(["-C", str(repo), "hooks", "install", "pre-commit", *extra])


def home_untouched(home: Path) -> bool:
    return (home / ".profile").read_text() == PROFILE and sorted(p.name for p in home.iterdir()) == [".profile"]


@pytest.mark.parametrize("force", [(), ("--force",)])
def test_a_hook_that_is_a_link_is_refused(tmp_path: Path, home: Path, capsys, force: tuple[str, ...]) -> None:
    repo = make_repo(tmp_path / "repo", hooks=())
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.symlink_to(home / ".profile")
    assert hooks_install(repo, *force) != 0
    assert "symbolic link" in capsys.readouterr().out
    assert home_untouched(home) and hook.is_symlink()


def test_a_planted_temporary_link_is_not_written_through(tmp_path: Path, home: Path) -> None:
    repo = make_repo(tmp_path / "repo", hooks=())
    hooks = repo / ".git" / "hooks"
    (hooks / ".pre-commit.termagent-tmp").symlink_to(home / ".profile")
    assert hooks_install(repo) == 0
    assert home_untouched(home)
    hook = hooks / "pre-commit"
    assert not hook.is_symlink() and "termagent hook run pre-commit" in hook.read_text()
    assert os.access(hook, os.X_OK)


def test_a_hooks_directory_that_is_a_link_is_refused(tmp_path: Path, home: Path, capsys) -> None:
    repo = make_repo(tmp_path / "repo", hooks=())
    hooks = repo / ".git" / "hooks"
    for sample in hooks.iterdir():
        sample.unlink()
    hooks.rmdir()
    hooks.symlink_to(home)
    assert hooks_install(repo) == 2
    err = capsys.readouterr().err
    assert "symbolic link" in err and str(hooks) in err
    assert home_untouched(home)


@pytest.mark.parametrize("hooks_path", ["linked", "linked/deeper", "real/linked"])
def test_core_hooks_path_through_a_link_is_refused(tmp_path: Path, home: Path, capsys, hooks_path: str) -> None:
    repo = make_repo(tmp_path / "repo", hooks=())
    (repo / "real").mkdir()
    (repo / "linked").symlink_to(home)
    (repo / "real" / "linked").symlink_to(home)
    git(repo, "config", "core.hooksPath", hooks_path)
    assert hooks_install(repo) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert home_untouched(home)


def test_uninstall_leaves_a_linked_hook_alone(tmp_path: Path, home: Path) -> None:
    repo = make_repo(tmp_path / "repo", hooks=())
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.symlink_to(home / ".profile")
    assert main(["-C", str(repo), "hooks", "uninstall", "pre-commit"]) == 0
    assert home_untouched(home) and hook.is_symlink()
