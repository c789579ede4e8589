"""pre-commit review and hook installation, through real `git commit` runs of the installed
hook scripts (this venv's python) against the scripted model server."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from termagent.hooks.install import BACKUP_SUFFIX, install, uninstall
from termagent.testing.scripted_server import ScriptedServer, reply, text, tool_use
from termagent.testing.steps import fault
from tests.hooks_support import (
    base_env,
    closed_port_url,
    first_user_text,
    git,
    head,
    make_repo,
    model_env,
    write_user_config,
)


def verdict(value: str, *findings: dict) -> dict:
    return reply(tool_use("submit_review", {"verdict": value, "findings": list(findings)}))


def stage(repo: Path, name: str, content: str) -> None:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    git(repo, "add", name)


def test_pass_lets_the_commit_through(tmp_path: Path, scripted_server: ScriptedServer) -> None:
    write_user_config()
    repo = make_repo(tmp_path / "repo")
    stage(repo, "app.py", "def add(a, b):\n    return a + b\n")
    scripted_server.add(verdict("pass", {"file": "app.py", "line": 1, "severity": "info", "message": "fine"}))
    proc = git(repo, "commit", "-m", "add app", env=model_env(scripted_server.url))
    assert "app.py:1: info: fine" in proc.stderr
    assert git(repo, "log", "-1", "--format=%s").stdout.strip() == "add app"
    request = scripted_server.requests[0].body
    assert [t["name"] for t in request["tools"]] == ["submit_review"]
    assert "return a + b" in first_user_text(request)


def test_block_fails_the_commit_and_prints_findings(tmp_path: Path, scripted_server: ScriptedServer) -> None:
    write_user_config()
    repo = make_repo(tmp_path / "repo")
    before = head(repo)
    stage(repo, "app.py", "import os\nos.system(input())\n")
    scripted_server.add(verdict(
        "block",
        {"file": "app.py", "line": 2, "severity": "error", "message": "runs user input as a shell command"},
        {"file": "app.py", "severity": "warning", "message": "no tests"},
    ))
    proc = git(repo, "commit", "-m", "add app", env=model_env(scripted_server.url), check=False)
    assert proc.returncode == 1
    assert "app.py:2: error: runs user input as a shell command" in proc.stderr
    assert "app.py: warning: no tests" in proc.stderr
    assert "commit blocked" in proc.stderr
    assert head(repo) == before


def test_review_sees_the_staged_content_not_the_working_tree(tmp_path: Path,
                                                             scripted_server: ScriptedServer) -> None:
    write_user_config()
    repo = make_repo(tmp_path / "repo")
    stage(repo, "conf.py", "VALUE = 'STAGED_VERSION'\n")
    (repo / "conf.py").write_text("VALUE = 'UNSTAGED_VERSION'\n")
    scripted_server.add(verdict("pass"))
    git(repo, "commit", "-m", "conf", env=model_env(scripted_server.url))
    sent = first_user_text(scripted_server.requests[0].body)
    assert "STAGED_VERSION" in sent and "UNSTAGED_VERSION" not in sent


def test_commit_all_reviews_what_git_is_about_to_commit(tmp_path: Path, scripted_server: ScriptedServer) -> None:
    """`git commit -a` stages into a temporary index (GIT_INDEX_FILE); the review must read it."""
    write_user_config()
    repo = make_repo(tmp_path / "repo")
    (repo / "README.md").write_text("demo\nEDITED_WITHOUT_ADD\n")
    scripted_server.add(verdict("pass"))
    git(repo, "commit", "-a", "-m", "edit", env=model_env(scripted_server.url))
    assert "EDITED_WITHOUT_ADD" in first_user_text(scripted_server.requests[0].body)


def test_model_down_fails_open_with_one_warning_line(tmp_path: Path) -> None:
    write_user_config()
    repo = make_repo(tmp_path / "repo")
    stage(repo, "a.txt", "a\n")
    proc = git(repo, "commit", "-m", "a", env=model_env(closed_port_url()))
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "pre-commit hook skipped" in warnings[0]
    assert git(repo, "log", "-1", "--format=%s").stdout.strip() == "a"


def test_model_down_fails_closed_when_configured(tmp_path: Path) -> None:
    write_user_config("[hooks]\nfail_closed = true\n")
    repo = make_repo(tmp_path / "repo")
    before = head(repo)
    stage(repo, "a.txt", "a\n")
    proc = git(repo, "commit", "-m", "a", env=model_env(closed_port_url()), check=False)
    assert proc.returncode == 1
    assert "blocked" in proc.stderr and "fail_closed" in proc.stderr
    assert head(repo) == before


def test_no_credentials_fails_open(tmp_path: Path) -> None:
    write_user_config()
    repo = make_repo(tmp_path / "repo")
    stage(repo, "a.txt", "a\n")
    proc = git(repo, "commit", "-m", "a", env=base_env())
    assert "no model credentials" in proc.stderr
    assert git(repo, "log", "-1", "--format=%s").stdout.strip() == "a"


def test_skip_variable_skips_without_calling_the_model(tmp_path: Path, scripted_server: ScriptedServer) -> None:
    write_user_config("[hooks]\nfail_closed = true\n")
    repo = make_repo(tmp_path / "repo")
    stage(repo, "a.txt", "a\n")
    proc = git(repo, "commit", "-m", "a", env=model_env(scripted_server.url, TERMAGENT_SKIP_HOOKS="1"))
    assert "skipped" in proc.stderr
    assert scripted_server.requests == []
    assert git(repo, "log", "-1", "--format=%s").stdout.strip() == "a"


def test_a_reviewer_that_answers_in_prose_is_reminded_once(tmp_path: Path,
                                                          scripted_server: ScriptedServer) -> None:
    write_user_config()
    repo = make_repo(tmp_path / "repo")
    stage(repo, "a.py", "x = 1\n")
    scripted_server.add(reply(text("Looks good to me.")), verdict("pass"))
    git(repo, "commit", "-m", "a", env=model_env(scripted_server.url))
    assert len(scripted_server.requests) == 2
    assert "submit_review" in str(scripted_server.requests[1].body["messages"][-1])


def test_large_diffs_are_reviewed_in_chunks_and_one_block_blocks(tmp_path: Path,
                                                                 scripted_server: ScriptedServer) -> None:
    write_user_config()
    repo = make_repo(tmp_path / "repo")
    before = head(repo)
    for i in range(3):
        stage(repo, f"big{i}.py", "".join(f"LINE_{i}_{n} = {n}\n" for n in range(2500)))
    scripted_server.add_spare(*[verdict("pass") for _ in range(20)])
    scripted_server.responder = lambda request: (
        verdict("block", {"file": "big2.py", "line": 2500, "severity": "error", "message": "bad end"})
        if "LINE_2_2499 = 2499" in first_user_text(request.body) else None)
    proc = git(repo, "commit", "-m", "big", env=model_env(scripted_server.url), check=False)
    sent = "".join(first_user_text(r.body) for r in scripted_server.requests)
    assert len(scripted_server.requests) > 3
    assert all(f"LINE_{i}_{n} = {n}" in sent for i in range(3) for n in (0, 1234, 2499))
    assert proc.returncode == 1 and "big2.py:2500: error: bad end" in proc.stderr
    assert head(repo) == before


def test_runs_in_a_worktree_and_from_a_subdirectory(tmp_path: Path, scripted_server: ScriptedServer) -> None:
    write_user_config()
    repo = make_repo(tmp_path / "repo")
    git(repo, "worktree", "add", "-q", "-b", "feature", str(tmp_path / "wt"))
    worktree = tmp_path / "wt"
    stage(worktree, "pkg/deep/mod.py", "WORKTREE_CHANGE = 1\n")
    scripted_server.add(verdict("pass"))
    git(worktree / "pkg" / "deep", "commit", "-m", "from a worktree subdir", env=model_env(scripted_server.url))
    assert "WORKTREE_CHANGE" in first_user_text(scripted_server.requests[0].body)
    assert git(worktree, "log", "-1", "--format=%s").stdout.strip() == "from a worktree subdir"


def test_existing_hook_is_kept_and_restored(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", hooks=())
    mine = repo / ".git" / "hooks" / "pre-commit"
    mine.write_text("#!/bin/sh\necho my own hook\n")
    mine.chmod(0o755)
    changes = install(repo, ("pre-commit",))
    assert changes[0].action == "refused" and mine.read_text() == "#!/bin/sh\necho my own hook\n"
    changes = install(repo, ("pre-commit",), force=True)
    assert changes[0].action == "replaced"
    backup = mine.with_name("pre-commit" + BACKUP_SUFFIX)
    assert backup.read_text() == "#!/bin/sh\necho my own hook\n"
    assert "termagent hook run pre-commit" in mine.read_text()
    assert install(repo, ("pre-commit",))[0].action == "updated"
    changes = uninstall(repo, ("pre-commit",))
    assert changes[0].action == "restored"
    assert mine.read_text() == "#!/bin/sh\necho my own hook\n" and not backup.exists()
    assert mine.stat().st_mode & stat.S_IXUSR
    assert uninstall(repo, ("pre-commit",))[0].action == "foreign"


def test_core_hooks_path_is_respected(tmp_path: Path, scripted_server: ScriptedServer) -> None:
    write_user_config()
    repo = make_repo(tmp_path / "repo", hooks=())
    git(repo, "config", "core.hooksPath", ".githooks")
    install(repo, ("pre-commit",))
    assert (repo / ".githooks" / "pre-commit").is_file()
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    stage(repo, "a.py", "HOOKS_PATH_CHANGE = 1\n")
    scripted_server.add(verdict("pass"))
    git(repo, "commit", "-m", "a", env=model_env(scripted_server.url))
    assert "HOOKS_PATH_CHANGE" in first_user_text(scripted_server.requests[0].body)


def test_hook_script_runs_this_python_without_the_repository_on_sys_path(tmp_path: Path) -> None:
    """A repository that ships its own `termagent/` package must not replace the real one."""
    write_user_config()
    repo = make_repo(tmp_path / "repo")
    fake = repo / "termagent"
    fake.mkdir()
    marker = tmp_path / "fake-ran"
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    stage(repo, "a.txt", "a\n")
    proc = git(repo, "commit", "-m", "a", env=base_env())
    assert not marker.exists()
    assert "no model credentials" in proc.stderr  # the real termagent ran


def test_a_slow_model_is_cut_off_by_the_time_bound(tmp_path: Path) -> None:
    write_user_config("[hooks]\ntimeout_s = 1.0\n")
    repo = make_repo(tmp_path / "repo")
    stage(repo, "a.txt", "a\n")
    with ScriptedServer([verdict("block")], chunk_delay_s=3.0) as slow:
        proc = git(repo, "commit", "-m", "a", env=model_env(slow.url))
    assert "no answer within 1 s" in proc.stderr
    assert git(repo, "log", "-1", "--format=%s").stdout.strip() == "a"


def test_cli_installs_and_uninstalls(tmp_path: Path, monkeypatch) -> None:
    from termagent.cli import main

    repo = make_repo(tmp_path / "repo", hooks=())
    monkeypatch.chdir(repo / ".git")
    assert main(["-C", str(repo), "hooks", "install", "pre-commit", "pre-push"]) == 0
    assert {p.name for p in (repo / ".git" / "hooks").iterdir() if not p.name.endswith(".sample")} == {
        "pre-commit", "pre-push"}
    assert main(["-C", str(repo), "hooks", "install", "post-merge"]) == 2
    assert main(["-C", str(repo), "hooks", "uninstall"]) == 0
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()


def stage_two_chunks(repo: Path) -> None:
    """A secret in one file and a big clean file: together over the chunk size, so two chunks."""
    stage(repo, "secret.py", "TOKEN = 'hunter2'\n" + "".join(f"S_{n} = {n}  # " + "s" * 60 + "\n" for n in range(200)))
    stage(repo, "clean.py", "".join(f"C_{n} = {n}  # " + "c" * 60 + "\n" for n in range(400)))


def block_secret(other: object) -> object:
    block = verdict("block", {"file": "secret.py", "line": 1, "severity": "error", "message": "hard-coded token"})
    return lambda request: block if "TOKEN = 'hunter2'" in first_user_text(request.body) else other


def test_a_block_stands_when_another_chunk_fails(tmp_path: Path, scripted_server: ScriptedServer) -> None:
    write_user_config()
    repo = make_repo(tmp_path / "repo")
    before = head(repo)
    stage_two_chunks(repo)
    scripted_server.responder = block_secret(fault(529))
    proc = git(repo, "commit", "-m", "two", env=model_env(scripted_server.url), check=False)
    assert any("C_0 = 0" in first_user_text(r.body) for r in scripted_server.requests)
    assert proc.returncode == 1 and "secret.py:1: error: hard-coded token" in proc.stderr
    assert head(repo) == before


def test_a_block_stands_when_the_time_bound_cuts_off_another_chunk(tmp_path: Path,
                                                                  scripted_server: ScriptedServer) -> None:
    # The bound must outlast the hook's own start and the first chunk's answer on a loaded machine;
    # the second chunk is held until the bound cuts it off, however long that is.
    write_user_config("[hooks]\ntimeout_s = 20.0\n")
    repo = make_repo(tmp_path / "repo")
    before = head(repo)
    stage_two_chunks(repo)
    release = threading.Event()
    stall = block_secret(None)
    scripted_server.responder = lambda request: stall(request) or (release.wait(60) and verdict("pass"))
    try:
        proc = git(repo, "commit", "-m", "two", env=model_env(scripted_server.url), check=False)
    finally:
        release.set()
    assert proc.returncode == 1 and "secret.py:1: error: hard-coded token" in proc.stderr
    assert head(repo) == before


def test_runs_for_a_bare_repository_with_a_separate_work_tree(tmp_path: Path,
                                                              scripted_server: ScriptedServer) -> None:
    write_user_config()
    seed = make_repo(tmp_path / "seed")
    bare, home = tmp_path / "dotfiles.git", tmp_path / "home"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    home.mkdir()
    (bare / "hooks" / "pre-commit").write_bytes((seed / ".git" / "hooks" / "pre-commit").read_bytes())
    (bare / "hooks" / "pre-commit").chmod(0o755)
    dot = ("--git-dir", str(bare), "--work-tree", str(home))
    (home / ".bashrc").write_text("export DOTFILES_CHANGE=1\n")
    git(home, *dot, "add", ".bashrc")
    scripted_server.add(verdict("pass"))
    proc = git(home, *dot, "commit", "-m", "bashrc", env=model_env(scripted_server.url), check=False)
    assert proc.returncode == 0, proc.stderr
    assert "DOTFILES_CHANGE" in first_user_text(scripted_server.requests[0].body)
    assert git(home, *dot, "log", "-1", "--format=%s").stdout.strip() == "bashrc"


def test_a_broken_config_fails_open_like_any_other_setup_failure(tmp_path: Path) -> None:
    write_user_config()
    repo = make_repo(tmp_path / "repo")
    Path(os.environ["TERMAGENT_CONFIG_DIR"], "config.toml").write_text("[hooks\nbroken = \n")
    stage(repo, "a.txt", "a\n")
    proc = git(repo, "commit", "-m", "a", env=base_env())
    assert "pre-commit hook skipped" in proc.stderr
    assert git(repo, "log", "-1", "--format=%s").stdout.strip() == "a"
