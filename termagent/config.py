"""Layered configuration: defaults, user file, project file, environment, flags.

Later layers win key by key. A broken file is reported with its path and line so the
person can fix it; nothing is silently ignored, since a dropped `deny` rule would be a
safety hole.
"""

from __future__ import annotations

import copy
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from termagent.lifecycle.events import EVENT_NAMES

DEFAULTS: dict[str, Any] = {
    "model": {
        "main": "claude-sonnet-4-6",
        "subagent": "claude-haiku-4-5",
        "compaction": "claude-haiku-4-5",
        "review": "claude-sonnet-4-6",
        "judge": "claude-haiku-4-5",
        "max_tokens": 8192,
        "context_window": 200_000,
        "max_retries": 5,
        "backoff_base_s": 0.5,
        "backoff_max_s": 30.0,
        "breaker_failures": 8,
        "request_timeout_s": 600.0,
        "connect_timeout_s": 10.0,
        "first_byte_timeout_s": 60.0,  # no response headers by then: retry the turn
        "stream_idle_timeout_s": 30.0,  # no stream event for this long: retry the turn
        "max_retry_wait_s": 300.0,  # a longer retry-after ends the turn instead
    },
    "limits": {
        "max_turns": 50,
        "max_cost_usd": 0.0,  # 0 means no cap
        "max_tokens": 0,
        "max_wall_s": 0.0,
        "model_calls_per_min": 0,
    },
    "permissions": {"mode": "ask", "allow": [], "ask": [], "deny": []},
    "sandbox": {
        "backend": "docker",
        "image": "termagent-sandbox:latest",
        "memory": "2g",
        "pids": 256,
        "cpus": 1.0,
        "nofile": 1024,
        "tmpfs_size": "256m",
        "timeout_default_s": 120,
        "timeout_max_s": 600,
        "output_cap_bytes": 30_000,
        "allow_root": False,  # run the sandbox even when termagent itself runs as root
        "allow_ptrace": False,  # let commands ptrace (gdb, strace): a project may opt in
        # "allowlist": reach only `allow` patterns through a proxy sidecar (termagent.sandbox.egress_policy)
        "network": {"mode": "none", "allow": []},
        # with backend "none": this machine is itself a throwaway container (a Harbor task, a CI
        # job), so auto mode may run anything here and writes outside the workspace are not special
        "disposable_host": False,
        "max_jobs": 4,  # background jobs (bash run_in_background) running at once
        "caches": True,  # per-project cache volumes for pip, npm, cargo, go, uv (termagent sandbox prune)
    },
    "subagents": {"max_turns": 20, "max_tokens": 400_000, "max_cost_usd": 1.0, "max_wall_s": 600.0},
    "compaction": {"enabled": True, "threshold": 0.7, "keep_recent_turns": 6},
    # fail_closed and timeout_s are the git hooks'; the event lists are lifecycle hooks ([[hooks.PreToolUse]])
    "hooks": {"fail_closed": False, "timeout_s": 120.0, "claude_settings": True, **{name: [] for name in EVENT_NAMES}},
    "checkpoints": {"enabled": True, "auto_commit": False, "max_file_mb": 50, "keep_sessions": 20, "keep_days": 14.0},
    "tools": {"read_limit_lines": 2000, "max_file_bytes": 10_000_000},
    # OpenTelemetry export is also on whenever OTEL_EXPORTER_OTLP_ENDPOINT is set
    "telemetry": {"enabled": False, "log_content": False, "flush_timeout_s": 2.0},
    # "client": in `termagent acp`, run bash in the editor's terminal (unsandboxed, on this machine)
    "acp": {"terminal": "sandbox"},
    "mcp": {"enabled": True, "servers": {}, "config_files": [], "start_timeout_s": 30.0, "max_tools": 40,
            "max_schema_tokens": 15_000},
}

def _flag(raw: str) -> bool:
    if raw.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if raw.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


_flag.__name__ = "boolean (1/0)"

ENV_OVERRIDES: dict[str, tuple[str, str, Callable[[str], Any]]] = {
    "TERMAGENT_MODEL": ("model", "main", str),
    "TERMAGENT_SUBAGENT_MODEL": ("model", "subagent", str),
    "TERMAGENT_MODE": ("permissions", "mode", str),
    "TERMAGENT_SANDBOX": ("sandbox", "backend", str),
    "TERMAGENT_SANDBOX_IMAGE": ("sandbox", "image", str),
    "TERMAGENT_SANDBOX_ALLOW_ROOT": ("sandbox", "allow_root", _flag),
    "TERMAGENT_DISPOSABLE_HOST": ("sandbox", "disposable_host", _flag),
    "TERMAGENT_MAX_TURNS": ("limits", "max_turns", int),
    "TERMAGENT_MAX_COST_USD": ("limits", "max_cost_usd", float),
}

MODES = ("plan", "ask", "accept-edits", "auto")


class ConfigError(Exception):
    """A config problem a person must fix; the message names the file and line."""


@dataclass(frozen=True)
class Config:
    data: dict[str, Any]
    sources: tuple[str, ...] = ()

    def get(self, section: str, key: str) -> Any:
        return self.data[section][key]

    def section(self, name: str) -> dict[str, Any]:
        return self.data[name]

    def model_for(self, role: str) -> str:
        return str(self.data["model"][role])

    def with_overrides(self, overrides: dict[str, dict[str, Any]]) -> "Config":
        return Config(_merge(self.data, overrides, "flags"), self.sources + ("flags",))


