"""Path confinement and the read ledger, against real files and symlinks."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from termagent.tools.base import ToolError
from termagent.tools.workspace import ReadLedger, is_protected, relative_path, resolve_in_workspace


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "src" / "a.py").write_text("print(1)\n")
    return root


def refused(root: Path, path: str) -> str:
    with pytest.raises(ToolError) as info:
        resolve_in_workspace(root, path)
    return info.value.type


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/shadow", "..", "src/../../x", "/"])
def test_escapes_are_refused(ws: Path, path: str) -> None:
    assert refused(ws, path) == "outside_workspace"


def test_absolute_path_climbing_out_is_refused_before_touching_the_target(ws: Path) -> None:
    os.mkfifo(ws.parent / "x")  # opening this would block: a refusal proves no I/O happened
    assert refused(ws, f"{ws}/../x") == "outside_workspace"


def test_nul_byte_is_refused(ws: Path) -> None:
    assert refused(ws, "src/a.py\0.txt") == "outside_workspace"


def test_empty_path_is_invalid(ws: Path) -> None:
    assert refused(ws, "  ") == "invalid_path"


def test_relative_and_absolute_paths_inside_resolve(ws: Path) -> None:
    expected = (ws / "src" / "a.py").resolve()
    assert resolve_in_workspace(ws, "src/a.py") == expected
    assert resolve_in_workspace(ws, "./src/../src/a.py") == expected
    assert resolve_in_workspace(ws, str(ws / "src" / "a.py")) == expected
    assert resolve_in_workspace(ws, "new/dir/file.txt") == ws.resolve() / "new" / "dir" / "file.txt"


def test_root_reached_through_a_symlink_still_works(ws: Path, tmp_path: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(ws)
    assert resolve_in_workspace(alias, "src/a.py") == (ws / "src" / "a.py").resolve()
    assert resolve_in_workspace(alias, str(alias / "src" / "a.py")) == (ws / "src" / "a.py").resolve()


def test_symlinks_leading_outside_are_refused(ws: Path, tmp_path: Path) -> None:
    secret = tmp_path / "home" / ".ssh"
    secret.mkdir(parents=True)
    (secret / "id_canary").write_text("canary")
    (ws / "l").symlink_to(secret / "id_canary")
    (ws / "k").symlink_to(secret)
    (ws / "r").symlink_to("/")
    for path in ("l", "k/id_canary", "k", "r/etc/passwd", "r"):
        assert refused(ws, path) == "outside_workspace", path


def test_symlink_inside_resolves_to_its_target(ws: Path) -> None:
    (ws / "link.py").symlink_to("src/a.py")
    assert resolve_in_workspace(ws, "link.py") == (ws / "src" / "a.py").resolve()


def test_dotdot_is_applied_lexically_so_a_symlink_cannot_turn_it_outward(ws: Path, tmp_path: Path) -> None:
    (ws / "up").symlink_to(tmp_path)
    # The OS would read up/ws/../.. as tmp_path/..; we resolve the text first, staying inside.
    assert resolve_in_workspace(ws, "up/ws/../../etc") == ws.resolve() / "etc"
    assert refused(ws, "up/ws/../x") == "outside_workspace"


def test_relative_path_is_lexical_and_confined(ws: Path) -> None:
    assert relative_path(ws, "src/./a.py") == "src/a.py"
    assert relative_path(ws, str(ws)) == "."
    with pytest.raises(ToolError):
        relative_path(ws, "../other")


def test_git_metadata_is_protected(ws: Path) -> None:
    assert is_protected(ws, resolve_in_workspace(ws, ".git/hooks/pre-commit"))
    assert is_protected(ws, resolve_in_workspace(ws, "sub/.GIT/config"))
    assert not is_protected(ws, resolve_in_workspace(ws, ".github/workflows/ci.yml"))


def test_ledger_refuses_unread_changed_and_deleted_files(ws: Path) -> None:
    ledger = ReadLedger()
    target = ws / "src" / "a.py"
    with pytest.raises(ToolError, match="not read"):
        ledger.check_fresh(target)
    ledger.record(target)
    ledger.check_fresh(target)
    target.write_text("print(2)\n")  # same size, maybe even the same mtime tick
    with pytest.raises(ToolError, match="changed since you last read it") as info:
        ledger.check_fresh(target)
    assert info.value.type == "stale_read"
    ledger.record(target)
    target.unlink()
    with pytest.raises(ToolError, match="deleted"):
        ledger.check_fresh(target)


def test_ledger_tells_own_writes_from_outside_changes(ws: Path) -> None:
    ledger = ReadLedger()
    target = ws / "src" / "a.py"
    assert not ledger.is_current(target)
    ledger.record(target)
    assert ledger.is_current(target)
    target.write_text("changed\n")
    assert not ledger.is_current(target)


def test_ledger_forget_forces_a_fresh_read(ws: Path) -> None:
    ledger = ReadLedger()
    target = ws / "src" / "a.py"
    ledger.record(target, target.read_bytes())
    assert ledger.is_known(target)
    ledger.forget(target)
    assert not ledger.is_known(target)
    with pytest.raises(ToolError):
        ledger.check_fresh(target)


def test_ledger_keys_by_real_path(ws: Path) -> None:
    ledger = ReadLedger()
    (ws / "alias.py").symlink_to("src/a.py")
    ledger.record(ws / "alias.py")
    assert ledger.is_known(ws / "src" / "a.py")


def test_ledger_is_safe_to_share_between_threads(ws: Path) -> None:
    ledger = ReadLedger()
    files = []
    for i in range(20):
        path = ws / f"f{i}.txt"
        path.write_text(f"content {i}\n")
        files.append(path)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(50):
                for path in files:
                    ledger.record(path)
                    ledger.check_fresh(path)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert all(ledger.is_known(path) for path in files)
