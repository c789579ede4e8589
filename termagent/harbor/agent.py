"""termagent as a Harbor installed agent: `harbor run -a termagent.harbor:TermagentAgent ...`.

setup: probe the task container's Python (installing python3 with its package manager when
there is none >= 3.11), build on the host a folder of wheels for exactly that interpreter
(termagent from this checkout plus its dependencies, cached), upload it with a stdlib
unpacker, and unpack it under /installed-agent/termagent. Nothing in the container needs an
index or the network, so offline task images work; only the model endpoint must be reachable.

run: termagent headless in the task's working directory with `--sandbox none`, because the
task container is the sandbox: Harbor made it for this one trial and throws it away, the
task's tests inspect it afterwards, and Docker is not available inside it. The container is
declared disposable (TERMAGENT_DISPOSABLE_HOST=1), which keeps auto mode available without
the Docker sandbox; the destructive-command safety net still applies. The headless json
goes to /logs/agent/termagent.json and the session store to /logs/agent/termagent-state
(Harbor copies /logs/agent back), and its tokens and cost go into Harbor's AgentContext.
"""

from __future__ import annotations

import asyncio
import shlex
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from harbor.agents.installed.base import (
    AgentAuthenticationError,
    BaseInstalledAgent,
    CliFlag,
    NonZeroAgentExitCodeError,
    UnknownApiError,
    with_prompt_template,
)
from harbor.environments.base import BaseEnvironment
from harbor.models.agent.context import AgentContext

import termagent
import termagent.harbor.results as results
import termagent.harbor.wheelhouse as wheelhouse

PREFIX = PurePosixPath("/installed-agent/termagent")
LAUNCHER = PREFIX / "bin" / "termagent"
PASSED_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL")
PYTHON_PACKAGES = {"apt-get": "apt-get update && apt-get install -y python3", "dnf": "dnf install -y python3",
                   "yum": "yum install -y python3", "apk": "apk add --no-cache python3"}


