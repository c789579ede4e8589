"""Which workspace paths the sandbox sees read-only, and what it tried to add anyway.

The workspace is mounted read-write, but some of its paths are run by host programs
later: git runs `.git/hooks` (and any `core.hooksPath`), shells read rc files, editors
and agents read `.vscode/`, `.claude/`, `.mcp.json`. A command that writes one of those
would run code on the host. So, at container start:

- every `.git` at any depth (nested repositories, `.git` pointer files and the gitdir
  they name inside the workspace) and every existing execution-bearing path is mounted
  read-only over itself;
- an execution-bearing *directory* that does not exist yet (and `.git` in a workspace
  that is no repository) is created empty on the host and mounted read-only, so the
  sandbox can never create it: an empty directory changes nothing for git or editors;
- an execution-bearing *file* that does not exist yet cannot get a placeholder without
  leaving an empty file that `git status` shows (and a commit would carry), so it is
  checked around each command (see watched_names): one the sandbox created or changed
  is moved aside and reported before any host program could pick it up. A symlink in
  one of these places (which Docker would follow when mounting) is watched the same way.

Paths the sandbox must not see at all (termagent's own config and state, the home
directory's dot entries when the workspace was overridden to be `$HOME`; see
host_paths) are masked by an empty read-only stand-in.

After each command a new `.git` anywhere in the tree is reported (a `git init` or
`git clone` in a subdirectory); the next session mounts it read-only.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from termagent.sandbox.docker_settings import EXECUTION_BEARING_DIRS, EXECUTION_BEARING_PATHS, WORKSPACE
from termagent.sandbox.git_scan import GitScan
from termagent.sandbox.watched_names import move_aside

@dataclass(frozen=True)
class GuardPlan:
    read_only: tuple[tuple[str, str], ...]  # (host path, container path); stand-ins for masked paths too
    watched: tuple[str, ...]  # root names without a mount: checked around each command (watched_names)
    scan_complete: bool  # False when the tree was too big to look for every `.git`
    # Mounted paths whose inode must not change during a command (root files are watched instead).
    pinned: tuple[str, ...] = ()


def _is_plain(path: Path) -> bool:
    return path.exists() and not path.is_symlink()


def _inside(workspace: Path, path: Path) -> bool:
    try:
        Path(os.path.realpath(path)).relative_to(workspace)
        return True
    except ValueError:
        return False


def _gitdir_of(pointer: Path, workspace: Path) -> Path | None:
    """The gitdir a `.git` file names, when it is a real directory inside the workspace."""
    try:
        text = pointer.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("gitdir:"):
            target = Path(line[len("gitdir:"):].strip())
            target = target if target.is_absolute() else pointer.parent / target
            target = Path(os.path.normpath(target))
            if _is_plain(target) and target.is_dir() and _inside(workspace, target):
                return target
    return None


def hooks_path(workspace: Path) -> Path | None:
    """The repository's own `core.hooksPath` (read with hardened git), if inside the workspace."""
    from termagent.gitsafe import GitError, run_git

    try:
        done = run_git(workspace, "config", "--local", "--includes", "--get", "core.hooksPath",
                       check=False, timeout=10.0)
    except GitError:
        return None
    value = done.stdout.strip() if done.returncode == 0 else ""
    if not value or value.startswith("~"):
        return None
    path = Path(os.path.normpath(workspace / value))
    return path if _inside(workspace, path) and path != workspace else None


