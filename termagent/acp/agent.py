"""The ACP agent: one termagent session per ACP session, all on one store and one event loop."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acp import PROTOCOL_VERSION, RequestError, schema

from termagent.acp import mcp, options
from termagent.acp.bridge import SessionBridge
from termagent.acp.files import FsChoice, WriteWitness
from termagent.acp.terminal import ClientTerminal, terminal_offered
from termagent.acp.translate import BadPrompt, prompt_parts
from termagent.core.door import FileAccessFactory, SandboxFactory, SessionLike, open_session, session_options

log = logging.getLogger("termagent.acp")

_STOPS: dict[str, schema.StopReason] = {"end_turn": "end_turn", "interrupted": "cancelled", "max_tokens": "max_tokens",
          "max_turns": "max_turn_requests"}


@dataclass(frozen=True)
class AgentSettings:
    """What the command line decided for every session: config overrides, rules, trust."""

    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    trust_project: bool = False


class TermagentAgent:
    def __init__(self, settings: AgentSettings, store: Any, version: str) -> None:
        self.settings, self.store, self.version = settings, store, version
        self.client: Any = None
        self.bridges: dict[str, SessionBridge] = {}
        self.client_capabilities: schema.ClientCapabilities | None = None

    def on_connect(self, conn: Any) -> None:
        self.client = conn

    async def initialize(self, protocol_version: int, client_capabilities: schema.ClientCapabilities | None = None,
                         client_info: Any = None, **kwargs: Any) -> schema.InitializeResponse:
        self.client_capabilities = client_capabilities
        from termagent.model.client import warm_import

        warm_import()  # the SDK loads while the editor sets up its session, not during the first prompt
        capabilities = schema.AgentCapabilities(
            load_session=True,
            prompt_capabilities=schema.PromptCapabilities(image=True, audio=False, embedded_context=True),
            mcp_capabilities=schema.McpCapabilities(http=True, sse=False))  # what termagent's MCP client speaks
        return schema.InitializeResponse(protocol_version=min(protocol_version, PROTOCOL_VERSION),
                                         agent_capabilities=capabilities,
                                         agent_info=schema.Implementation(name="termagent", version=self.version))

    async def authenticate(self, method_id: str, **kwargs: Any) -> None:
        return None

    async def new_session(self, cwd: str, mcp_servers: list[Any] | None = None,
                          **kwargs: Any) -> schema.NewSessionResponse:
        bridge = await self._open(cwd, None, mcp_servers)
        return schema.NewSessionResponse(session_id=bridge.id, modes=options.mode_state(bridge.session),
                                         config_options=options.config_options(bridge.session))

    async def load_session(self, cwd: str, session_id: str, mcp_servers: list[Any] | None = None,
                           **kwargs: Any) -> schema.LoadSessionResponse:
        if session_id in self.bridges:
            raise RequestError.invalid_request({"message": f"session {session_id} is already open"})
        bridge = await self._open(cwd, session_id, mcp_servers)
        return schema.LoadSessionResponse(modes=options.mode_state(bridge.session),
                                          config_options=options.config_options(bridge.session))

    async def prompt(self, session_id: str, prompt: list[Any], **kwargs: Any) -> schema.PromptResponse:
        bridge = self._bridge(session_id)
        try:
            parts = prompt_parts(prompt)
        except BadPrompt as exc:
            raise RequestError.invalid_params({"prompt": str(exc)}) from None
        for warning in parts.warnings:
            log.warning("%s", warning)
        if not parts.text.strip() and not parts.images:
            raise RequestError.invalid_params({"prompt": "the prompt has no text or image termagent can take"})
        stop = await bridge.prompt(parts.text, parts.images)
        return schema.PromptResponse(stop_reason=_STOPS.get(stop, "end_turn"))

    async def cancel(self, session_id: str, **kwargs: Any) -> None:
        bridge = self.bridges.get(session_id)
        if bridge is not None:
            bridge.cancel()

    async def set_session_mode(self, session_id: str, mode_id: str, **kwargs: Any) -> schema.SetSessionModeResponse:
        self._bridge(session_id).set_mode(mode_id)
        return schema.SetSessionModeResponse()

    async def set_config_option(self, config_id: str, session_id: str, value: str | bool,
                                **kwargs: Any) -> schema.SetSessionConfigOptionResponse:
        bridge = self._bridge(session_id)
        if config_id != options.MODEL_OPTION or not isinstance(value, str) or not value:
            raise RequestError.invalid_params({"configId": f"unknown option {config_id!r}"})
        bridge.set_model(value)
        choices = options.config_options(bridge.session)
        for choice in choices:
            if isinstance(choice, schema.SessionConfigOptionSelect):
                choice.current_value = value  # answered by ModelChanged once the session applies it
        return schema.SetSessionConfigOptionResponse(config_options=choices)

    async def close_all(self) -> None:
        for bridge in list(self.bridges.values()):
            await bridge.close()
        self.bridges.clear()

    # ------------------------------------------------------------ helpers

    def _bridge(self, session_id: str) -> SessionBridge:
        bridge = self.bridges.get(session_id)
        if bridge is None:
            raise RequestError.invalid_params({"sessionId": f"no open session {session_id!r}"})
        return bridge

    async def _open(self, cwd: str, resume: str | None, mcp_servers: list[Any] | None) -> SessionBridge:
        fs, witness = FsChoice.offered(self.client_capabilities), WriteWitness()
        servers, left_out = mcp.editor_servers(mcp_servers)
        for warning in left_out:
            log.warning("%s", warning)
        session = self._session(Path(cwd), resume, witness.wrap(fs.factory(self.client)), servers)
        bridge = SessionBridge(session, self.client, witness, fs)
        await bridge.start(replay=resume is not None)
        self.bridges[bridge.id] = bridge
        await bridge.announce_commands()
        return bridge

    def _session(self, cwd: Path, resume: str | None, files: FileAccessFactory,
                 servers: dict[str, dict[str, Any]]) -> SessionLike:
        """Open like `--resume` does; any refusal (no key, unknown session, bad config) is a JSON-RPC error."""
        if not cwd.is_absolute() or not cwd.is_dir():
            raise RequestError.invalid_params({"cwd": f"{cwd} is not an absolute path to a directory"})
        workspace = cwd.resolve()
        try:
            config = mcp.with_editor_servers(self._config(workspace), servers)
            config, sandbox = self._where_commands_run(config, workspace)
            choices = session_options(workspace, True, resume=resume, allow=self.settings.allow,
                                      deny=self.settings.deny, trusted=self._trusted(workspace),
                                      files=files, sandbox=sandbox)
            return open_session(config, choices, self.store)
        except RequestError:
            raise
        except Exception as exc:
            raise RequestError.invalid_params({"message": str(exc)}) from exc

    def _where_commands_run(self, config: Any, workspace: Path) -> tuple[Any, SandboxFactory | None]:
        """Where bash runs: our sandbox, or the editor's terminal when the person chose it and it is offered.

        The editor's terminal is this machine, unconfined, so the session is then opened as
        an unsandboxed one: the policy and the start-up warnings treat it as `--sandbox none`."""
        if config.get("acp", "terminal") != "client":
            return config, None
        if not terminal_offered(self.client_capabilities):
            log.warning("acp.terminal is 'client' but the editor offers no terminal; commands run in the sandbox")
            return config, None
        loop, cap = asyncio.get_running_loop(), int(config.get("sandbox", "output_cap_bytes"))
        return (config.with_overrides({"sandbox": {"backend": "none"}}),
                lambda session_id: ClientTerminal(self.client, session_id, workspace, loop, cap))

    def _trusted(self, workspace: Path) -> bool:
        from termagent.trust import is_trusted, trust

        if self.settings.trust_project:
            trust(workspace)
            return True
        return is_trusted(workspace)

    def _config(self, workspace: Path) -> Any:
        from termagent.config import load_config

        config = load_config(workspace, include_project=self._trusted(workspace))
        return config.with_overrides(self.settings.overrides) if self.settings.overrides else config

