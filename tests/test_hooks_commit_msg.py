"""commit-msg drafting through real `git commit` runs, and the diff splitter it shares."""

from __future__ import annotations

from pathlib import Path

from termagent.config import DEFAULTS
from termagent.hooks.commit_msg import clean_draft, diff_for_prompt, needs_draft
from termagent.hooks.diffsplit import CONTINUED, make_chunks
from termagent.testing.scripted_server import ScriptedServer, reply, text
from tests.hooks_support import (
    first_user_text,
    git,
    make_repo,
    model_env,
    write_user_config,
)

DRAFT = "feat(parser): accept tabs as separators\n\nThe tokenizer treated tabs as part of a word."


def test_empty_message_gets_a_drafted_one(tmp_path: Path, scripted_server: ScriptedServer) -> None:
    write_user_config()
    repo = make_repo(tmp_path / "repo", hooks=("commit-msg",))
    (repo / "parser.py").write_text("SEPARATORS = ' \\t'\n")
    git(repo, "add", "parser.py")
    scripted_server.add(reply(text("```\n" + DRAFT + "\n```")))
    git(repo, "commit", env=model_env(scripted_server.url))  # GIT_EDITOR=true: only git's comment template
    assert git(repo, "log", "-1", "--format=%B").stdout.strip() == DRAFT
    assert "SEPARATORS" in first_user_text(scripted_server.requests[0].body)
    assert scripted_server.requests[0].body["model"] == DEFAULTS["model"]["review"]


def test_placeholder_message_is_replaced(tmp_path: Path, scripted_server: ScriptedServer) -> None:
    write_user_config()
    repo = make_repo(tmp_path / "repo", hooks=("commit-msg",))
    (repo / "a.py").write_text("A = 1\n")
    git(repo, "add", "a.py")
    scripted_server.add(reply(text("chore: add a")))
    git(repo, "commit", "-m", "wip", env=model_env(scripted_server.url))
    assert git(repo, "log", "-1", "--format=%B").stdout.strip() == "chore: add a"


def test_a_real_message_is_left_alone(tmp_path: Path, scripted_server: ScriptedServer) -> None:
    write_user_config()
    repo = make_repo(tmp_path / "repo", hooks=("commit-msg",))
    (repo / "a.py").write_text("A = 1\n")
    git(repo, "add", "a.py")
    git(repo, "commit", "-m", "Add the A constant", env=model_env(scripted_server.url))
    assert git(repo, "log", "-1", "--format=%B").stdout.strip() == "Add the A constant"
    assert scripted_server.requests == []


def test_model_down_leaves_the_empty_message_for_git_to_refuse(tmp_path: Path) -> None:
    write_user_config()
    repo = make_repo(tmp_path / "repo", hooks=("commit-msg",))
    (repo / "a.py").write_text("A = 1\n")
    git(repo, "add", "a.py")
    proc = git(repo, "commit", env=model_env("http://127.0.0.1:9"), check=False)
    assert "commit-msg hook skipped" in proc.stderr
    assert proc.returncode != 0 and "empty commit message" in proc.stderr


def test_message_classification() -> None:
    template = "\n# Please enter the commit message for your changes.\n#\n# On branch main\n"
    assert needs_draft(template)
    assert needs_draft("WIP\n" + template)
    assert needs_draft(";\n; comment\n".replace(";\n", "", 1), ";")
    assert not needs_draft("Fix the race in the cache\n" + template)
    verbose = "\n# comment\n# ------------------------ >8 ------------------------\ndiff --git a/x b/x\n"
    assert needs_draft(verbose)
    assert clean_draft("```text\nfix: x\n```") == "fix: x"


def test_a_huge_diff_is_abbreviated_for_the_message_and_says_so() -> None:
    diff = "".join(f"diff --git a/f{i} b/f{i}\n--- a/f{i}\n+++ b/f{i}\n@@ -1 +1 @@\n" + "+x\n" * 5000
                   for i in range(4))
    shown = diff_for_prompt(diff, " 4 files changed")
    assert len(shown) < len(diff) and "too long to show whole" in shown and "4 files changed" in shown
    assert all(f"+++ b/f{i}" in shown for i in range(4))


def test_chunks_keep_every_line_in_order() -> None:
    big_hunk = "@@ -1,3000 +1,3000 @@\n" + "".join(f"+line {n}\n" for n in range(3000))
    diff = ("diff --git a/small.py b/small.py\n--- a/small.py\n+++ b/small.py\n@@ -1 +1 @@\n-a\n+b\n"
            "diff --git a/huge.py b/huge.py\n--- a/huge.py\n+++ b/huge.py\n" + big_hunk
            + "@@ -5000 +5000 @@\n-old\n+new\n"
            "diff --git a/gone.txt b/gone.txt\ndeleted file mode 100644\n--- a/gone.txt\n+++ /dev/null\n"
            "@@ -1 +0,0 @@\n-bye\n")
    chunks = make_chunks(diff, limit=5000)
    assert len(chunks) > 3
    assert all(len(chunk.text) <= 5000 + 200 for chunk in chunks)
    body = [line for chunk in chunks for line in chunk.text.splitlines(keepends=True)
            if line != CONTINUED and not line.startswith(("diff --git a/huge", "--- a/huge", "+++ b/huge"))]
    expected = [line for line in diff.splitlines(keepends=True)
                if not line.startswith(("diff --git a/huge", "--- a/huge", "+++ b/huge"))]
    assert body == expected
    assert chunks[0].files == ("small.py",)
    assert "huge.py, part 1 of" in chunks[1].label
    assert chunks[-1].files == ("gone.txt",)
    assert all("+++ b/huge.py" in chunk.text for chunk in chunks if chunk.files == ("huge.py",))
