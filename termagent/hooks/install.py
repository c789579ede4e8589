"""`termagent hooks install|uninstall`: small hook scripts that call this Python's termagent.

The scripts go where git will run them: `core.hooksPath` when set (relative to the work
tree top, as git reads it), else the common git dir's `hooks/` (shared by worktrees).
An existing hook that is not ours is never overwritten without --force, and even then
it is kept as `<name>.termagent-backup`, which uninstall puts back.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from termagent.hooks import HOOK_NAMES

if TYPE_CHECKING:
    import git

MARKER = "# termagent-hook:"
BACKUP_SUFFIX = ".termagent-backup"


class HookInstallError(Exception):
    """Not a repository, or the hooks directory cannot be written; the message says which."""


@dataclass(frozen=True)
class HookChange:
    name: str
    path: Path
    action: str  # installed, updated, replaced, refused, removed, restored, absent, foreign
    note: str = ""

    @property
    def line(self) -> str:
        return f"{self.name}: {self.action} {self.path}" + (f" ({self.note})" if self.note else "")


def script(name: str, python: str | None = None) -> str:
    """The hook script. `-P` keeps the repository's own files off sys.path, so a checkout
    that contains a `termagent/` directory cannot stand in for the installed package."""
    interpreter = shlex.quote(python or sys.executable)
    return (
        "#!/bin/sh\n"
        f"{MARKER} installed by `termagent hooks install`; `termagent hooks uninstall` removes it.\n"
        "# Skip once with TERMAGENT_SKIP_HOOKS=1 (or git's --no-verify).\n"
        f'exec {interpreter} -P -m termagent hook run {name} "$@"\n'
    )


def is_ours(path: Path) -> bool:
    """Whether `path` is a hook this module wrote (a link never is: it is not opened)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as handle:
        try:
            return MARKER.encode() in handle.read(4096)
        except OSError:
            return False


def hooks_dir(root: Path) -> Path:
    """Where git looks for this repository's hooks."""
    return _locate(root)[0]


def _locate(root: Path) -> tuple[Path, tuple[Path, ...]]:
    """The hooks directory, and the trusted directories it may be checked from.

    Paths are made absolute without resolving links (`resolve` would hide a planted
    `hooks -> ~` link); the anchors are the work-tree top, the git dir's parent and home,
    whose own ancestors are the person's layout rather than something a session wrote.
    """
    import git

    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise HookInstallError(f"{root} is not inside a git work tree: {exc}") from None
    if repo.working_tree_dir is None:
        raise HookInstallError(f"{root} is not inside a git work tree (the repository is bare)")
    top = Path(repo.working_tree_dir)
    common = Path(os.path.normpath(Path(os.path.realpath(root)) / repo.common_dir))
    anchors = (top, common.parent, Path.home(), Path(os.path.realpath(Path.home())))
    configured = _configured_hooks_path(repo)
    if configured:
        path = Path(os.path.expanduser(configured))
        return Path(os.path.normpath(path if path.is_absolute() else top / path)), anchors
    return common / "hooks", anchors


def _refuse_links(directory: Path, anchors: tuple[Path, ...], create: bool) -> None:
    """Check (and with `create`, make) each component below the nearest anchor with lstat.

    A hooks directory that is, or lies under, a symbolic link would make the install
    write wherever the link points (a planted `.git/hooks -> ~` puts scripts in home),
    so any link there is refused, naming it.
    """
    inside = [a for a in anchors if directory == a or a in directory.parents]
    anchor = max(inside, key=lambda a: len(a.parts)) if inside else directory.parent
    if create and not inside:
        os.makedirs(anchor, exist_ok=True)  # a configured path elsewhere: its parents are the person's
    current = anchor
    for part in directory.relative_to(anchor).parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            if not create:
                return
            os.mkdir(current)
            continue
        if stat.S_ISLNK(mode):
            raise HookInstallError(f"{current} is a symbolic link (to {os.readlink(current)}); termagent "
                                   "never writes hooks through a link; remove it or point core.hooksPath "
                                   "at a real directory")
        if not stat.S_ISDIR(mode):
            raise HookInstallError(f"{current} is not a directory")


def _configured_hooks_path(repo: "git.Repo") -> str:
    """`core.hooksPath` from every scope git reads (system, global, repo).

    The hardened `run_git` pins core.hooksPath to /dev/null and replaces the global config,
    so it cannot answer this one question. gitpython parses the config files (includes
    too) in this process: reading them this way runs no git and no program at all.
    """
    import configparser

    try:
        return str(repo.config_reader().get_value("core", "hooksPath", "")).strip()
    except (OSError, configparser.Error, ValueError):
        return ""


def install(root: Path, names: tuple[str, ...] = HOOK_NAMES, force: bool = False) -> list[HookChange]:
    directory, anchors = _locate(root)
    try:
        _refuse_links(directory, anchors, create=True)
        return [_install_one(directory / name, name, force) for name in names]
    except OSError as exc:
        raise HookInstallError(f"cannot write hooks in {directory}: {exc}") from None


def _install_one(path: Path, name: str, force: bool) -> HookChange:
    action = "installed"
    if path.is_symlink():
        return HookChange(name, path, "refused", f"it is a symbolic link (to {os.readlink(path)}); termagent "
                          "never writes through a link; remove the link and install again")
    if path.exists():
        if is_ours(path):
            action = "updated"
        elif not force:
            return HookChange(name, path, "refused", "a hook is already there; --force keeps it as "
                              f"{path.name}{BACKUP_SUFFIX} and installs termagent's")
        else:
            backup = path.with_name(path.name + BACKUP_SUFFIX)
            if backup.exists() or backup.is_symlink():
                return HookChange(name, path, "refused", f"{backup.name} already exists; move it away first")
            path.rename(backup)
            action = "replaced"
    _write_new(path, script(name))
    note = f"your hook is kept as {path.name}{BACKUP_SUFFIX}" if action == "replaced" else ""
    return HookChange(name, path, action, note)


def _write_new(path: Path, text: str) -> None:
    """Write a fresh file beside `path` and rename it over `path`.

    The temporary name is unlinked first (removing a planted link, never following it) and
    opened O_EXCL|O_NOFOLLOW, so the bytes can only land in a new file in this directory;
    the rename then replaces a directory entry rather than writing through one.
    """
    temporary = path.with_name(f".{path.name}.termagent-tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o755)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            os.fchmod(handle.fileno(), 0o755)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def uninstall(root: Path, names: tuple[str, ...] = HOOK_NAMES) -> list[HookChange]:
    directory, anchors = _locate(root)
    try:
        _refuse_links(directory, anchors, create=False)
        return [_uninstall_one(directory / name, name) for name in names]
    except OSError as exc:
        raise HookInstallError(f"cannot change hooks in {directory}: {exc}") from None


def _uninstall_one(path: Path, name: str) -> HookChange:
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    if not (path.exists() or path.is_symlink()):
        if backup.exists():
            backup.rename(path)
            return HookChange(name, path, "restored", f"from {backup.name}")
        return HookChange(name, path, "absent")
    if not is_ours(path):
        return HookChange(name, path, "foreign", "not installed by termagent; left alone")
    path.unlink()
    if backup.exists() or backup.is_symlink():
        backup.rename(path)
        return HookChange(name, path, "restored", f"your earlier hook is back from {backup.name}")
    return HookChange(name, path, "removed")
