"""Unsandboxed runs (`--sandbox none`): a write or delete outside the workspace asks.

Inside the container the only thing a command can hurt is the mounted workspace, which
checkpoints cover. On the host, `>> ~/.bashrc`, `rm ~/.ssh/id_rsa`, `cp x ~/` or
`tee /etc/x` change the person's machine, so every path a command writes or deletes is
checked: `~`, absolute paths outside the workspace and /tmp, `..` escapes, paths named at
run time, and relative paths after a `cd` that may have left the workspace all ask.
"""

from __future__ import annotations

from dataclasses import dataclass

from termagent.policy.calls import Call, Sink, normalized, scan_options
from termagent.policy.shell_parse import Redirect, Word

_SCRATCH = ("/tmp/", "/var/tmp/", "/dev/fd/")
_SCRATCH_EXACT = frozenset({"/tmp", "/var/tmp", "/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/zero"})
_WRITE_OPS = frozenset({">", ">>", ">|", "&>", "&>>", ">&", "<>"})


@dataclass(frozen=True)
class Writes:
    """Which operands of a program it writes or deletes, and its options that take a value."""

    operands: str  # "all", "target" (last operand or -t DIR), "after-first" (chmod MODE FILE..)
    valued: str = ""
    long_valued: frozenset[str] = frozenset()


_COPY = Writes("target", "tSmogb", frozenset({"--target-directory", "--suffix", "--mode", "--owner", "--group"}))
WRITERS: dict[str, Writes] = {
    **{name: Writes("all") for name in ("rm", "unlink", "rmdir", "shred", "touch", "mkdir", "tee", "rimraf")},
    "mv": Writes("all", "tS", frozenset({"--target-directory", "--suffix"})),
    "truncate": Writes("all", "sr", frozenset({"--size", "--reference"})),
    **{name: _COPY for name in ("cp", "install", "ln", "rsync", "scp")},
    **{name: Writes("after-first", "", frozenset({"--reference", "--from"})) for name in ("chmod", "chown", "chgrp")},
}


def outside(word: Word, workspace: str, cwd_moved: bool) -> bool:
    """Whether writing `word` may touch something outside `workspace` (True when it cannot be known)."""
    if word.dynamic:
        return True
    path = word.value
    if path.startswith("~"):
        return True
    clean = normalized(path)
    if clean.startswith("/"):
        if clean in _SCRATCH_EXACT or clean.startswith(_SCRATCH):
            return False
        return not (clean == workspace or clean.startswith(workspace.rstrip("/") + "/"))
    return cwd_moved or clean == ".." or clean.startswith("../")


def check_call(call: Call, sink: Sink, workspace: str) -> None:
    spec = WRITERS.get(call.name)
    if spec is None:
        if call.name == "dd":
            targets = [Word(w.value[3:], w.raw, w.dynamic) for w in call.args if w.value.startswith("of=")]
            _report(call.name, targets, sink, workspace, call.cwd_moved)
        return
    opts = scan_options(call.args, takes_value=spec.valued, long_values=spec.long_valued)
    targets = list(opts.operands)
    if spec.operands == "target":
        explicit = opts.value("-t", "--target-directory")
        targets = explicit[-1:] if explicit else targets[-1:] if len(targets) >= 2 else []
    elif spec.operands == "after-first":
        targets = targets if opts.value("--reference") else targets[1:]
    if call.name == "mv":
        targets += opts.value("-t", "--target-directory")
    _report(call.name, targets, sink, workspace, call.cwd_moved)


def check_redirects(redirects: tuple[Redirect, ...], sink: Sink, workspace: str, cwd_moved: bool) -> None:
    targets = [r.target for r in redirects if r.op in _WRITE_OPS and r.target is not None and r.heredoc is None]
    _report("redirect", targets, sink, workspace, cwd_moved)


def _report(how: str, targets: list[Word], sink: Sink, workspace: str, cwd_moved: bool) -> None:
    for target in targets:
        if not outside(target, workspace, cwd_moved):
            continue
        if target.dynamic:
            sink.unknown(f"unsandboxed: {how} writes {target.raw}, a path known only at run time")
        else:
            moved = " after changing directory" if cwd_moved and not target.value.startswith(("/", "~")) else ""
            sink.destructive(f"unsandboxed: {how} writes or deletes {target.raw} outside the workspace{moved}")
        return
