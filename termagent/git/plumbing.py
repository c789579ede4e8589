"""Hardened git plumbing against a chosen index file: what checkpoints are made of.

Every call goes through `gitsafe.git_command`/`gitsafe.git_env`, so a repository's
config, attributes and hooks never run a program. The only addition is
`GIT_INDEX_FILE`, which lets a snapshot stage the whole working tree without touching
the person's own index. The environment (which neutralises the repo's filter drivers)
is computed once per `Plumbing`, i.e. once per snapshot or rewind, not once per call.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from termagent import gitsafe
import termagent.git.execution as execution
from termagent.gitsafe import GitError

ZERO_OID = "0" * 40
CHECKPOINT_IDENTITY = {
    "GIT_AUTHOR_NAME": "termagent",
    "GIT_AUTHOR_EMAIL": "termagent@localhost",
    "GIT_COMMITTER_NAME": "termagent",
    "GIT_COMMITTER_EMAIL": "termagent@localhost",
}
# Byte-exact round trips: no CRLF rewriting between the working tree and a snapshot.
EXACT_CONTENT = ("-c", "core.autocrlf=false", "-c", "core.safecrlf=false", "-c", "advice.addEmbeddedRepo=false")


@dataclass(frozen=True)
class RepoInfo:
    """Where a workspace sits in its repository; `scope` is its path below the top ('.' at the top)."""

    top: Path
    git_dir: Path
    common_dir: Path
    scope: str

    @property
    def state_dir(self) -> Path:
        return self.git_dir / "termagent"


def repo_info(root: Path | str) -> RepoInfo | None:
    """None when `root` is not inside a git work tree (or git is missing)."""
    try:
        proc = gitsafe.run_git(
            root, "rev-parse", "--show-toplevel", "--absolute-git-dir", "--git-common-dir", "--show-prefix",
            check=False, timeout=15,
        )
    except GitError:
        return None
    lines = proc.stdout.splitlines()
    if proc.returncode != 0 or len(lines) < 3:
        return None
    top, git_dir, common = Path(lines[0]), Path(lines[1]), Path(lines[2])
    prefix = lines[3].strip().rstrip("/") if len(lines) > 3 else ""
    if not common.is_absolute():
        common = (Path(root) / common).resolve()
    return RepoInfo(top.resolve(), git_dir.resolve(), common, prefix or ".")


class Plumbing:
    """Runs hardened git at the repository top, optionally against a private index file."""

    def __init__(self, info: RepoInfo, index: Path | None = None, identity: bool = False) -> None:
        self.info = info
        self.nested: list[str] = []  # the nested repositories the last stage_worktree left out
        self.too_large: list[str] = []  # untracked files it left out for size
        self.untracked_bytes = 0  # total size of the untracked files it saw
        self.max_file_bytes: int | None = None
        self.env = gitsafe.git_env(info.top)
        if index is not None:
            self.env["GIT_INDEX_FILE"] = str(index)
        if identity:
            self.env.update(CHECKPOINT_IDENTITY)

    def run(self, *args: str, input: str | None = None, check: bool = True,
            timeout: float = gitsafe.DEFAULT_TIMEOUT_S, literal: bool = True) -> subprocess.CompletedProcess[str]:
        """`literal=False` only for pathspecs built by `gitsafe.isolating_pathspecs`."""
        argv = gitsafe.git_command(self.info.top, *EXACT_CONTENT, *args, literal_pathspecs=literal)
        try:
            proc = subprocess.run(
                argv, check=False, input=input, capture_output=True, env=self.env, cwd=str(self.info.top),
                timeout=timeout,
                stdin=None if input is not None else subprocess.DEVNULL, encoding="utf-8", errors="surrogateescape",
            )
        except FileNotFoundError:
            raise GitError("git is not installed or not on PATH") from None
        except subprocess.TimeoutExpired:
            raise GitError(f"git {args[0] if args else ''} timed out after {timeout:.0f}s") from None
        if check and proc.returncode != 0:
            detail = proc.stderr.strip().splitlines()
            raise GitError(f"git {args[0]} failed: {detail[-1] if detail else proc.returncode}",
                           proc.returncode, proc.stderr)
        return proc

    def stage_worktree(self) -> str:
        """Stage every tracked and untracked (not ignored) file of the scope; return the tree id.

        Nested repositories and gitlinks are left out (and dropped from a private index), so
        git never enters a repository the sandbox made or rewired. `--ignore-errors` keeps one
        unreadable file from losing the whole snapshot; a fatal error (a locked index, say)
        still raises, so a stale tree is never taken for current.
        """
        names = self.execution_names()
        self.drop_ignored(names)
        staged, others = self._listing()
        self.nested = gitsafe.nested_repositories(self.info.top, staged, others)
        self.too_large, self.untracked_bytes = _measure(self.info.top, others, self.max_file_bytes)
        left_out = self.nested + self.too_large
        if left_out and "GIT_INDEX_FILE" in self.env:
            self.run("rm", "--cached", "-r", "-q", "-f", "--ignore-unmatch", "--pathspec-from-file=-",
                     "--pathspec-file-nul", input="\0".join(left_out) + "\0")
        self.add_isolated(left_out)
        if "GIT_INDEX_FILE" in self.env:
            self.add_execution_bearing(names)
        return self.run("write-tree").stdout.strip()

    def execution_names(self) -> list[str]:
        """Scope-level names a snapshot takes even when ignored (see `execution.EXECUTION_BEARING`)."""
        hooks = None
        if self.info.scope == ".":
            hooks = self.run("config", "--local", "--get", "core.hooksPath", check=False).stdout.strip() or None
        return execution.root_names(hooks)

    def add_execution_bearing(self, names: list[str]) -> None:
        """Stage the execution-bearing files even when ignored, so a rewind restores or removes them."""
        scope_dir = self.info.top / self.info.scope
        files = execution.files_under(scope_dir, names)
        if not files:
            return
        prefix = "" if self.info.scope == "." else self.info.scope + "/"
        proc = self.run("add", "--force", "--ignore-errors", "--pathspec-from-file=-", "--pathspec-file-nul",
                        input="".join(f"{prefix}{path}\0" for path in files), check=False)
        if proc.returncode != 0 and "fatal:" in proc.stderr:
            raise GitError(f"git add failed: {proc.stderr.strip().splitlines()[-1]}", proc.returncode, proc.stderr)

    def add_isolated(self, nested: list[str], *options: str) -> None:
        """`git add --all` over the scope minus `nested`; raises on a fatal error only."""
        proc = self.run("add", "--all", "--ignore-errors", *options, "--pathspec-from-file=-", "--pathspec-file-nul",
                        input=gitsafe.isolating_pathspecs(self.info.scope, nested), literal=False, check=False)
        if proc.returncode != 0 and "fatal:" in proc.stderr:
            raise GitError(f"git add failed: {proc.stderr.strip().splitlines()[-1]}", proc.returncode, proc.stderr)

    def nested_repositories(self) -> list[str]:
        """Every other repository inside the scope (see `gitsafe.nested_repositories`)."""
        return gitsafe.nested_repositories(self.info.top, *self._listing())

    def _listing(self) -> tuple[str, str]:
        """`ls-files -s` and `ls-files -o` of the scope, NUL-separated; listing runs nothing."""
        staged = self.run("ls-files", "-z", "-s", "--", self.info.scope).stdout
        others = self.run("ls-files", "-z", "-o", "--exclude-standard", "--", self.info.scope).stdout
        return staged, others

    def drop_ignored(self, keep: list[str]) -> None:
        """Remove entries that are now gitignored from this index, except files the person tracks.

        `add --all` never drops what an index already holds, so a file snapshotted before it
        became ignored (node_modules/ added to .gitignore later) would stay in every later
        tree, and a rewind to before it existed would delete it. Files in the person's own
        index stay: they are tracked, ignored or not; so do the execution-bearing `keep` paths.
        """
        if "GIT_INDEX_FILE" not in self.env:
            return
        ignored = self._ignored_entries(self.env)
        if not ignored:
            return
        person_env = {k: v for k, v in self.env.items() if k != "GIT_INDEX_FILE"}
        tracked = set(self._ignored_entries(person_env))
        prefix = "" if self.info.scope == "." else self.info.scope + "/"
        drop = [path for path in ignored if path not in tracked
                and not execution.is_execution_bearing(path.removeprefix(prefix), keep)]
        if drop:
            self.run("rm", "--cached", "-q", "-f", "--ignore-unmatch", "--pathspec-from-file=-", "--pathspec-file-nul",
                     input="\0".join(drop) + "\0")

    def _ignored_entries(self, env: dict[str, str]) -> list[str]:
        """Index entries (of the index `env` names) that match the ignore rules now."""
        argv = gitsafe.git_command(self.info.top, "ls-files", "-z", "--cached", "--ignored", "--exclude-standard",
                                   "--", self.info.scope)
        try:
            proc = subprocess.run(argv, check=False, capture_output=True, env=env, cwd=str(self.info.top),
                                  timeout=gitsafe.DEFAULT_TIMEOUT_S, stdin=subprocess.DEVNULL, encoding="utf-8",
                                  errors="surrogateescape")
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise GitError(f"git ls-files did not run: {exc}") from None
        if proc.returncode != 0:
            raise GitError(f"git ls-files failed: {proc.stderr.strip() or proc.returncode}", proc.returncode,
                           proc.stderr)
        return [path for path in proc.stdout.split("\0") if path]

    def resolve(self, rev: str) -> str | None:
        proc = self.run("rev-parse", "--verify", "--quiet", "--end-of-options", rev, check=False)
        if proc.returncode != 0:
            return None
        return proc.stdout.strip() or None


def _measure(top: Path, others_z: str, cap: int | None) -> tuple[list[str], int]:
    """Untracked files over `cap` bytes, and the total size of all of them (one lstat each)."""
    too_large: list[str] = []
    total = 0
    for path in others_z.split("\0"):
        if not path or path.endswith("/"):
            continue
        try:
            size = os.lstat(top / path).st_size
        except OSError:
            continue
        total += size
        if cap is not None and size > cap:
            too_large.append(path)
    return too_large, total


def _copy_index(source: Path, target: Path) -> None:
    """Copy an index with its mtime: git rechecks an entry's content only when the entry is
    as new as the index file, so a copy stamped now would make a file rewritten within the
    second it was staged look unchanged (racy git)."""
    shutil.copy2(source, target)


def seed_index(info: RepoInfo, index: Path) -> None:
    """Start a private index from the real one, so unchanged files are not hashed again.

    The stat data in a copy of the person's index stays valid for the files it lists;
    without one (a fresh repo), git starts from an empty index.
    """
    index.parent.mkdir(parents=True, exist_ok=True)
    real = info.git_dir / "index"
    if real.is_file():
        try:
            _copy_index(real, index)
            return
        except OSError:
            pass
    index.unlink(missing_ok=True)


@contextmanager
def scratch_index(info: RepoInfo, seed: Path | None = None) -> Iterator[Path]:
    """A throw-away index file, a copy of `seed` when that exists (else empty), removed afterwards."""
    info.state_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="scratch-", suffix=".index", dir=info.state_dir)
    os.close(fd)
    path = Path(name)
    try:
        if seed is not None and seed.is_file():
            _copy_index(seed, path)
        else:
            path.unlink()
        yield path
    finally:
        path.unlink(missing_ok=True)
        Path(name + ".lock").unlink(missing_ok=True)
