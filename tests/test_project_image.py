"""Project images: a trusted project's .termagent/sandbox/Dockerfile, built offline.

The recipe below tries to undo the hardening from inside the image (a root USER, a
setuid-root shell, an ENTRYPOINT of its own); the session must still run as the host
user with no capabilities, no new privileges and a read-only root, because those are
run settings. An unchanged recipe is not rebuilt; a failed build is exit 5.
"""

from __future__ import annotations

import io
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from termagent.headless import run_headless
from termagent.sandbox.base import SandboxUnavailable
from termagent.testing.scripted_server import reply, text, tool_use
from tests.docker_support import make_config
from tests.session_support import make_session, tool_results

pytestmark = pytest.mark.docker

RECIPE = """FROM termagent-sandbox:latest
USER root
RUN printf '#!/bin/sh\\necho project-tool-ok\\n' > /usr/local/bin/project-tool && chmod 755 /usr/local/bin/project-tool
RUN cp /bin/bash /usr/local/bin/rootbash && chmod 4755 /usr/local/bin/rootbash
USER 1234:1234
ENTRYPOINT ["/bin/false"]
"""
PROBE = ("project-tool; echo uid=$(id -u); touch /usr/x 2>/dev/null; echo usr=$?; "
         "rootbash -p -c 'grep -E \"^(CapEff|NoNewPrivs)\" /proc/self/status'")


@pytest.fixture(scope="module", autouse=True)
def remove_built_images(docker_client: Any) -> Iterator[None]:
    """Remove the project images this run built (never another run's)."""
    yield
    from termagent.sandbox.docker_settings import LABEL_TEST_RUN
    from termagent.sandbox.reaper import test_run

    for image in docker_client.images.list(filters={"label": f"{LABEL_TEST_RUN}={test_run()}"}):
        try:
            docker_client.images.remove(image.id, force=True)
        except Exception:
            continue


def project(tmp_path: Path, recipe: str) -> Path:
    ws = tmp_path / "ws"
    (ws / ".termagent" / "sandbox").mkdir(parents=True)
    (ws / ".termagent" / "sandbox" / "Dockerfile").write_text(recipe)
    return ws


async def started(ws: Path, trusted: bool = True) -> Any:
    from termagent.sandbox.docker_backend import DockerSandbox
    from termagent.sandbox.docker_settings import limits_from_config
    from termagent.sandbox.project_image import with_project

    limits = with_project(limits_from_config(make_config()), ws, trusted)
    sandbox = DockerSandbox(limits, ws, "proj-" + secrets.token_hex(4))
    try:
        await sandbox.start()
    except BaseException:
        await sandbox.close()
        raise
    return sandbox


async def test_a_project_image_adds_its_tool_and_keeps_every_hardening(tmp_path, docker_client):
    ws = project(tmp_path, RECIPE + f"LABEL unique={secrets.token_hex(4)}\n")
    sandbox = await started(ws)
    try:
        assert sandbox.image.built and sandbox.image.tag.startswith("termagent-project-")
        assert "project recipe" in sandbox.describe()["image_reason"]
        out = (await sandbox.exec(PROBE, 60)).output
        assert "project-tool-ok" in out
        assert f"uid={os.getuid()}" in out and "uid=1234" not in out  # the image's USER does not apply
        assert "usr=1" in out  # read-only root, whatever the image holds
        assert "CapEff:\t0000000000000000" in out and "NoNewPrivs:\t1" in out  # the setuid shell gains nothing
        attrs = docker_client.api.inspect_container(sandbox.container_id)
        assert attrs["HostConfig"]["ReadonlyRootfs"] and attrs["HostConfig"]["CapDrop"] == ["ALL"]
        assert attrs["HostConfig"]["NetworkMode"] == "none" and attrs["Config"]["Entrypoint"] == ["sleep"]
        tag = sandbox.image.tag
    finally:
        await sandbox.close()
    again = await started(ws)  # unchanged recipe: the cached image, no build
    try:
        assert again.image.tag == tag and not again.image.built
    finally:
        await again.close()
    # unique too: another run on the same engine may have built a shared recipe a moment ago
    (ws / ".termagent" / "sandbox" / "Dockerfile").write_text(RECIPE + f"LABEL unique={secrets.token_hex(4)}\n"
                                                              "RUN echo changed\n")
    changed = await started(ws)
    try:
        assert changed.image.built and changed.image.tag != tag
    finally:
        await changed.close()


async def test_an_untrusted_projects_recipe_is_ignored(tmp_path, docker_client):
    ws = project(tmp_path, "FROM termagent-sandbox:latest\nRUN touch /never-built\n")
    sandbox = await started(ws, trusted=False)
    try:
        assert sandbox.image.tag == "termagent-sandbox:latest" and not sandbox.image.built
    finally:
        await sandbox.close()


async def test_a_failed_build_or_a_remote_base_or_a_volume_is_a_clear_error(tmp_path, docker_client):
    failing = project(tmp_path / "a", "FROM termagent-sandbox:latest\nRUN echo compiling && exit 7\n")
    with pytest.raises(SandboxUnavailable, match="project image build failed") as failed:
        await started(failing)
    assert "returned a non-zero code: 7" in str(failed.value)
    remote = project(tmp_path / "b", "FROM termagent-no-such-base:1\n")
    with pytest.raises(SandboxUnavailable, match="termagent-no-such-base:1 .* is not available locally"):
        await started(remote)
    volume = project(tmp_path / "c", "FROM termagent-sandbox:latest\nVOLUME /usr/local/bin\n")
    with pytest.raises(SandboxUnavailable, match="declares VOLUME /usr/local/bin"):
        await started(volume)


async def test_a_failed_project_build_ends_a_session_with_exit_5(tmp_path, scripted_server, monkeypatch,
                                                                 docker_client):
    ws = project(tmp_path, "FROM termagent-sandbox:latest\nRUN exit 3\n")
    scripted_server.add(reply(tool_use("bash", {"command": "true"})))
    scripted_server.add_spare(reply(text("never reached")))
    session, _ = make_session(ws, scripted_server, monkeypatch, trusted=True,
                              overrides={"sandbox": {"backend": "docker"}, "permissions": {"mode": "auto"}})
    err = io.StringIO()
    result = await run_headless(session, "run", "json", io.StringIO(), err)
    assert result.exit_code == 5 and "project image build failed" in err.getvalue()
    assert len(scripted_server.requests) == 1


async def test_a_session_uses_the_project_tool(tmp_path, scripted_server, monkeypatch, docker_client):
    ws = project(tmp_path, RECIPE)
    scripted_server.add(reply(tool_use("bash", {"command": "project-tool"})), reply(text("ok")))
    session, _ = make_session(ws, scripted_server, monkeypatch, trusted=True,
                              overrides={"sandbox": {"backend": "docker"}, "permissions": {"mode": "auto"}})
    result = await run_headless(session, "use it", "json", io.StringIO(), io.StringIO())
    assert result.exit_code == 0
    assert "project-tool-ok" in tool_results(scripted_server.requests[1].body)[0]["content"]