def user_config_path() -> Path:
    explicit = os.environ.get("TERMAGENT_CONFIG_DIR")
    if explicit:
        return Path(explicit) / "config.toml"
    import platformdirs

    return Path(platformdirs.user_config_dir("termagent")) / "config.toml"


def project_config_path(workspace: Path) -> Path:
    return workspace / ".termagent" / "config.toml"


def load_config(workspace: Path, include_project: bool = True) -> Config:
    """Merge defaults, the user file, the project file and the environment."""
    data = copy.deepcopy(DEFAULTS)
    sources = ["defaults"]
    files = [user_config_path()]
    if include_project:
        files.append(project_config_path(workspace))
    for path in files:
        if path.is_symlink():
            raise ConfigError(f"config error: {path} is a symlink; termagent reads only a regular file there")
        if path.is_file():
            layer = _read_toml(path)
            if path != files[0]:
                _refuse_project_keys(layer, path)
            data = _merge(data, layer, str(path))
            sources.append(str(path))
    env = _env_layer()
    if env:
        data = _merge(data, env, "environment")
        sources.append("environment")
    _validate(data)
    return Config(data, tuple(sources))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"^(.*?)\s*\(at line (\d+), column (\d+)\)", str(exc))
        if match:
            reason, line, column = match.groups()
            raise ConfigError(f"config error in {path}:{line}:{column}: {reason}") from None
        raise ConfigError(f"config error in {path}: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from None


PROJECT_FORBIDDEN = (("sandbox", "backend"), ("sandbox", "allow_root"), ("sandbox", "disposable_host"),
                     ("acp", "terminal"))
ADDITIVE_KEYS = (("permissions", "allow"), ("permissions", "ask"), ("permissions", "deny"),
                 *(("hooks", name) for name in EVENT_NAMES))


def _refuse_project_keys(layer: dict[str, Any], path: Path) -> None:
    """A repository may not switch the sandbox off: only the person can, with --sandbox none."""
    for section, key in PROJECT_FORBIDDEN:
        if isinstance(layer.get(section), dict) and key in layer[section]:
            raise ConfigError(f"config error in {path}: {section}.{key} cannot be set by a project "
                              "(use the command-line flag or your user config)")


def _env_layer() -> dict[str, dict[str, Any]]:
    layer: dict[str, dict[str, Any]] = {}
    for var, (section, key, kind) in ENV_OVERRIDES.items():
        raw = os.environ.get(var)
        if raw is None or raw == "":
            continue
        try:
            value = kind(raw)
        except ValueError:
            raise ConfigError(f"environment variable {var}={raw!r} is not a valid {kind.__name__}") from None
        layer.setdefault(section, {})[key] = value
    return layer


def _merge(base: dict[str, Any], layer: dict[str, Any], source: str) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for section, values in layer.items():
        if section not in merged:
            raise ConfigError(f"config error in {source}: unknown section [{section}]")
        if not isinstance(values, dict):
            raise ConfigError(f"config error in {source}: [{section}] must be a table")
        for key, value in values.items():
            if key not in merged[section]:
                raise ConfigError(f"config error in {source}: unknown key {section}.{key}")
            expected = DEFAULTS[section][key]
            if not _same_kind(expected, value):
                raise ConfigError(
                    f"config error in {source}: {section}.{key} should be "
                    f"{type(expected).__name__}, got {value!r}"
                )
            if section == "hooks" and key in EVENT_NAMES:
                _check_hooks(key, value, source)
            if (section, key) in ADDITIVE_KEYS:
                value = list(merged[section][key]) + [v for v in value if v not in merged[section][key]]
            if (section, key) == ("sandbox", "network"):
                value = _merge_network(merged[section][key], value, source)
            if (section, key) == ("mcp", "servers"):
                value = {**merged[section][key], **value}  # servers merge by name across layers
            merged[section][key] = value
    return merged


def _check_hooks(event: str, entries: list[Any], source: str) -> None:
    from termagent.lifecycle.settings import HookConfigError, check_toml_entries

    try:
        check_toml_entries(event, entries, source)
    except HookConfigError as exc:
        raise ConfigError(f"config error in {source}: {exc}") from None


def _merge_network(base: dict[str, Any], layer: Any, source: str) -> dict[str, Any]:
    """[sandbox.network]: mode replaced, allow patterns added and checked, layer by layer."""
    from termagent.sandbox.egress_policy import EgressPatternError, merge_network

    try:
        return merge_network(base, layer, source)
    except EgressPatternError as exc:
        raise ConfigError(str(exc)) from None


def _same_kind(expected: Any, value: Any) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool):
        return isinstance(expected, bool) and isinstance(value, bool)
    if isinstance(expected, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(expected))


def _validate(data: dict[str, Any]) -> None:
    mode = data["permissions"]["mode"]
    if mode not in MODES:
        raise ConfigError(f"config error: permissions.mode {mode!r} is not one of {', '.join(MODES)}")
    if data["sandbox"]["backend"] not in ("docker", "none"):
        raise ConfigError(f"config error: sandbox.backend {data['sandbox']['backend']!r} is not docker or none")
    if data["acp"]["terminal"] not in ("sandbox", "client"):
        raise ConfigError(f"config error: acp.terminal {data['acp']['terminal']!r} is not sandbox or client")
    network = data["sandbox"]["network"]
    if network["mode"] == "allowlist" and not network["allow"]:
        raise ConfigError("config error: sandbox.network.mode is 'allowlist' but sandbox.network.allow is empty; "
                          "list the hosts (or use --allow-host HOST)")
    threshold = data["compaction"]["threshold"]
    if not 0.1 <= threshold <= 0.95:
        raise ConfigError(f"config error: compaction.threshold {threshold} must be between 0.1 and 0.95")
