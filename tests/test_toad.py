"""Toad (batrachian-toad, a real ACP client) runs `termagent acp` in a real terminal (tmux).

What no in-process client shows: a third-party editor starts termagent from its command line,
sends a typed prompt, renders termagent's permission request as its own approval dialog, and
the answer given there lets the sandboxed edit land on disk. Toad needs Python >= 3.14, so it
lives in a Debian testing root filesystem (scripts/install-toad.sh); scripts/toad-chroot.sh
enters it with the workspace, the checkout and the test's state dirs at their own paths, so
termagent's Docker sandbox (kept on) mounts the same workspace the test reads.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from termagent.testing.scripted_server import ScriptedServer, reply, text, tool_use
from tests.docker_support import git
from tests.test_tui_e2e import Terminal
from tests.worker_support import wait_until as wait_for_condition

pytestmark = [pytest.mark.e2e, pytest.mark.docker]
CHECKOUT = Path(__file__).resolve().parent.parent
DEADLINE_S = 120.0  # Toad and termagent start from a cold Python 3.14 without bytecode caches


def _missing(reason: str) -> None:
    message = f"{reason} (prepare with scripts/install-toad.sh)"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def toad_rootfs() -> Path:
    """The installed root filesystem, or a skip (a failure under CI=true) saying what is missing."""
    if shutil.which("tmux") is None:
        _missing("tmux is not installed")
    if os.getuid() != 0:
        _missing("running Toad's chroot needs root")
    found = subprocess.run(["bash", str(CHECKOUT / "scripts" / "install-toad.sh"), "--root"],
                           capture_output=True, text=True)
    if found.returncode != 0:
        _missing("Toad's root filesystem is not installed or is out of date")
    return Path(found.stdout.strip())


def processes_in(rootfs: Path) -> list[int]:
    """This run's processes whose root directory is `rootfs`: while one lives, so do its mounts.

    Another run on the machine may use the same cached root filesystem; its processes carry
    another TERMAGENT_TEST_RUN.
    """
    ours = f"TERMAGENT_TEST_RUN={os.environ['TERMAGENT_TEST_RUN']}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if (entry.name.isdigit() and Path(os.readlink(entry / "root")) == rootfs
                    and ours in (entry / "environ").read_bytes().split(b"\0")):
                found.append(int(entry.name))
        except OSError:
            continue  # gone meanwhile
    return found


def remove_workspace_containers(client: Any, workspace: Path) -> None:
    """Remove the sandbox containers this test's termagent started (by workspace and run label)."""
    from termagent.sandbox.docker_settings import LABEL_TEST_RUN, LABEL_WORKSPACE
    from termagent.sandbox.reaper import test_run

    for container in client.containers.list(all=True, filters={"label": f"{LABEL_TEST_RUN}={test_run()}"}):
        if container.labels.get(LABEL_WORKSPACE) == str(workspace):
            container.remove(force=True)


def agent_environment(home: Path, server: ScriptedServer, state: Path) -> dict[str, str]:
    """Toad's whole environment; Toad hands it on to the agent it starts."""
    env = {
        "HOME": str(home), "PATH": "/opt/toad/bin:/usr/local/bin:/usr/bin:/bin", "TERM": "xterm-256color",
        "LANG": "C.UTF-8", "COLORTERM": "truecolor",
        "PYTHONPATH": str(CHECKOUT), "PYTHONDONTWRITEBYTECODE": "1",  # the checkout's termagent, unwritten
        "ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "sk-toad-secret-0000000000",
        "TERMAGENT_TEST_RUN": os.environ["TERMAGENT_TEST_RUN"],
    }
    for var in ("TERMAGENT_CONFIG_DIR", "TERMAGENT_STATE_DIR", "XDG_CONFIG_HOME", "XDG_STATE_HOME",
                "XDG_DATA_HOME", "CLAUDE_CONFIG_DIR", "TERMAGENT_SANDBOX_ALLOW_ROOT", "DOCKER_HOST",
                "TERMAGENT_WORKER"):  # off in tests: an editors' worker started in the chroot would outlive Toad
        if var in os.environ:
            env[var] = os.environ[var]
    assert Path(env["TERMAGENT_STATE_DIR"]).is_relative_to(state)
    return env


def wait_until(predicate: Any, what: str, term: Terminal) -> None:
    """worker_support's wait, with the screen in the failure: that is what shows why Toad is stuck."""
    try:
        wait_for_condition(predicate, what, DEADLINE_S)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the screen:\n{term.screen()}") from None


