"""Host-side git that a repository's own configuration can never turn into code execution.

The workspace is written by the model and by sandboxed commands, and a cloned project may
be hostile, so `.git/config`, `.gitattributes` and `.git/hooks` are untrusted input. Every
host-side git call goes through `run_git` (or `open_repo`), which:

- drops the system config and replaces the user's global config with a private file that
  holds only the user's identity, `safe.directory` entries and global excludes file (so
  commits keep the right author, and local repo settings still win as they normally do);
- disables hooks, fsmonitor, pagers, editors, signing, auto-gc, network transports and
  submodule recursion from the command line (the highest-priority scope);
- neutralises every `filter.<driver>` the effective config defines (clean/smudge/process
  would run on `status`, `diff` and `add`), passing the overrides through
  `GIT_CONFIG_KEY_n` so an odd driver name cannot break out of a `-c key=value` pair;
- never descends into another repository: submodules are ignored by every porcelain diff
  (`diff.ignoreSubmodules=all`), and callers that walk the work tree exclude every nested
  repository and gitlink (`nested_repositories`, `isolating_pathspecs`), because a child
  git in a sandbox-made repository would obey that repository's own config;
- starts git from an allowlisted environment (`ENV_ALLOWLIST`): nothing of termagent's
  own environment (API keys, tokens, SSH agent, inherited `GIT_*`) reaches git.

Diff-producing commands must also pass `--no-ext-diff --no-textconv` (see `DIFF_SAFETY`).
Trade-off: git-lfs style filters are disabled too, so an LFS file shows as its real
content; correctness of a commit matters less than not running a planted program.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import git

GIT = "git"
DEFAULT_TIMEOUT_S = 60.0
DIFF_SAFETY = ("--no-ext-diff", "--no-textconv")
# Commands that can run an external diff or a textconv: `git_command` adds DIFF_SAFETY itself.
DIFF_COMMANDS = frozenset({"diff", "show", "log", "whatchanged", "diff-index", "diff-files", "diff-tree",
                           "format-patch", "range-diff"})

HARDENING: tuple[tuple[str, str], ...] = (
    ("core.hooksPath", "/dev/null"),
    ("core.fsmonitor", "false"),
    ("core.pager", "cat"),
    ("core.editor", ":"),
    ("core.sshCommand", "false"),
    ("core.askPass", ""),
    ("core.quotePath", "false"),
    ("credential.helper", ""),
    ("protocol.allow", "never"),
    ("safe.bareRepository", "explicit"),
    ("commit.gpgSign", "false"),
    ("tag.gpgSign", "false"),
    ("log.showSignature", "false"),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    ("submodule.recurse", "false"),
    ("status.submoduleSummary", "false"),
    ("diff.submodule", "short"),
    ("diff.ignoreSubmodules", "all"),
    ("fetch.recurseSubmodules", "false"),
    ("color.ui", "false"),
)

FIXED_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_OPTIONAL_LOCKS": "0",
    "GIT_PAGER": "cat",
    "PAGER": "cat",
    "GIT_EDITOR": ":",
    "GIT_SEQUENCE_EDITOR": ":",
    "GIT_ASKPASS": "",
    "SSH_ASKPASS": "",
    "LC_ALL": "C",
}

# What git may see of our environment; identity variables are strings, not secrets.
ENV_ALLOWLIST = ("PATH", "HOME", "LANG", "TZ", "XDG_CONFIG_HOME", "EMAIL",
                 "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL")
GITLINK_MODE = "160000"

_FILTER_KEYS = ("clean", "smudge", "process")
_identity_lock = threading.Lock()
_identity_files: dict[tuple[str, str], str] = {}


class GitError(Exception):
    """git failed, timed out, or is not installed; the message is fit to show a person."""

    def __init__(self, message: str, returncode: int | None = None, stderr: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr


def git_command(root: Path | str, *args: str, literal_pathspecs: bool = True) -> list[str]:
    """The argv for a hardened git call in `root`; use with `git_env(root)`."""
    argv = [GIT, "--no-pager", "-C", str(root)]
    if literal_pathspecs:
        argv.append("--literal-pathspecs")
    for key, value in HARDENING:
        argv += ["-c", f"{key}={value}"]
    command = _command_index(args)
    if command is not None and args[command] in DIFF_COMMANDS:
        args = (*args[: command + 1], *DIFF_SAFETY, *args[command + 1:])
    return argv + list(args)


def _command_index(args: tuple[str, ...]) -> int | None:
    """Where the subcommand sits in `args`, past leading `-c key=value` options."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] == "-c" else 1
    return i if i < len(args) else None


