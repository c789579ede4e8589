"""list_files and grep over real trees: .gitignore in git repos and plain dirs, caps, symlinks."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from termagent.config import DEFAULTS, Config
from termagent.tools.base import ToolContext, ToolResult
from termagent.tools.ignore import compile_glob
from termagent.tools.registry import ToolRegistry
from termagent.tools.search import Grep, ListFiles
from termagent.tools.workspace import ReadLedger

REGISTRY = ToolRegistry([ListFiles(), Grep()])


def make_ctx(root: Path, **tools: Any) -> ToolContext:
    data = copy.deepcopy(DEFAULTS)
    data["tools"].update(tools)
    return ToolContext(root=root, ledger=ReadLedger(), config=Config(data))


async def call(ctx: ToolContext, name: str, **args: Any) -> ToolResult:
    return await REGISTRY.call(name, args, ctx)


def build_tree(root: Path) -> None:
    files = {
        ".gitignore": "*.log\nbuild/\n!keep.log\n",
        "src/app.py": "import os\nTODO = 'fix me'\n",
        "src/util.py": "def helper():\n    return 42\n",
        "src/web/page.ts": "// TODO: style\n",
        "src/web/page.tsx": "export {}\n",
        "src/web/.gitignore": "generated.ts\n",
        "src/web/generated.ts": "// TODO generated\n",
        "debug.log": "TODO in a log\n",
        "keep.log": "TODO kept\n",
        "build/out.py": "TODO = 'built'\n",
        "docs/readme.md": "nothing to do here\n",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


@pytest.fixture(params=["git", "plain"])
def tree(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    build_tree(root)
    if request.param == "git":
        git(root, "init", "-q")
        git(root, "add", "src/app.py")  # one tracked, the rest untracked: both must be listed
    return root


VISIBLE = [
    ".gitignore",
    "docs/readme.md",
    "keep.log",
    "src/app.py",
    "src/util.py",
    "src/web/.gitignore",
    "src/web/page.ts",
    "src/web/page.tsx",
]


async def test_list_files_respects_gitignore(tree: Path) -> None:
    result = await call(make_ctx(tree), "list_files")
    assert result.output.splitlines() == VISIBLE


async def test_list_files_pattern_and_path(tree: Path) -> None:
    ctx = make_ctx(tree)
    assert (await call(ctx, "list_files", pattern="*.py")).output.splitlines() == ["src/app.py", "src/util.py"]
    assert (await call(ctx, "list_files", pattern="src/**/*.ts")).output.splitlines() == ["src/web/page.ts"]
    assert (await call(ctx, "list_files", pattern="*.{ts,tsx}", path="src/web")).output.splitlines() == [
        "src/web/page.ts",
        "src/web/page.tsx",
    ]
    assert (await call(ctx, "list_files", pattern="web/*", path="src")).output.splitlines() == [
        "src/web/.gitignore",
        "src/web/page.ts",
        "src/web/page.tsx",
    ]
    assert "No files" in (await call(ctx, "list_files", pattern="*.rs")).output


async def test_grep_respects_gitignore_and_formats_matches(tree: Path) -> None:
    result = await call(make_ctx(tree), "grep", pattern="TODO")
    assert result.output.splitlines() == [
        "keep.log:1:TODO kept",
        "src/app.py:2:TODO = 'fix me'",
        "src/web/page.ts:1:// TODO: style",
    ]


async def test_grep_glob_path_and_flags(tree: Path) -> None:
    ctx = make_ctx(tree)
    assert (await call(ctx, "grep", pattern="todo", glob="*.py")).output.startswith("No matches")
    assert (await call(ctx, "grep", pattern="(?i)todo", glob="*.py")).output == "src/app.py:2:TODO = 'fix me'"
    assert (await call(ctx, "grep", pattern=r"return \d+", path="src/util.py")).output == "src/util.py:2:    return 42"
    assert (await call(ctx, "grep", pattern="^export", path="src")).output == "src/web/page.tsx:1:export {}"


async def test_grep_invalid_regex_is_a_tool_error(tree: Path) -> None:
    result = await call(make_ctx(tree), "grep", pattern="(unclosed")
    assert not result.ok and result.error_type == "invalid_regex"
    assert "missing )" in json.loads(result.output)["error"]["message"]


async def test_paths_outside_are_refused(tree: Path) -> None:
    ctx = make_ctx(tree)
    for name, args in (("list_files", {"path": "../"}), ("grep", {"pattern": "root", "path": "/etc"})):
        result = await call(ctx, name, **args)
        assert result.error_type == "outside_workspace"


async def test_grep_skips_binary_and_large_files(tmp_path: Path) -> None:
    (tmp_path / "blob.bin").write_bytes(b"needle\0\0\0")
    (tmp_path / "big.txt").write_text("needle\n" * 1000)
    (tmp_path / "small.txt").write_text("a needle\n")
    result = await call(make_ctx(tmp_path, max_file_bytes=1000), "grep", pattern="needle")
    assert result.output.splitlines() == ["small.txt:1:a needle", "(skipped 1 files over the size limit)"]


async def test_grep_never_reads_through_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "home"
    outside.mkdir()
    (outside / "id_canary").write_text("SECRET canary\n")
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "k").symlink_to(outside)
    (ws / "l").symlink_to(outside / "id_canary")
    (ws / "ok.txt").write_text("no secret here\n")
    ctx = make_ctx(ws)
    result = await call(ctx, "grep", pattern="SECRET|secret")
    assert result.output == "ok.txt:1:no secret here"
    listed = (await call(ctx, "list_files")).output.splitlines()
    assert listed == ["k", "l", "ok.txt"]


async def test_grep_caps_matches_and_counts_the_rest(tmp_path: Path) -> None:
    (tmp_path / "many.txt").write_text("hit\n" * 250)
    (tmp_path / "more.txt").write_text("hit\n" * 10)
    result = await call(make_ctx(tmp_path), "grep", pattern="hit")
    lines = result.output.splitlines()
    assert len(lines) == 201
    assert "60 more matches not shown (260 in 2 files)" in lines[-1]


async def test_list_files_caps_at_1000(tmp_path: Path) -> None:
    for i in range(1100):
        (tmp_path / f"f{i:04d}.txt").write_text("")
    lines = (await call(make_ctx(tmp_path), "list_files")).output.splitlines()
    assert len(lines) == 1001 and lines[0] == "f0000.txt"
    assert "100 more files" in lines[-1]


async def test_git_listing_skips_deleted_files(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("a\n")
    (tmp_path / "b.txt").write_text("b\n")
    git(tmp_path, "add", ".")
    (tmp_path / "b.txt").unlink()
    assert (await call(make_ctx(tmp_path), "list_files")).output == "a.txt"


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*.py", "a/b/c.py", True),
        ("*.py", "c.pyc", False),
        ("src/*.py", "src/a.py", True),
        ("src/*.py", "src/x/a.py", False),
        ("src/**/*.py", "src/a.py", True),
        ("src/**/*.py", "src/x/y/a.py", True),
        ("**/test_*.py", "tests/test_a.py", True),
        ("*.{js,ts}", "x/y.ts", True),
        ("file?.txt", "file1.txt", True),
        ("[!a]*.md", "b.md", True),
        ("[!a]*.md", "a.md", False),
    ],
)
def test_glob_semantics(pattern: str, path: str, expected: bool) -> None:
    assert compile_glob(pattern)(path) is expected


@pytest.mark.parametrize(
    "pattern",
    [r"^$", r"^\s*$", r"x$", r"^def", r"a\s+b", r"\bfoo\b", r"o(?=\r?$)", r"(?<=a)b", r"\Aa", r"(?s)a.b", r"", r"\n"],
)
@pytest.mark.parametrize("ending", ["", "\n"])
async def test_grep_matches_exactly_the_lines_a_line_by_line_search_would(
    tmp_path: Path, pattern: str, ending: str
) -> None:
    text = "a b\r\nfoo\n\n  \ndef x\na\nb\nxfoo x\nab\nfoo" + ending
    (tmp_path / "t.txt").write_text(text, newline="")
    regex = re.compile(pattern)
    lines = text.split("\n")[:-1] if ending else text.split("\n")
    expected = [
        f"t.txt:{i}:{line.rstrip(chr(13))}" for i, line in enumerate(lines, 1) if regex.search(line.rstrip("\r"))
    ]
    result = await call(make_ctx(tmp_path), "grep", pattern=pattern)
    got = [] if result.output.startswith("No matches") else result.output.splitlines()
    assert got == expected