def _within(path: Path, roots: list[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def _container_path(workspace: Path, path: Path) -> str:
    return f"{WORKSPACE}/{path.relative_to(workspace).as_posix()}"


def plan_masks(workspace: Path, standins: Path) -> list[tuple[str, str]]:
    """(stand-in, container path) for each hidden path; stand-ins are made in `standins`."""
    from termagent.sandbox.host_paths import hidden_paths

    hidden = [p for p in hidden_paths(workspace) if not p.is_symlink() and p.exists()]
    if not hidden:
        return []
    empty_dir, empty_file = standins / "empty-dir", standins / "empty-file"
    empty_dir.mkdir(mode=0o555, exist_ok=True)
    empty_file.touch()
    empty_file.chmod(0o444)
    return [(str(empty_dir if p.is_dir() else empty_file), _container_path(workspace, p)) for p in hidden]


def plan_guard(workspace: Path, standins: Path | None = None) -> tuple[GuardPlan, GitScan]:
    """Decide the read-only mounts (creating placeholder directories) and the watched names.

    `standins` is a private host directory for the empty stand-ins of masked paths. The
    scan that found every `.git` comes back too, for the re-checks after each command.
    """
    masks = plan_masks(workspace, standins) if standins is not None else []
    masked = [workspace / Path(dst).relative_to(WORKSPACE) for _, dst in masks]
    placeholder_dirs = [workspace / name for name in EXECUTION_BEARING_DIRS]
    if (hooks := hooks_path(workspace)) is not None:
        placeholder_dirs.append(hooks)
    for directory in placeholder_dirs:
        if not os.path.lexists(directory):
            with contextlib.suppress(OSError):
                directory.mkdir(parents=True)
    scan = GitScan(workspace)  # after the placeholders, so the first re-check does not see them as new
    git_entries = scan.relative()
    candidates: list[Path] = [workspace / rel for rel in sorted(git_entries)]
    for rel in sorted(git_entries):
        pointer = workspace / rel
        if pointer.is_file() and (gitdir := _gitdir_of(pointer, workspace)) is not None:
            candidates.append(gitdir)
    candidates += placeholder_dirs + [workspace / name for name in EXECUTION_BEARING_PATHS]
    mounted: list[Path] = []
    watched: list[str] = []
    for path in candidates:
        if path in mounted or _within(path, mounted + masked):
            continue
        if _is_plain(path) and _inside(workspace, path):
            mounted.append(path)
        elif path.parent == workspace and path.name not in watched:
            watched.append(path.name)
    # A mounted root file is watched too: a host-side replacement (an editor's atomic save)
    # detaches its mount, and from then on only the watch protects it.
    watched += [p.name for p in mounted if p.parent == workspace and p.is_file() and p.name not in watched]
    pinned = tuple(str(p) for p in mounted if not (p.parent == workspace and p.is_file()))
    pairs = tuple((str(p), _container_path(workspace, p)) for p in mounted) + tuple(masks)
    return GuardPlan(pairs, tuple(watched), scan.complete, pinned), scan


def _lstat(path: Path | str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


def identities(paths: tuple[str, ...]) -> tuple[tuple[str, int, int], ...]:
    """(path, st_dev, st_ino) of each path that exists, taken right before a command."""
    return tuple((path, info.st_dev, info.st_ino) for path in paths if (info := _lstat(path)) is not None)


def displaced_warnings(before: tuple[tuple[str, int, int], ...]) -> list[str]:
    """Undo a swap under a read-only mount: a renamed parent directory takes the mount with it,
    and the command may then create a writable stand-in (a hooks directory) at the old path."""
    warnings = []
    for path, dev, ino in before:
        info = _lstat(path)
        if info is None or (info.st_dev, info.st_ino) == (dev, ino):
            continue
        try:
            aside = move_aside(Path(path))
        except OSError as exc:
            warnings.append(f"the command replaced the read-only {path} with a writable copy that could not be "
                            f"moved aside ({exc}): do not run git or other host programs there")
            continue
        warnings.append(f"the command moved the read-only {path} away (by renaming a parent directory) and put "
                        f"something else there; that was moved to {aside.name if aside else '?'}")
    return warnings


def new_git_warnings(scan: GitScan) -> list[str]:
    """Report each `.git` that appeared since the last look."""
    fresh = sorted(scan.relative(scan.refresh()))
    return [f"the command created a git repository at {rel} (writable until this session ends; host git would "
            "run its hooks): inspect it before using git there on the host" for rel in fresh]
