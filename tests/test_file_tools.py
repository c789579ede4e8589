"""read_file, write_file and edit_file on real files: the host-side cases of SECURITY-CASES.md."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import socket
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from termagent.config import DEFAULTS, Config
from termagent.tools.base import ToolContext, ToolResult
from termagent.tools.files import EditFile, ReadFile, WriteFile
from termagent.tools.registry import ToolRegistry
from termagent.tools.workspace import ReadLedger

NO_HANG_S = 10


def make_ctx(root: Path, **tools: Any) -> ToolContext:
    data = copy.deepcopy(DEFAULTS)
    data["tools"].update(tools)
    return ToolContext(root=root, ledger=ReadLedger(), config=Config(data))


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


@pytest.fixture
def ctx(ws: Path) -> ToolContext:
    return make_ctx(ws)


REGISTRY = ToolRegistry([ReadFile(), WriteFile(), EditFile()])


async def call(ctx: ToolContext, name: str, **args: Any) -> ToolResult:
    return await asyncio.wait_for(REGISTRY.call(name, args, ctx), NO_HANG_S)


def error(result: ToolResult) -> str:
    assert not result.ok, result.output
    payload = json.loads(result.output)["error"]
    assert payload["type"] == result.error_type
    return str(result.error_type)


# ------------------------------------------------------------------ read_file


async def test_read_numbers_lines_like_cat_n(ws: Path, ctx: ToolContext) -> None:
    (ws / "a.py").write_text("one\ntwo\n\tthree\n")
    result = await call(ctx, "read_file", path="a.py")
    assert result.ok
    assert result.output == "     1\tone\n     2\ttwo\n     3\t\tthree"


async def test_read_window_and_remaining_count(ws: Path, ctx: ToolContext) -> None:
    (ws / "big.txt").write_text("".join(f"line {i}\n" for i in range(1, 101)))
    result = await call(ctx, "read_file", path="big.txt", offset=10, limit=5)
    lines = result.output.splitlines()
    assert lines[0] == "    10\tline 10"
    assert lines[4] == "    14\tline 14"
    assert "86 more lines" in lines[5] and "offset=15" in lines[5]


async def test_read_default_limit_comes_from_config(ws: Path) -> None:
    ctx = make_ctx(ws, read_limit_lines=3)
    (ws / "f.txt").write_text("a\nb\nc\nd\ne\n")
    result = await call(ctx, "read_file", path="f.txt")
    assert result.output.splitlines()[:3] == ["     1\ta", "     2\tb", "     3\tc"]
    assert "2 more lines" in result.output


async def test_read_cuts_very_long_lines(ws: Path, ctx: ToolContext) -> None:
    (ws / "min.js").write_text("x" * 50_000 + "\nshort\n")
    result = await call(ctx, "read_file", path="min.js")
    first, second = result.output.splitlines()
    assert len(first) < 2100 and "line cut: 50000 chars" in first
    assert second == "     2\tshort"


async def test_read_empty_and_past_the_end(ws: Path, ctx: ToolContext) -> None:
    (ws / "empty").write_text("")
    (ws / "two").write_text("a\nb\n")
    assert (await call(ctx, "read_file", path="empty")).output == "(empty file)"
    assert "past the end" in (await call(ctx, "read_file", path="two", offset=9)).output


async def test_binary_file_is_reported_not_dumped(ws: Path, ctx: ToolContext) -> None:
    (ws / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + os.urandom(64))
    result = await call(ctx, "read_file", path="img.png")
    assert error(result) == "binary_file"
    assert "PNG" not in result.output


async def test_missing_file_and_directory(ws: Path, ctx: ToolContext) -> None:
    (ws / "dir").mkdir()
    assert error(await call(ctx, "read_file", path="nope.txt")) == "not_found"
    assert error(await call(ctx, "read_file", path="dir")) == "is_directory"


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/shadow", "/dev/zero", "ok\0/../../etc/passwd"])
async def test_paths_outside_are_refused_by_every_file_tool(ctx: ToolContext, path: str) -> None:
    assert error(await call(ctx, "read_file", path=path)) == "outside_workspace"
    assert error(await call(ctx, "write_file", path=path, content="x")) == "outside_workspace"
    assert error(await call(ctx, "edit_file", path=path, old_string="root", new_string="x")) == "outside_workspace"


async def test_workspace_dotdot_escape_is_refused(ws: Path, ctx: ToolContext) -> None:
    outside = ws.parent / "x"
    assert error(await call(ctx, "write_file", path=f"{ws}/../x", content="pwned")) == "outside_workspace"
    assert not outside.exists()


async def test_symlink_to_a_canary_outside_is_never_followed(ws: Path, ctx: ToolContext, tmp_path: Path) -> None:
    ssh = tmp_path / "home" / ".ssh"
    ssh.mkdir(parents=True)
    canary = ssh / "id_canary"
    canary.write_text("SECRET-KEY\n")
    (ws / "l").symlink_to(canary)
    (ws / "k").symlink_to(ssh)
    for path in ("l", "k/id_canary"):
        read = await call(ctx, "read_file", path=path)
        assert error(read) == "outside_workspace" and "SECRET" not in read.output
        assert error(await call(ctx, "write_file", path=path, content="x")) == "outside_workspace"
        assert (
            error(await call(ctx, "edit_file", path=path, old_string="SECRET", new_string="x")) == "outside_workspace"
        )
    assert error(await call(ctx, "write_file", path="k/new_key", content="x")) == "outside_workspace"
    assert canary.read_text() == "SECRET-KEY\n"
    assert sorted(os.listdir(ssh)) == ["id_canary"]


async def test_fifo_is_refused_without_hanging(ws: Path, ctx: ToolContext) -> None:
    os.mkfifo(ws / "pipe")
    assert error(await call(ctx, "read_file", path="pipe")) == "special_file"
    assert error(await call(ctx, "edit_file", path="pipe", old_string="a", new_string="b")) == "special_file"
    assert error(await call(ctx, "write_file", path="pipe", content="x")) == "special_file"
    assert stat.S_ISFIFO(os.lstat(ws / "pipe").st_mode)


async def test_socket_and_device_are_refused(ws: Path, ctx: ToolContext) -> None:
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(ws / "s"))
        assert error(await call(ctx, "read_file", path="s")) == "special_file"
    finally:
        sock.close()
    try:
        os.mknod(ws / "zero", stat.S_IFCHR | 0o600, os.makedev(1, 5))
    except PermissionError:
        pytest.skip("cannot create a device node here")
    result = await call(ctx, "read_file", path="zero")
    assert error(result) == "special_file" and "device" in result.output


async def test_sparse_5gb_file_is_bounded(ws: Path, ctx: ToolContext) -> None:
    huge = ws / "huge.bin"
    with open(huge, "wb") as handle:
        handle.truncate(5 * 1024**3)
    result = await call(ctx, "read_file", path="huge.bin")
    assert error(result) == "file_too_large" and "offset" in result.output
    assert error(await call(ctx, "read_file", path="huge.bin", offset=1, limit=5)) == "binary_file"
    assert error(await call(ctx, "edit_file", path="huge.bin", old_string="a", new_string="b")) == "file_too_large"


async def test_large_text_file_can_be_read_in_windows_but_not_edited(ws: Path) -> None:
    ctx = make_ctx(ws, max_file_bytes=1000)
    (ws / "log.txt").write_text("".join(f"entry {i:04d}\n" for i in range(1, 501)))
    assert error(await call(ctx, "read_file", path="log.txt")) == "file_too_large"
    window = await call(ctx, "read_file", path="log.txt", offset=250, limit=2)
    assert "   250\tentry 0250\n   251\tentry 0251" in window.output
    assert "offset=252" in window.output
    assert not ctx.ledger.is_known(ws / "log.txt")
    assert (
        error(await call(ctx, "edit_file", path="log.txt", old_string="entry 0250", new_string="x")) == "file_too_large"
    )


# ------------------------------------------------------------------ write_file


async def test_write_creates_parent_dirs_and_reports_a_diff(ws: Path, ctx: ToolContext) -> None:
    result = await call(ctx, "write_file", path="pkg/sub/mod.py", content="x = 1\n")
    assert result.ok and result.changed_paths == ("pkg/sub/mod.py",)
    assert (ws / "pkg" / "sub" / "mod.py").read_text() == "x = 1\n"
    assert "+x = 1" in (result.display or "")
    edit = await call(ctx, "edit_file", path="pkg/sub/mod.py", old_string="x = 1", new_string="x = 2")
    assert edit.ok, "a file the agent wrote counts as read"


async def test_write_over_an_unread_file_is_refused(ws: Path, ctx: ToolContext) -> None:
    (ws / "notes.md").write_text("user's work\n")
    assert error(await call(ctx, "write_file", path="notes.md", content="blind overwrite")) == "stale_read"
    assert (ws / "notes.md").read_text() == "user's work\n"


async def test_write_after_a_user_change_is_refused(ws: Path, ctx: ToolContext) -> None:
    (ws / "notes.md").write_text("v1\n")
    await call(ctx, "read_file", path="notes.md")
    (ws / "notes.md").write_text("v2 by the user\n")
    assert error(await call(ctx, "write_file", path="notes.md", content="agent\n")) == "stale_read"
    assert (ws / "notes.md").read_text() == "v2 by the user\n"


async def test_write_keeps_mode_crlf_and_bom(ws: Path, ctx: ToolContext) -> None:
    script = ws / "run.bat"
    script.write_bytes(b"\xef\xbb\xbf@echo off\r\necho hi\r\n")
    script.chmod(0o755)
    await call(ctx, "read_file", path="run.bat")
    result = await call(ctx, "write_file", path="run.bat", content="@echo off\necho bye\n")
    assert result.ok
    assert script.read_bytes() == b"\xef\xbb\xbf@echo off\r\necho bye\r\n"
    assert stat.S_IMODE(script.stat().st_mode) == 0o755


async def test_write_to_git_metadata_is_refused(ws: Path, ctx: ToolContext) -> None:
    (ws / ".git" / "hooks").mkdir(parents=True)
    result = await call(ctx, "write_file", path=".git/hooks/pre-commit", content="#!/bin/sh\ntouch /tmp/x\n")
    assert error(result) == "protected_path"
    assert not (ws / ".git" / "hooks" / "pre-commit").exists()


async def test_before_change_hook_runs_before_the_write(ws: Path) -> None:
    ctx = make_ctx(ws)
    seen: list[tuple[str, str]] = []

    async def checkpoint(rel: str) -> None:
        seen.append((rel, (ws / rel).read_text()))

    ctx.before_change = checkpoint
    (ws / "f.txt").write_text("old\n")
    await call(ctx, "read_file", path="f.txt")
    await call(ctx, "edit_file", path="f.txt", old_string="old", new_string="new")
    await call(ctx, "write_file", path="f.txt", content="newer\n")
    assert seen == [("f.txt", "old\n"), ("f.txt", "new\n")]


# ------------------------------------------------------------------ edit_file


async def test_edit_requires_a_read_and_refuses_after_user_edit(ws: Path, ctx: ToolContext) -> None:
    target = ws / "app.py"
    target.write_text("value = 1\n")
    result = await call(ctx, "edit_file", path="app.py", old_string="1", new_string="2")
    assert error(result) == "stale_read" and "read" in result.output
    await call(ctx, "read_file", path="app.py")
    target.write_text("value = 3\n")  # the person saves in their editor
    result = await call(ctx, "edit_file", path="app.py", old_string="value", new_string="answer")
    assert error(result) == "stale_read" and "changed since you last read it" in result.output
    assert target.read_text() == "value = 3\n"


async def test_edit_after_forget_needs_a_fresh_read(ws: Path, ctx: ToolContext) -> None:
    (ws / "a.txt").write_text("a\n")
    await call(ctx, "read_file", path="a.txt")
    ctx.ledger.forget(ws / "a.txt")
    assert error(await call(ctx, "edit_file", path="a.txt", old_string="a", new_string="b")) == "stale_read"


async def test_ambiguous_old_string_is_refused_with_line_numbers(ws: Path, ctx: ToolContext) -> None:
    target = ws / "m.py"
    target.write_text("x = 0\nprint(x)\ny = 1\nprint(x)\n")
    await call(ctx, "read_file", path="m.py")
    result = await call(ctx, "edit_file", path="m.py", old_string="print(x)", new_string="print(y)")
    assert error(result) == "ambiguous_match"
    assert "2 times" in result.output and "lines 2, 4" in result.output
    assert target.read_text() == "x = 0\nprint(x)\ny = 1\nprint(x)\n"
    result = await call(ctx, "edit_file", path="m.py", old_string="print(x)", new_string="print(y)", replace_all=True)
    assert result.ok and "2 occurrences" in result.output
    assert target.read_text() == "x = 0\nprint(y)\ny = 1\nprint(y)\n"


async def test_edit_result_shows_numbered_snippet_and_diff(ws: Path, ctx: ToolContext) -> None:
    (ws / "s.py").write_text("".join(f"l{i}\n" for i in range(1, 21)))
    await call(ctx, "read_file", path="s.py")
    result = await call(ctx, "edit_file", path="s.py", old_string="l10\n", new_string="ten\n")
    assert "    10\tten" in result.output and "     7\tl7" in result.output
    assert "-l10" in (result.display or "") and "+ten" in (result.display or "")
    assert result.changed_paths == ("s.py",)


async def test_no_match_hints(ws: Path, ctx: ToolContext) -> None:
    (ws / "h.py").write_text("def f():\n\treturn 1\n")
    await call(ctx, "read_file", path="h.py")
    spaces = await call(ctx, "edit_file", path="h.py", old_string="def f():\n    return 1", new_string="x")
    assert error(spaces) == "no_match" and "whitespace" in spaces.output and "1-2" in spaces.output
    prefixed = await call(ctx, "edit_file", path="h.py", old_string="     2\t\treturn 1", new_string="x")
    assert "line-number" in prefixed.output
    close = await call(ctx, "edit_file", path="h.py", old_string="def g():", new_string="x")
    assert "closest line is 1" in close.output


async def test_edit_keeps_crlf_line_endings(ws: Path, ctx: ToolContext) -> None:
    target = ws / "win.txt"
    target.write_bytes(b"alpha\r\nbeta\r\ngamma\r\n")
    read = await call(ctx, "read_file", path="win.txt")
    assert "\r" not in read.output
    result = await call(ctx, "edit_file", path="win.txt", old_string="alpha\nbeta", new_string="one\ntwo\nthree")
    assert result.ok
    assert target.read_bytes() == b"one\r\ntwo\r\nthree\r\ngamma\r\n"


async def test_edit_keeps_bom_latin1_and_trailing_newline_state(ws: Path, ctx: ToolContext) -> None:
    bom = ws / "bom.txt"
    bom.write_bytes(b"\xef\xbb\xbfcaf\xc3\xa9")
    latin = ws / "latin.txt"
    latin.write_bytes(b"caf\xe9 cr\xe8me\n")
    for name in ("bom.txt", "latin.txt"):
        await call(ctx, "read_file", path=name)
    assert (await call(ctx, "edit_file", path="bom.txt", old_string="café", new_string="thé")).ok
    assert bom.read_bytes() == b"\xef\xbb\xbfth\xc3\xa9"
    assert (await call(ctx, "edit_file", path="latin.txt", old_string="crème", new_string="brûlée")).ok
    assert latin.read_bytes() == b"caf\xe9 br\xfbl\xe9e\n"
    bad = await call(ctx, "edit_file", path="latin.txt", old_string="café", new_string="€")
    assert error(bad) == "encoding_error"
    assert latin.read_bytes() == b"caf\xe9 br\xfbl\xe9e\n"


async def test_edit_keeps_utf16(ws: Path, ctx: ToolContext) -> None:
    target = ws / "u16.txt"
    target.write_bytes("\ufeffhello world\r\n".encode("utf-16-le"))
    await call(ctx, "read_file", path="u16.txt")
    assert (await call(ctx, "edit_file", path="u16.txt", old_string="world", new_string="there")).ok
    assert target.read_bytes() == "\ufeffhello there\r\n".encode("utf-16-le")


async def test_edit_keeps_the_exec_bit(ws: Path, ctx: ToolContext) -> None:
    script = ws / "deploy.sh"
    script.write_text("#!/bin/sh\necho old\n")
    script.chmod(0o750)
    await call(ctx, "read_file", path="deploy.sh")
    assert (await call(ctx, "edit_file", path="deploy.sh", old_string="old", new_string="new")).ok
    assert stat.S_IMODE(script.stat().st_mode) == 0o750
    assert script.read_text() == "#!/bin/sh\necho new\n"


async def test_edit_through_an_inside_symlink_changes_the_target(ws: Path, ctx: ToolContext) -> None:
    (ws / "real.txt").write_text("value: 1\n")
    (ws / "link.txt").symlink_to("real.txt")
    await call(ctx, "read_file", path="link.txt")
    result = await call(ctx, "edit_file", path="link.txt", old_string="1", new_string="2")
    assert result.ok and result.changed_paths == ("real.txt",)
    assert (ws / "link.txt").is_symlink()
    assert (ws / "real.txt").read_text() == "value: 2\n"


async def test_edit_of_missing_file_points_to_write_file(ctx: ToolContext) -> None:
    result = await call(ctx, "edit_file", path="new.txt", old_string="a", new_string="b")
    assert error(result) == "not_found" and "write_file" in result.output


async def test_readers_see_old_or_new_content_never_a_mix(ws: Path, ctx: ToolContext) -> None:
    size = 2_000_000
    target = ws / "data.txt"
    target.write_text("A" * size)
    stop = threading.Event()
    seen: set[str] = set()

    def reader() -> None:
        while not stop.is_set():
            with open(target, "rb") as handle:
                data = handle.read()
            kinds = set(data)
            seen.add("ok" if len(data) == size and len(kinds) == 1 else f"torn:{len(data)}:{sorted(kinds)}")

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        edit = EditFile()
        for i in range(6):
            old, new = ("A", "B") if i % 2 == 0 else ("B", "A")
            await ReadFile().run({"path": "data.txt", "offset": 1, "limit": 1}, ctx)
            await edit.run({"path": "data.txt", "old_string": old * size, "new_string": new * size}, ctx)
    finally:
        stop.set()
        thread.join()
    assert seen == {"ok"}
    assert not [p for p in os.listdir(ws) if "termagent-tmp" in p], "temp files cleaned up"


async def test_unencodable_content_is_a_tool_error(ws: Path, ctx: ToolContext) -> None:
    result = await call(ctx, "write_file", path="bad.txt", content="lone \ud800 surrogate")
    assert error(result) == "encoding_error"
    assert not (ws / "bad.txt").exists()
