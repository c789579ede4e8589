"""A fresh workspace per run: the case's fixture copied into a temp dir, a git repo with a
base commit, the case's setup run; and the final diff against that base for the judge.

Host git here runs hardened (termagent.gitsafe), since a fixture or a git ref may carry
hostile config, and the diff is taken through a private index so the tree the checks see
is exactly what the agent left.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from termagent.evals.case import Case

IDENTITY = ("-c", "user.name=termagent eval", "-c", "user.email=eval@termagent.invalid", "-c", "commit.gpgsign=false")
SETUP_TIMEOUT_S = 300


class WorkspaceError(Exception):
    """The workspace could not be prepared: a missing fixture, a bad ref, a failed setup command."""


@dataclass(frozen=True)
class Prepared:
    root: Path  # the workspace the session runs in
    holder: Path  # the temp dir to remove afterwards
    base_commit: str


def _git(root: Path, *args: str, input_bytes: bytes | None = None, env_extra: dict[str, str] | None = None,
         check: bool = True) -> subprocess.CompletedProcess[bytes]:
    from termagent.gitsafe import git_command, git_env

    env = git_env(root, scan_filters=False) | (env_extra or {})
    proc = subprocess.run(git_command(root, *IDENTITY, *args), cwd=root, env=env, input=input_bytes,
                          capture_output=True, timeout=SETUP_TIMEOUT_S, check=False)
    if check and proc.returncode != 0:
        raise WorkspaceError(f"git {args[0]} failed: {proc.stderr.decode('utf-8', 'replace').strip()[:300]}")
    return proc


def _copy_fixture(case: Case, dest: Path) -> None:
    spec = case.workspace
    if spec.startswith("git:"):  # the whole tree of REF in the repository holding the case file
        ref = spec[4:]
        top = _git(case.base_dir, "rev-parse", "--show-toplevel", check=False).stdout.decode().strip()
        archive = _git(Path(top or case.base_dir), "archive", "--format=tar", ref, check=False)
        if archive.returncode != 0:
            raise WorkspaceError(f"{case.source}: workspace {spec!r}: git archive failed: "
                                 f"{archive.stderr.decode('utf-8', 'replace').strip()[:300]}")
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True, capture_output=True)
        return
    if not spec:
        return
    source = (case.base_dir / spec).resolve()
    if not source.is_dir():
        raise WorkspaceError(f"{case.source}: workspace {spec!r}: no such folder {source}")
    shutil.copytree(source, dest, symlinks=True, dirs_exist_ok=True)


def prepare(case: Case) -> Prepared:
    """Copy, git init (when the fixture has no repo), run setup, commit the starting state."""
    holder = Path(tempfile.mkdtemp(prefix=f"termagent-eval-{case.name[:40]}-"))
    root = holder / "workspace"
    root.mkdir()
    try:
        _copy_fixture(case, root)
        if not (root / ".git").exists():
            _git(root, "init", "-q", "-b", "main")
        for command in case.setup:
            _setup(case, root, command)
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "--allow-empty", "--no-verify", "-m", "eval: starting state")
        base = _git(root, "rev-parse", "HEAD").stdout.decode().strip()
    except BaseException:
        shutil.rmtree(holder, ignore_errors=True)
        raise
    return Prepared(root, holder, base)


def _setup(case: Case, root: Path, command: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "TERMAGENT_"))}
    try:
        proc = subprocess.run(command, shell=True, cwd=root, env=env, capture_output=True, text=True,
                              timeout=SETUP_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise WorkspaceError(f"{case.source}: setup command {command!r} timed out") from None
    if proc.returncode != 0:
        raise WorkspaceError(f"{case.source}: setup command {command!r} exited {proc.returncode}: "
                             f"{(proc.stderr or proc.stdout).strip()[-300:]}")


def final_diff(root: Path, base: str) -> str:
    """Everything the run changed since the base commit, untracked files included."""
    with tempfile.TemporaryDirectory() as tmp:
        index = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        _git(root, "read-tree", base, env_extra=index)
        _git(root, "add", "-A", env_extra=index)
        return _git(root, "diff", "--cached", base, env_extra=index).stdout.decode("utf-8", "replace")


def remove(prepared: Prepared) -> None:
    shutil.rmtree(prepared.holder, ignore_errors=True)


class Templates:
    """Each case's starting state is prepared once (copy, git init, setup, base commit), and
    every run gets its own plain copy of it, repository included: the same fresh tree for
    every run, without paying git and the setup commands per run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._case_locks: dict[str, threading.Lock] = {}
        self._made: dict[str, Prepared | WorkspaceError] = {}

    def fresh(self, case: Case) -> Prepared:
        with self._lock:
            case_lock = self._case_locks.setdefault(case.name, threading.Lock())
        with case_lock:
            made = self._made.get(case.name)
            if made is None:
                try:
                    made = prepare(case)
                except WorkspaceError as exc:
                    made = exc
                self._made[case.name] = made
        if isinstance(made, WorkspaceError):
            raise made
        holder = Path(tempfile.mkdtemp(prefix=f"termagent-eval-{case.name[:40]}-"))
        shutil.copytree(made.root, holder / "workspace", symlinks=True)
        return Prepared(holder / "workspace", holder, made.base_commit)

    def close(self) -> None:
        for made in self._made.values():
            if isinstance(made, Prepared):
                remove(made)
        self._made.clear()
