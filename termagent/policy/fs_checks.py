"""Checks for programs that delete, overwrite or mass-modify files, and for kill.

Each check reads one invocation and reports to the sink. The one exception to "recursive
delete is destructive" is a build directory named by a plain relative path inside the
workspace (`rm -rf node_modules`, `rm -rf ./pkg/dist`): re-creatable, and the path itself
shows it cannot reach home, the root or outside the workspace.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re

from termagent.policy.calls import Call, Sink, normalized, report_hidden, scan_options
from termagent.policy.protected import protected_reason
from termagent.policy.shell_parse import Redirect, Word

BUILD_DIRS = frozenset({"node_modules", "build", "dist", "target", "__pycache__", ".pytest_cache", ".venv"})
ALWAYS = {
    "dd": "dd writes raw blocks over its output",
    "shred": "shred destroys file contents",
    "srm": "srm destroys file contents",
    "truncate": "truncate cuts files to a size",
    "wipefs": "wipefs erases file system signatures",
    "mkswap": "mkswap formats a device",
    "mke2fs": "mke2fs formats a device",
    "fdisk": "fdisk rewrites partition tables",
    "sfdisk": "sfdisk rewrites partition tables",
    "parted": "parted rewrites partition tables",
    "blkdiscard": "blkdiscard discards every block of a device",
}
_FIND_WRITERS = frozenset({"-fprint", "-fprint0", "-fprintf", "-fls"})
_SINKS = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty"})
_TRUNCATING = frozenset({">", ">|", "&>", ">&"})
_APPENDING = frozenset({">>", "&>>"})
_GLOB = frozenset("*?[")
_PLAIN_PATH = re.compile(r"[A-Za-z0-9._@+/-]+")


_INFO_ONLY = frozenset({"--help", "-h", "--version", "-V", "--usage", "-?"})
_DRY_RUN = {"mke2fs": "-n", "mkfs.ext2": "-n", "mkfs.ext3": "-n", "mkfs.ext4": "-n", "mkfs.xfs": "-N",
            "mkfs.btrfs": "--dry-run"}


def check_always(call: Call, sink: Sink) -> None:
    reason = ALWAYS.get(call.name) or (f"{call.name} formats a device" if call.name.startswith("mkfs") else None)
    if reason and not _harmless_invocation(call):
        sink.destructive(reason)


def _harmless_invocation(call: Call) -> bool:
    """`mkfs.ext4 --help`, `mke2fs -V`, `mke2fs -n /dev/x` (dry run) print and change nothing."""
    values = [word.value for word in call.args]
    if any(word.dynamic for word in call.args) or not values:
        return False
    if all(value in _INFO_ONLY for value in values):
        return True
    dry = _DRY_RUN.get(call.name)
    return dry is not None and dry in values


def check_rm(call: Call, sink: Sink) -> None:
    opts = scan_options(call.args)
    if opts.has("--no-preserve-root"):
        sink.destructive("rm --no-preserve-root")
    if call.via:
        sink.destructive(f"{call.via} rm deletes whatever paths arrive at run time")
        return
    if not opts.has("-r", "-R", "--recursive"):
        report_hidden(opts, sink, "rm", "-r")
        for target in opts.operands:
            if _wipes_directory(target):
                sink.destructive(f"rm {target.raw} deletes every file there")
        return
    risky = [target.raw for target in opts.operands if call.cwd_moved or not _build_dir(target)]
    if risky:
        moved = " after changing directory" if call.cwd_moved else ""
        sink.destructive(f"recursive delete of {', '.join(dict.fromkeys(risky))}{moved}")


def check_cd(call: Call, sink: Sink) -> None:
    """Leaving the workspace (`cd /`, `cd ~`, `cd ..`, `cd $X`) ends the build-directory exemption."""
    targets = [word for word in call.args if not word.value.startswith("-")]
    if not targets or any(not _PLAIN_PATH.fullmatch(w.value) or w.dynamic or ".." in w.value.split("/")
                          or w.value.startswith("/") for w in targets):
        sink.left_workspace()


def check_rimraf(call: Call, sink: Sink) -> None:
    """rimraf is `rm -rf` as a program."""
    recursive = (Word("-rf", "-rf"),)
    check_rm(dataclasses.replace(call, argv=call.argv[:1] + recursive + call.args), sink)


def check_unlink(call: Call, sink: Sink) -> None:
    if call.via:
        sink.destructive(f"{call.via} {call.name} deletes whatever paths arrive at run time")


def _build_dir(target: Word) -> bool:
    """A plain relative path whose last part is a build directory, without a trailing slash.

    The last part must be the build directory itself: were it a symlink planted earlier
    (`ln -s .. build`), `rm -rf build` removes the link, while `build/` or `build/x`
    would follow it.
    """
    value = target.value
    while value.startswith("./"):
        value = value[2:]
    if target.dynamic or not _PLAIN_PATH.fullmatch(value):
        return False
    parts = value.split("/")
    return all(part not in ("", ".", "..") for part in parts) and parts[-1] in BUILD_DIRS


def _wipes_directory(target: Word) -> bool:
    value = target.value
    if posixpath.basename(value) not in ("*", ".*", "*.*"):
        return False
    folder = posixpath.dirname(value)
    return folder in ("", ".", "/", "~") or folder.startswith(("/", "~"))


def check_recursive_owner(call: Call, sink: Sink) -> None:
    """chmod/chown/chgrp -R: one typo away from changing a whole tree."""
    opts = scan_options(call.args)
    if opts.has("-R", "--recursive"):
        sink.destructive(f"{call.name} -R changes a whole tree")
    else:
        report_hidden(opts, sink, call.name, "-R")


def check_find(call: Call, sink: Sink) -> None:
    args = call.args
    index = 0
    while index < len(args):
        value = args[index].value
        if args[index].dynamic:
            sink.unknown(f"find argument {args[index].raw} is known only at run time and could be -delete")
        elif value == "-delete":
            sink.destructive("find -delete deletes every match")
        elif value in _FIND_WRITERS:
            sink.unknown(f"find {value} writes a file it is told to")
        elif value in ("-exec", "-execdir", "-ok", "-okdir"):
            end = index + 1
            while end < len(args) and args[end].value not in (";", "+"):
                end += 1
            inner = tuple(Word(w.value, w.raw, w.dynamic or "{}" in w.value) for w in args[index + 1:end])
            if inner:
                sink.command(Call(inner, call.piped_in, (), (), via=f"find {value}"))
            else:
                sink.unknown(f"find {value} without a command")
            index = end
        index += 1


def check_tee(call: Call, sink: Sink) -> None:
    opts = scan_options(call.args, long_values=frozenset({"--output-error"}))
    for target in opts.operands:
        if opts.has("-a", "--append"):
            check_append(target, sink, "tee -a")
        else:
            check_overwrite(target, sink, "tee")


def check_append(target: Word, sink: Sink, how: str) -> None:
    """Appending keeps what is there, but appending to a git hook or agent config is still a write there."""
    guarded = None if target.dynamic else protected_reason(normalized(target.value))
    if guarded:
        sink.destructive(f"{how} {guarded}")


def check_redirects(redirects: tuple[Redirect, ...], sink: Sink) -> None:
    for redirect in redirects:
        if redirect.op in _TRUNCATING and redirect.target is not None:
            check_overwrite(redirect.target, sink, f"redirect {redirect.op}")
        elif redirect.op in _APPENDING and redirect.target is not None:
            check_append(redirect.target, sink, f"redirect {redirect.op}")
        if redirect.heredoc is not None and redirect.expands and ("$(" in redirect.heredoc or "`" in redirect.heredoc):
            quoted = redirect.heredoc.replace("\\", "\\\\").replace('"', '\\"')
            sink.script(f': "{quoted}"', False, "here-document")


def check_overwrite(target: Word, sink: Sink, how: str) -> None:
    """A write that empties `target` first: harmless for new files and /tmp, destructive otherwise."""
    if target.dynamic:
        sink.unknown(f"{how} writes to a file named at run time ({target.raw})")
        return
    path = target.value
    if path.startswith("~"):
        sink.destructive(f"{how} overwrites {path} in the home directory")
        return
    clean = normalized(path)
    if clean in _SINKS or clean == "/tmp" or clean.startswith(("/dev/fd/", "/tmp/")):
        return
    guarded = protected_reason(clean)
    if guarded:
        sink.destructive(f"{how} {guarded}")
        return
    exists = sink.exists(path)
    if exists:
        sink.destructive(f"{how} truncates existing file {path}")
    elif exists is None and (clean == ".." or clean.startswith(("/", "../"))):
        sink.destructive(f"{how} overwrites {path} outside the workspace")


def check_copy(call: Call, sink: Sink) -> None:
    """cp/mv/install/ln into agent configuration is the same write as a redirect there."""
    opts = scan_options(call.args, takes_value="tSmogb", long_values=frozenset({"--target-directory", "--suffix"}))
    explicit = opts.value("-t", "--target-directory")
    if explicit:
        target, sources = explicit[-1], opts.operands
    elif len(opts.operands) >= 2:
        target, sources = opts.operands[-1], opts.operands[:-1]
    else:
        return
    if target.dynamic:
        return
    candidates = [target.value] + [f"{target.value}/{posixpath.basename(s.value)}" for s in sources]
    guarded = next((reason for path in candidates if (reason := protected_reason(path))), None)
    if guarded:
        sink.destructive(f"{call.name} {guarded}")


def check_xxd(call: Call, sink: Sink) -> None:
    """`xxd [-r] infile outfile` writes outfile."""
    opts = scan_options(call.args, takes_value="cglsoC")
    if len(opts.operands) >= 2:
        check_overwrite(opts.operands[1], sink, "xxd output")


def check_kill(call: Call, sink: Sink) -> None:
    values = [word.value for word in call.args]
    start = 0
    if values and values[0] in ("-s", "-n"):
        start = 2
    elif values and values[0].startswith("-") and values[0] != "--":
        start = 1
    if "-1" in values[start:]:
        sink.destructive(f"{call.name} -1 signals every process")


def check_rsync(call: Call, sink: Sink) -> None:
    opts = scan_options(call.args, takes_value="efT", long_values=frozenset({"--rsh", "--filter", "--exclude"}))
    if any(flag.startswith("--delete") or flag == "--remove-source-files" for flag in opts.flags):
        sink.destructive("rsync --delete removes files at the destination")
    else:
        report_hidden(opts, sink, "rsync", "--delete")
