"""The Docker sandbox as a user meets it: commands, cwd, caps, lifecycle, errors."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from termagent.sandbox import open_sandbox
from termagent.sandbox.base import SandboxUnavailable
from termagent.sandbox.docker_backend import DockerSandbox
from termagent.sandbox.docker_settings import LABEL_HOST, LABEL_PID, LABEL_PIDNS, LABEL_SESSION, limits_from_config
from termagent.sandbox.image import recipe_hash, sandbox_status
from termagent.sandbox.reaper import pid_namespace
from termagent.sandbox.workspace_guard import plan_guard
from tests.docker_support import make_config, make_workspace, run_labels

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[1]


async def test_output_exit_code_and_stderr(shared_sandbox: Any) -> None:
    result = await shared_sandbox.exec("echo out; echo err >&2; exit 7", 10)
    assert result.exit_code == 7
    assert result.output == "out\nerr\n"
    assert not result.timed_out and not result.oom_killed


async def test_cd_carries_over_to_the_next_command(shared_sandbox: Any, shared_workspace: Path) -> None:
    (shared_workspace / "sub").mkdir(exist_ok=True)
    try:
        first = await shared_sandbox.exec("cd sub", 10)
        second = await shared_sandbox.exec("pwd", 10)
        assert first.cwd == "/workspace/sub"
        assert second.output.strip() == "/workspace/sub"
    finally:
        await shared_sandbox.exec("cd /workspace", 10)


async def test_removed_cwd_falls_back_to_workspace(shared_sandbox: Any, shared_workspace: Path) -> None:
    await shared_sandbox.exec("mkdir -p gone && cd gone", 10)
    (shared_workspace / "gone").rmdir()
    result = await shared_sandbox.exec("pwd", 10)
    assert result.output.strip() == "/workspace"


async def test_workspace_write_lands_on_host_with_host_owner(shared_sandbox: Any, shared_workspace: Path) -> None:
    result = await shared_sandbox.exec("echo made-inside > from_sandbox.txt", 10)
    made = shared_workspace / "from_sandbox.txt"
    try:
        assert result.exit_code == 0
        assert made.read_text() == "made-inside\n"
        assert (made.stat().st_uid, made.stat().st_gid) == (os.getuid(), os.getgid())
    finally:
        made.unlink(missing_ok=True)


async def test_50mb_of_output_is_capped_with_head_tail_and_count(shared_sandbox: Any) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = await shared_sandbox.exec("yes | head -c 50000000; echo; echo THE-END", 30)
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    cap = shared_sandbox.limits.output_cap_bytes
    assert result.exit_code == 0
    assert result.output.startswith("y\ny\n")
    assert result.output.rstrip().endswith("THE-END")
    assert f"[... {result.elided_bytes} bytes elided ...]" in result.output
    assert result.elided_bytes == 50_000_000 + len("\nTHE-END\n") - cap
    assert len(result.output.encode()) < cap + 100
    assert grown_kb < 30_000, "termagent buffered the flood instead of capping it"


async def test_live_output_reaches_the_callback_in_order(shared_sandbox: Any) -> None:
    seen: list[str] = []
    result = await shared_sandbox.exec("for i in 1 2 3; do echo line$i; sleep 0.2; done", 10, on_output=seen.append)
    assert "".join(seen) == "line1\nline2\nline3\n" == result.output


async def test_live_output_of_a_flood_is_bounded(shared_sandbox: Any) -> None:
    seen: list[str] = []
    await shared_sandbox.exec("head -c 20000000 /dev/zero | tr '\\0' x", 30, on_output=seen.append)
    forwarded = sum(len(chunk) for chunk in seen)
    assert 0 < forwarded < 1_000_000
    assert "live output stopped" in seen[-1]


async def test_background_process_does_not_outlive_its_command(shared_sandbox: Any) -> None:
    started = await shared_sandbox.exec("sleep 987654 & setsid sleep 876543 & echo started", 10)
    assert started.output == "started\n"
    listing = await shared_sandbox.exec("ps -eo args", 10)
    assert "987654" not in listing.output and "876543" not in listing.output


async def test_host_side_kill_when_the_inner_watchdog_is_gone(shared_sandbox: Any) -> None:
    # The command kills its own watchdog: the host-side deadline must still end it.
    command = 'for p in $(pgrep -P $PPID); do [ "$p" != $$ ] && kill -9 "$p"; done; echo alone; sleep 1e9'
    result = await shared_sandbox.exec(command, 1)
    assert result.timed_out
    assert result.output.startswith("alone")
    after = await shared_sandbox.exec("echo next; ps -eo args", 10)
    assert after.output.startswith("next") and "sleep 1e9" not in after.output


async def test_close_removes_the_container(sandbox_factory: Any, tmp_path: Path, docker_client: Any) -> None:
    import docker.errors

    sandbox = await sandbox_factory(make_workspace(tmp_path / "ws"))
    container_id = sandbox.container_id
    assert docker_client.containers.get(container_id).status == "running"
    await sandbox.close()
    await sandbox.close()
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(container_id)


async def test_stale_container_of_a_dead_process_is_reaped(
    sandbox_factory: Any, tmp_path: Path, docker_client: Any, shared_sandbox: Any
) -> None:
    dead = await asyncio.create_subprocess_exec("true")
    await dead.wait()
    labels = {LABEL_SESSION: "stale-test", LABEL_PID: str(dead.pid), LABEL_HOST: socket.gethostname(),
              LABEL_PIDNS: pid_namespace(), **run_labels()}
    stale = docker_client.containers.run(shared_sandbox.limits.image, ["sleep", "infinity"], detach=True,
                                         labels=labels, network_mode="none")
    try:
        sandbox = await sandbox_factory(make_workspace(tmp_path / "ws"))
        assert stale.name in sandbox.reaped
        ids = {c.id for c in docker_client.containers.list(all=True, filters={"label": LABEL_SESSION})}
        assert stale.id not in ids
        assert shared_sandbox.container_id in ids, "a live session's container must survive the sweep"
    finally:
        if stale.id in _all_ids(docker_client):
            stale.remove(force=True)


async def test_missing_image_is_a_clear_error(tmp_path: Path, docker_client: Any) -> None:
    limits = limits_from_config(make_config(image="termagent-no-such-image:never"))
    sandbox = DockerSandbox(limits, make_workspace(tmp_path / "ws"), "noimage")
    with pytest.raises(SandboxUnavailable, match="termagent sandbox build"):
        await sandbox.start()
    assert sandbox.container_id is None


async def test_unreachable_engine_says_how_to_start_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    sandbox = open_sandbox(make_config(), make_workspace(tmp_path / "ws"), "noengine")
    with pytest.raises(SandboxUnavailable) as caught:
        await sandbox.start()
    message = str(caught.value)
    assert "Docker engine not reachable" in message
    assert "dockerd" in message and "--sandbox none" in message


async def test_missing_termagent_dir_is_created_so_it_can_be_read_only(sandbox_factory: Any, tmp_path: Path) -> None:
    workspace = tmp_path / "plain"
    workspace.mkdir()
    sandbox = await sandbox_factory(workspace)
    result = await sandbox.exec("mkdir -p .termagent && echo '[permissions]' > .termagent/config.toml", 10)
    assert result.exit_code != 0
    assert list((workspace / ".termagent").iterdir()) == []


def test_recipe_hash_matches_the_build_script(tmp_path: Path) -> None:
    (tmp_path / "default").mkdir()
    (tmp_path / "default" / "packages.txt").write_text("bash\n")
    (tmp_path / "bootstrap.sh").write_text("#!/bin/sh\n")
    (tmp_path / "a b.txt").write_text("space\n")
    script = REPO / "scripts" / "build-sandbox-image.sh"
    shell = f'eval "$(sed -n "/^recipe_hash()/,/^}}/p" {script})"; SANDBOXES={tmp_path}; recipe_hash'
    done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == recipe_hash(tmp_path)


def test_status_reports_engine_image_and_containers(docker_client: Any, shared_sandbox: Any) -> None:
    status = sandbox_status(make_config())
    assert status["engine"] == "reachable"
    assert status["image_present"] is True
    sessions = {row["session"]: row for row in status["containers"]}
    assert sessions[shared_sandbox.session_id]["stale"] is False


def test_describe_names_the_limits(shared_sandbox: Any) -> None:
    info = shared_sandbox.describe()
    assert info["backend"] == "docker" and info["network"] == "none"
    assert info["state"] == "running"
    assert {"/workspace/.git", "/workspace/.termagent", "/workspace/.vscode"} <= set(info["read_only_mounts"])


def test_container_settings_match_the_design(tmp_path: Path) -> None:
    from termagent.sandbox.docker_settings import ENV_ALLOWLIST, run_kwargs

    workspace = make_workspace(tmp_path / "ws")
    guard, _ = plan_guard(workspace)
    kwargs = run_kwargs(limits_from_config(make_config(memory="2g", pids=256, cpus=1.5)), workspace, {"x": "y"},
                        guard.read_only)
    assert kwargs["network_mode"] == "none" and kwargs["read_only"] is True and kwargs["init"] is True
    assert kwargs["cap_drop"] == ["ALL"] and kwargs["security_opt"][0] == "no-new-privileges"
    profile = json.loads(kwargs["security_opt"][1].removeprefix("seccomp="))
    allowed = {name for rule in profile["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW" for name in rule["names"]}
    assert "ptrace" not in allowed and "process_vm_writev" not in allowed and "read" in allowed
    assert kwargs["mem_limit"] == kwargs["memswap_limit"] == 2 * 1024**3
    assert kwargs["pids_limit"] == 256 and kwargs["nano_cpus"] == 1_500_000_000
    assert kwargs["user"] == f"{os.getuid()}:{os.getgid()}"
    assert kwargs["environment"] == ENV_ALLOWLIST
    assert not any(k for k in ENV_ALLOWLIST if "KEY" in k or "TOKEN" in k)
    ulimits = {u["Name"]: (u["Soft"], u["Hard"]) for u in kwargs["ulimits"]}
    assert ulimits["core"] == (0, 0) and ulimits["nofile"] == (1024, 1024)
    mounts = {m["Target"]: (m["Source"], m["ReadOnly"]) for m in kwargs["mounts"]}
    assert mounts["/workspace"] == (str(workspace), False)
    assert mounts["/workspace/.git"] == (str(workspace / ".git"), True)
    assert mounts["/workspace/.termagent"] == (str(workspace / ".termagent"), True)
    assert all(read_only for target, (_, read_only) in mounts.items() if target != "/workspace")
    assert set(kwargs["tmpfs"]) >= {"/tmp", "/home/agent"}


def _all_ids(client: Any) -> set[str]:
    return {c.id for c in client.containers.list(all=True)}


def test_build_image_runs_the_recipe_once_per_recipe_hash(
    tmp_path: Path, docker_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from termagent.sandbox.image import build_image

    recipes = tmp_path / "sandboxes"
    (recipes / "default").mkdir(parents=True)
    (recipes / "default" / "packages.txt").write_text("bash\n")
    bootstrap = recipes / "bootstrap.sh"
    bootstrap.write_text('#!/bin/sh\necho "recipe for $2"\nmkdir -p /tmp/ta-empty-$$ && '
                         'tar -C /tmp/ta-empty-$$ -c . | docker import --change "LABEL termagent.recipe=$3" - "$2"\n'
                         'rmdir /tmp/ta-empty-$$\n')
    bootstrap.chmod(0o755)
    monkeypatch.setenv("TERMAGENT_SANDBOXES_DIR", str(recipes))
    tag = "termagent-test-build:" + os.urandom(3).hex()
    config = make_config(image=tag)
    lines: list[str] = []
    try:
        assert build_image(config, lines.append).startswith(f"built {tag}")
        assert f"recipe for {tag}" in lines
        assert sandbox_status(config)["up_to_date"] is True
        assert "up to date" in build_image(config, lines.append)
        (recipes / "default" / "packages.txt").write_text("bash\ngit\n")
        assert sandbox_status(config)["up_to_date"] is False
    finally:
        docker_client.images.remove(tag, force=True)