def allowed_env() -> dict[str, str]:
    """The few parent variables git needs (see ENV_ALLOWLIST); everything else stays out."""
    return {key: os.environ[key] for key in ENV_ALLOWLIST if key in os.environ}


def base_env() -> dict[str, str]:
    """`allowed_env()` plus the fixed hardening and the private global config."""
    env = allowed_env()
    env.update(FIXED_ENV)
    env["GIT_CONFIG_GLOBAL"] = _identity_file()
    return env


def git_env(root: Path | str, scan_filters: bool = True, pinned: dict[str, str] | None = None) -> dict[str, str]:
    """`base_env()` plus overrides that switch off every filter driver the repo defines.

    `scan_filters=False` skips the config scan (one git process) for commands that never
    read work-tree content, see `_reads_content`. `pinned` (GIT_DIR / GIT_WORK_TREE that
    git handed a hook in a bare-repo or dotfiles setup) names the repository explicitly.
    """
    env = base_env() | (pinned or {})
    overrides: list[tuple[str, str]] = []
    for name in _filter_drivers(root, env) if scan_filters else []:
        overrides += [(f"filter.{name}.{key}", "") for key in _FILTER_KEYS]
        overrides.append((f"filter.{name}.required", "false"))
    env["GIT_CONFIG_COUNT"] = str(len(overrides))
    for i, (key, value) in enumerate(overrides):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


def run_git(
    root: Path | str,
    *args: str,
    input: str | bytes | None = None,
    check: bool = True,
    timeout: float = DEFAULT_TIMEOUT_S,
    text: bool = True,
    literal_pathspecs: bool = True,
) -> subprocess.CompletedProcess[Any]:
    """Run hardened git in `root`. With `check`, a non-zero exit raises GitError."""
    argv = git_command(root, *args, literal_pathspecs=literal_pathspecs)
    options: dict[str, Any] = {
        "input": input,
        "capture_output": True,
        "check": False,
        "env": git_env(root, scan_filters=_reads_content(args)),
        "cwd": str(root),
        "timeout": timeout,
        "stdin": None if input is not None else subprocess.DEVNULL,
    }
    if text:
        options.update(encoding="utf-8", errors="replace")
    try:
        proc: subprocess.CompletedProcess[Any] = subprocess.run(argv, **options)
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0] if args else ''} timed out after {timeout:.0f}s") from None
    if check and proc.returncode != 0:
        stderr = proc.stderr if text else proc.stderr.decode("utf-8", "replace")
        raise GitError(_first_lines(stderr) or f"git exited with {proc.returncode}", proc.returncode, stderr)
    return proc


def is_git_repo(root: Path | str) -> bool:
    """True when `root` is inside a git work tree (git missing counts as no)."""
    try:
        proc = run_git(root, "rev-parse", "--is-inside-work-tree", check=False, timeout=15)
    except GitError:
        return False
    return proc.returncode == 0 and proc.stdout.strip() == "true"


def open_repo(root: Path | str) -> git.Repo:
    """A gitpython Repo whose commands run with the same hardened argv and environment.

    gitpython's in-process helpers (e.g. `is_dirty`, `index.diff`) call git without
    `--no-ext-diff`; prefer `repo.git.<cmd>(*DIFF_SAFETY, ...)` for anything that diffs.
    Pathspecs are literal, as with `run_git`.
    """
    import git

    repo = git.Repo(str(root), search_parent_directories=True)
    env = git_env(root)
    repo.git.update_environment(**env)
    # gitpython starts from a copy of os.environ and cannot drop a variable, so every one
    # outside the allowlist is blanked instead.
    repo.git.update_environment(**{key: "" for key in os.environ if key not in env})
    repo.git.set_persistent_git_options(c=[f"{k}={v}" for k, v in HARDENING], no_pager=True, literal_pathspecs=True)
    return repo


def nested_repositories(top: Path, staged_z: str, others_z: str) -> list[str]:
    """Paths (relative to `top`) of every other repository inside this work tree.

    `staged_z` is `ls-files -z -s` output (index entries with modes), `others_z` is
    `ls-files -z -o --exclude-standard` output, which names a nested repository git
    recognises `dir/` instead of listing its files. A nested repository is a gitlink, such
    a `dir/`, or any directory above a listed path that holds a `.git` (directory, file or
    symlink, valid or not yet valid): the sandbox can make one with `git init` anywhere or
    rewire a pointer, and a host git that entered it would obey that repository's config.
    """
    found: set[str] = set()
    starts: list[str] = []
    for path in others_z.split("\0"):
        if path:
            starts.append(path.rstrip("/") if path.endswith("/") else path.rpartition("/")[0])
    for entry in staged_z.split("\0"):
        meta, tab, path = entry.partition("\t")
        if tab:
            if meta.split(" ", 1)[0] == GITLINK_MODE:
                found.add(path)
            starts.append(path.rpartition("/")[0])
    directories: set[str] = set()
    for directory in starts:
        while directory and directory not in directories:
            directories.add(directory)
            directory = directory.rpartition("/")[0]
    found.update(d for d in directories if os.path.lexists(top / d / ".git"))
    return sorted(found)