@pytest.fixture
def toad(tmp_path: Path, toad_rootfs: Path, docker_client: Any, scripted_server: ScriptedServer,
         isolated_state: Path) -> Any:
    workspace = tmp_path / "project"
    workspace.mkdir()
    (workspace / "notes.txt").write_text("the colour red\n")
    git(workspace, "init", "-q", "-b", "main")
    git(workspace, "add", "notes.txt")
    git(workspace, "commit", "-q", "-m", "notes")
    home = tmp_path / "home"
    home.mkdir()
    env = agent_environment(home, scripted_server, isolated_state)
    status = tmp_path / "exit-status"
    inside = ["env", "-i", *(f"{k}={v}" for k, v in env.items()),
              "toad", "acp", "termagent acp", str(workspace)]
    chroot = [str(CHECKOUT / "scripts" / "toad-chroot.sh"), str(toad_rootfs),
              "--bind", str(tmp_path), "--bind", str(isolated_state), "--bind", str(CHECKOUT), "--", *inside]
    command = f"cd {shlex.quote(str(workspace))} && {shlex.join(chroot)}; echo $? > {shlex.quote(str(status))}"
    term = Terminal(f"termagent-toad-{os.getpid()}", "toad")
    term.tmux("new-session", "-d", "-s", "toad", "-x", "200", "-y", "50", "sh", "-c", command)
    term.workspace = workspace
    term.status = status
    try:
        yield term
    finally:
        term.tmux("kill-server")
        try:
            # Toad and termagent end with the terminal, and with them the chroot's private mounts.
            wait_until(lambda: not processes_in(toad_rootfs), "every process in Toad's chroot ending", term)
        finally:  # only now: a termagent still alive could start another container
            remove_workspace_containers(docker_client, workspace)
            tmux_dir = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}"
            (tmux_dir / term.socket).unlink(missing_ok=True)  # a killed server can leave its socket file


def session_ready(term: Terminal) -> bool:
    """Toad's status line names the agent and the workspace, and shows the session's mode.

    The mode arrives last; typing before it is a race in Toad itself (its mode list's
    highlight becomes the prompt's completion, which Enter then inserts).
    """
    return any(f"termagent  {term.workspace}" in line and line.rstrip().endswith("Ask")
               for line in term.screen().splitlines())


def test_toad_runs_termagent_and_its_approval_dialog_lets_the_edit_land(toad, scripted_server):
    probe = "grep -H -e color -e CODENAME notes.txt /etc/os-release"
    scripted_server.add(
        reply(tool_use("read_file", {"path": "notes.txt"})),
        reply(tool_use("edit_file", {"path": "notes.txt", "old_string": "colour", "new_string": "color"})),
        reply(tool_use("bash", {"command": probe})),
        reply(text("Spelling fixed in notes.txt.")),
    )
    notes = toad.workspace / "notes.txt"
    wait_until(lambda: session_ready(toad), "a ready termagent session in Toad's status line", toad)
    toad.keys("-l", "fix the spelling in notes.txt")
    toad.wait_for("❯ fix the spelling in notes.txt", timeout=DEADLINE_S)
    toad.keys("Enter")

    toad.wait_for("Approval request", timeout=DEADLINE_S)
    dialog = toad.wait_for("the color red", timeout=DEADLINE_S)  # the diff renders after the dialog's frame
    assert "termagent wishes to make the following changes" in dialog
    assert "the colour red" in dialog and "the color red" in dialog  # Toad's diff of termagent's proposal
    assert "Allow once" in dialog and "Reject for this session" in dialog
    assert notes.read_text() == "the colour red\n"  # nothing is written while the dialog is open
    toad.keys("a")

    wait_until(lambda: notes.read_text() == "the color red\n", "the edit on disk", toad)
    # A command asks too (mode ask), in Toad's inline question under the prompt this time.
    wait_until(lambda: toad.screen().count(probe) >= 2 and "Allow once" in toad.screen(),
               "the command's approval question", toad)
    toad.keys("a")
    screen = toad.wait_for("Spelling fixed in notes.txt.", timeout=DEADLINE_S)
    assert "fix the spelling in notes.txt" in screen
    results = json.dumps(scripted_server.requests[-1].body["messages"])
    # The command ran in termagent's sandbox (the bookworm image), not in Toad's forky chroot,
    # and saw the edited file through the workspace mount.
    assert "notes.txt:the color red" in results and "VERSION_CODENAME=bookworm" in results
    assert "permission denied" not in results

    toad.keys("C-q")
    wait_until(lambda: not toad.alive(), "Toad quitting on ctrl+q", toad)
    assert toad.status.read_text().strip() == "0"