class TermagentAgent(BaseInstalledAgent):  # type: ignore[misc]  # Harbor is untyped for mypy here
    """Runs termagent headless in a Harbor task container and reports its tokens and cost."""

    CLI_FLAGS = [
        CliFlag("max_turns", cli="--max-turns", type="int"),
        CliFlag("max_cost_usd", cli="--max-cost-usd", type="str"),
        CliFlag("max_wall_s", cli="--max-wall-s", type="str"),
        CliFlag("mode", cli="--mode", type="enum", choices=["ask", "accept-edits", "auto"], default="auto"),
    ]

    def __init__(self, *args: Any, wheelhouse: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wheelhouse = Path(wheelhouse).expanduser() if wheelhouse else None

    @staticmethod
    def name() -> str:
        return "termagent"

    def version(self) -> str | None:
        """The version shipped into the container: this checkout's, unless Harbor was told one."""
        return super().version() or termagent.__version__

    async def install(self, environment: BaseEnvironment) -> None:
        target = await self._probe(environment)
        await self.exec_as_root(environment, f"rm -rf {PREFIX} && mkdir -p {PREFIX}/config")
        if self._wheelhouse is not None:
            await environment.upload_dir(self._wheelhouse, str(PREFIX / "wheels"))
        else:
            house = await asyncio.to_thread(wheelhouse.build, target)
            await environment.upload_dir(house.dependencies, str(PREFIX / "wheels"))
            await environment.upload_file(house.termagent, str(PREFIX / "wheels" / house.termagent.name))
        await environment.upload_file(Path(__file__).with_name("unpack.py"), str(PREFIX / "unpack.py"))
        await self.exec_as_root(
            environment,
            f"{shlex.quote(target.executable)} {PREFIX}/unpack.py {PREFIX}/wheels {PREFIX} && rm -rf {PREFIX}/wheels"
            f" && chmod -R a+rX {PREFIX} && chmod 1777 {PREFIX}/config",  # config/: any agent user writes
        )

    async def _probe(self, environment: BaseEnvironment) -> wheelhouse.Target:
        found = await environment.exec(command=wheelhouse.PROBE, user="root")
        if found.return_code != 0:
            manager = await self._get_system_package_manager(environment)
            if manager not in PYTHON_PACKAGES:
                raise NonZeroAgentExitCodeError("termagent needs Python >= 3.11 in the task container; "
                                                "there is none and no known package manager to install it")
            await self.exec_as_root(environment, PYTHON_PACKAGES[manager], env={"DEBIAN_FRONTEND": "noninteractive"})
            found = await environment.exec(command=wheelhouse.PROBE, user="root")
        if found.return_code != 0:
            raise NonZeroAgentExitCodeError("termagent needs Python >= 3.11 in the task container; "
                                            f"the installed python3 is older: {found.stdout or ''}{found.stderr or ''}")
        return wheelhouse.Target.from_probe(found.stdout or "")

    @with_prompt_template  # type: ignore[untyped-decorator]
    async def run(self, instruction: str, environment: BaseEnvironment, context: AgentContext) -> None:
        logs = self.environment_logs_dir
        with tempfile.TemporaryDirectory(prefix="termagent-task.") as tmp:
            task_file = Path(tmp) / "instruction.md"
            task_file.write_text(instruction, encoding="utf-8")
            await environment.upload_file(task_file, str(PREFIX / "instruction.md"))
        found = await environment.exec(command=self.command(logs), env=self.run_env(logs))
        outcome = results.parse(found.stdout or "", found.return_code)
        fill_context(context, outcome)
        failure = outcome.failure()
        if failure is not None:
            raise self._error(outcome, failure, found.stderr or "")

    def command(self, logs: PurePosixPath) -> str:
        """The shell line that runs one headless task; stdout is the json, also kept in the logs."""
        model = f"--model {shlex.quote(self._parsed_model_name)} " if self._parsed_model_name else ""
        flags = self.build_cli_flags()
        return (f"set -o pipefail; mkdir -p {logs}; {LAUNCHER} --task - --output json --sandbox none "
                f"--allow-home-workspace {model}{flags} < {PREFIX}/instruction.md "
                f"2> {logs}/termagent.stderr | tee {logs}/termagent.json")

    def run_env(self, logs: PurePosixPath) -> dict[str, str]:
        """Credentials from --ae or the host, and termagent's settings for a disposable container."""
        env = {name: value for name in PASSED_ENV if (value := self._get_env(name))}
        env.update({key: value for key, value in self._extra_env.items() if key.startswith("TERMAGENT_")})
        env.update(TERMAGENT_DISPOSABLE_HOST="1", TERMAGENT_STATE_DIR=str(logs / "termagent-state"),
                   TERMAGENT_CONFIG_DIR=str(PREFIX / "config"))
        return env

    def _error(self, outcome: results.Outcome, failure: str, stderr: str) -> NonZeroAgentExitCodeError:
        text = f"{failure}\nstderr: {self._truncate_output(stderr)}"
        if outcome.exit_code == 3:
            detail = str((outcome.payload or {}).get("detail") or "") + "\n" + stderr
            if "ANTHROPIC_API_KEY" in detail or "credential" in detail.lower():
                return AgentAuthenticationError(text)
            classified = self._classify_exec_error("termagent", _Text(detail))
            return classified if type(classified) is not NonZeroAgentExitCodeError else UnknownApiError(text)
        return NonZeroAgentExitCodeError(text)


class _Text:
    """The shape Harbor's error classifier reads: only the run's own failure text, never the
    json (whose model text could match an error pattern by accident)."""

    def __init__(self, detail: str) -> None:
        self.stdout, self.stderr, self.return_code = detail, "", 3


def fill_context(context: AgentContext, outcome: results.Outcome) -> None:
    """Harbor's per-trial tokens and cost (n_input_tokens includes cache reads and writes)."""
    if outcome.payload is None:
        return
    context.n_input_tokens = outcome.n_input_tokens
    context.n_cache_tokens = outcome.n_cache_tokens
    context.n_output_tokens = outcome.n_output_tokens
    context.cost_usd = outcome.cost_usd
    context.metadata = {**(context.metadata or {}), **outcome.metadata}