def workspace_pathspecs(root: Path | str, spec: str = ".") -> list[str]:
    """Pathspec arguments for porcelain status/diff in `root` (pass `literal_pathspecs=False`):
    `spec` literally, minus every nested repository, so git never enters one."""
    staged = run_git(root, "ls-files", "-z", "-s", "--", spec).stdout
    others = run_git(root, "ls-files", "-z", "-o", "--exclude-standard", "--", spec).stdout
    return isolating_pathspecs(spec, nested_repositories(Path(root), staged, others)).split("\0")[:-1]


def isolating_pathspecs(scope: str, nested: list[str]) -> str:
    """A NUL-separated pathspec list (for `--pathspec-from-file=- --pathspec-file-nul`,
    without `--literal-pathspecs`): `scope` taken literally, minus every nested repository."""
    specs = [f":(literal){scope}"] + [f":(exclude,literal){path}" for path in nested]
    return "\0".join(specs) + "\0"


def _reads_content(args: tuple[str, ...]) -> bool:
    """False only for commands known never to hash work-tree files (so no filter can run):
    rev-parse, and ls-files listing names (`-m` would compare content)."""
    command = args[0] if args else ""
    if command == "rev-parse":
        return False
    return command != "ls-files" or any(a in ("-m", "--modified") for a in args)


def _filter_drivers(root: Path | str, env: dict[str, str]) -> list[str]:
    """Names of filter drivers in the effective config (reading config runs nothing)."""
    argv = git_command(root, "config", "--list", "-z")
    try:
        proc = subprocess.run(
            argv, check=False, capture_output=True, env=env, cwd=str(root), timeout=15, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    names: list[str] = []
    for entry in proc.stdout.split(b"\0"):
        key = entry.split(b"\n", 1)[0].decode("utf-8", "surrogateescape")
        section, _, rest = key.partition(".")
        name, _, leaf = rest.rpartition(".")
        if section == "filter" and name and leaf in _FILTER_KEYS and name not in names:
            names.append(name)
    return names


def _identity_file() -> str:
    """A private global config holding only inert settings copied from the user's own."""
    cache_key = (os.environ.get("HOME", ""), os.environ.get("XDG_CONFIG_HOME", ""))
    with _identity_lock:
        path = _identity_files.get(cache_key)
        if path and os.path.exists(path):
            return path
        path = _write_identity_file(_read_global_identity())
        _identity_files[cache_key] = path
        return path


def _read_global_identity() -> list[tuple[str, str]]:
    env = {k: v for k, v in allowed_env().items() if not k.startswith("GIT_")}
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    argv = [
        GIT,
        "config",
        "--global",
        "--includes",
        "-z",
        "--get-regexp",
        r"^(user\.(name|email)|safe\.directory|core\.excludesfile)$",
    ]
    try:
        proc = subprocess.run(
            argv,
            check=False,
            capture_output=True,
            env=env,
            timeout=15,
            stdin=subprocess.DEVNULL,
            cwd=tempfile.gettempdir(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    pairs = []
    for entry in proc.stdout.decode("utf-8", "replace").split("\0"):
        key, sep, value = entry.partition("\n")
        if sep and key:
            pairs.append((key, value))
    return pairs


def _write_identity_file(pairs: list[tuple[str, str]]) -> str:
    directory = tempfile.mkdtemp(prefix="termagent-git-")
    atexit.register(shutil.rmtree, directory, True)
    path = os.path.join(directory, "gitconfig")
    Path(path).touch(mode=0o600)
    env = {k: v for k, v in allowed_env().items() if not k.startswith("GIT_")}
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    for key, value in pairs:
        subprocess.run(
            [GIT, "config", "--file", path, "--add", key, value],
            check=False,
            capture_output=True,
            env=env,
            timeout=15,
            stdin=subprocess.DEVNULL,
            cwd=directory,
        )
    return path


def _first_lines(text: str, limit: int = 20) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[:limit])
