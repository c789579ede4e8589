"""`termagent help TOPIC`: the contracts a user or a script relies on, shipped with the
product and generated from the tables the code itself uses (exit codes from
`termagent.exits`, config keys and defaults from `termagent.config.DEFAULTS`, environment
overrides from `config.ENV_OVERRIDES`, rule syntax from `policy.rules`' own docs), so the
help cannot drift from the behaviour. Standard library only at import time.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Field:
    name: str
    meaning: str


JSON_FIELDS: tuple[Field, ...] = (
    Field("result", "the final answer text"),
    Field("session_id", "the stored session (null when the run failed before it opened)"),
    Field("exit_reason", "why the run ended; see `termagent help exit-codes`"),
    Field("detail", "a sentence saying what stopped the run, when something did"),
    Field("turns", "model requests made"),
    Field("usage", "input_tokens, output_tokens, cache_read_input_tokens, cache_creation_input_tokens"),
    Field("cost_usd", "what the run cost"),
    Field("tool_calls", "one {name, ok, duration_s} per call"),
    Field("subagents", "one {agent_id, agent, status, usage, cost_usd} per delegated task"),
    Field("denials", "one {tool, input, reason, decided_by} per refused action"),
)

# Printed only when the run had any (never in an early failure's object).
CONDITIONAL_JSON_FIELDS: tuple[Field, ...] = (
    Field("jobs", "one {id, command, status} per background job (bash run_in_background); status is "
                  "running, exited N or killed, as of the model's last job_output"),
)

# Variables read outside the config layer (the config ones come from ENV_OVERRIDES).
OTHER_ENVIRONMENT: tuple[Field, ...] = (
    Field("ANTHROPIC_API_KEY", "API key for the model (or ANTHROPIC_AUTH_TOKEN)"),
    Field("ANTHROPIC_AUTH_TOKEN", "bearer token, used when ANTHROPIC_API_KEY is unset"),
    Field("ANTHROPIC_BASE_URL", "an Anthropic-compatible endpoint instead of the default one"),
    Field("TERMAGENT_CONFIG_DIR", "where config.toml and trust records live (default: the user config dir)"),
    Field("TERMAGENT_STATE_DIR", "where the session store lives (default: the user state dir)"),
    Field("TERMAGENT_THEME", "a Textual theme for the full-screen app, e.g. textual-light, nord"),
    Field("TERMAGENT_SANDBOXES_DIR", "sandbox image recipes (default: the ones shipped in the package)"),
    Field("TERMAGENT_WORKER", "0 runs --task and git hooks in their own process instead of the warm worker"),
    Field("TERMAGENT_WORKER_IDLE_S", "seconds without a task before the warm worker exits (default 600)"),
    Field("TERMAGENT_RUNTIME_DIR", "where the worker's socket lives (default: $XDG_RUNTIME_DIR/termagent)"),
    Field("TERMAGENT_SKIP_HOOKS", "1 skips termagent's git hooks once"),
    Field("CLAUDE_CONFIG_DIR", "Claude Code's ~/.claude, where skills/ and commands/ are also read from"),
    Field("TERMAGENT_HARBOR_CACHE", "where the Harbor adapter keeps the wheels it ships into task containers "
                                    "(default: ~/.cache/termagent/harbor)"),
    Field("OTEL_EXPORTER_OTLP_ENDPOINT", "turns OpenTelemetry export on (traces and metrics over OTLP)"),
    Field("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "the same for traces alone"),
    Field("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf (default) or grpc; the other OTEL_* variables work as "
                                         "the OpenTelemetry SDK defines them"),
    Field("OTEL_TRACES_EXPORTER", "console prints spans to stderr (and turns export on); none turns traces off"),
    Field("OTEL_METRICS_EXPORTER", "console or none; metrics go over OTLP when an endpoint is set"),
    Field("OTEL_SERVICE_NAME", "the service name spans carry (default: termagent)"),
    Field("OTEL_RESOURCE_ATTRIBUTES", "extra resource attributes, key=value,…"),
    Field("TRACEPARENT", "a caller's W3C trace: the session becomes part of it; termagent also sets it for "
                         "the commands it runs"),
)


def exit_codes() -> str:
    from termagent.exits import EXIT_TABLE

    lines = ["Exit codes (every front end; `exit_reason` is the json field that comes with it):", ""]
    for row in EXIT_TABLE:
        head = f"  {row.code:>3}  {', '.join(row.reasons):<22} "
        lines.append(textwrap.fill(row.meaning, width=96, initial_indent=head, subsequent_indent=" " * len(head)))
    return "\n".join(lines)


def json_output() -> str:
    lines = ["--output json prints one object with these fields; --output stream-json prints every",
             "event as one JSON line, a session_finished event, then the same object with type=result.",
             "A run that fails before its session opens still prints the object (exit_reason set).", ""]
    lines += [f"  {field.name:<12} {field.meaning}" for field in JSON_FIELDS]
    lines += ["", "Only when there are any:", ""]
    lines += [f"  {field.name:<12} {field.meaning}" for field in CONDITIONAL_JSON_FIELDS]
    return "\n".join(lines)


def config_keys() -> str:
    from termagent.config import DEFAULTS

    lines = ["Config: TOML, layered (later wins key by key): these defaults, ~/.config/termagent/config.toml,",
             "the project's .termagent/config.toml (once trusted), TERMAGENT_* variables, then flags.", ""]
    for section, keys in DEFAULTS.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in keys.items() if not _table(value)]
        lines.append("")
        for key, value in keys.items():
            if _table(value):
                lines.append(f"[{section}.{key}]")
                lines += [f"{sub} = {json.dumps(v)}{KEY_NOTES.get(f'{section}.{key}.{sub}', '')}" for sub, v in value.items()]
                lines.append("")
    return "\n".join(lines).rstrip()


KEY_NOTES = {
    "sandbox.network.mode": '  # or "allowlist": the sandbox reaches only `allow`, through a proxy sidecar',
    "sandbox.network.allow": ('  # e.g. ["example.com", "*.example.org", "api.example.net:8443", "10.1.2.3"];'
                              " no port = 80/443; --allow-host PATTERN adds one for a run"),
}


def _table(value: object) -> bool:
    """A fixed sub-table such as [sandbox.network] (not an open map like mcp.servers)."""
    return isinstance(value, dict) and bool(value)


def environment() -> str:
    from termagent.config import ENV_OVERRIDES

    lines = ["Environment variables that set config keys (between the files and the flags):", ""]
    lines += [f"  {var:<26} [{section}] {key} ({kind.__name__})"
              for var, (section, key, kind) in ENV_OVERRIDES.items()]
    lines += ["", "Other variables:", ""]
    lines += [f"  {field.name:<26} {field.meaning}" for field in OTHER_ENVIRONMENT]
    return "\n".join(lines)


def rules() -> str:
    import inspect

    from termagent.policy import rules as rules_module

    doc = inspect.cleandoc(rules_module.__doc__ or "")
    return (doc + "\n\nWhere: [permissions] allow / ask / deny lists in config, or --allow/--deny RULE. "
            "See also `termagent help config`.")


def hooks() -> str:
    from termagent.lifecycle.reference import hooks_help

    return hooks_help()


def sandbox() -> str:
    from termagent.sandbox.caches import CACHE_ENV, CACHE_MOUNTS
    from termagent.sandbox.jobs import CHUNK_BYTES, KEEP_CHUNKS
    from termagent.sandbox.project_image import DEFAULT_IMAGE, PROJECT_PREFIX, RECIPE_DIR

    spool = CHUNK_BYTES * KEEP_CHUNKS // (1 << 20)
    return "\n".join([
        "Background jobs: bash with run_in_background=true starts the command in the session's sandbox and",
        "returns a job id at once; job_output(id) returns what it printed since the last read (capped like",
        f"bash output; at most the last {spool} MiB are kept) and whether it still runs; job_kill(id) kills its",
        "process group and session. Jobs have no timeout, share the container's pids and memory limits and",
        "its network namespace (a server on a port answers later commands), and end with the session.",
        "[sandbox] max_jobs caps how many run at once. A background command gets the same permission check",
        "as a foreground one. /jobs in the app lists them; headless json has `jobs`.",
        "",
        "Cache volumes ([sandbox] caches = true, the default): per-project Docker volumes, named",
        "termagent-cache-<hash of the workspace path>-<kind> and labelled termagent.cache, mounted at:",
        *[f"  {kind:<15} {target}" for kind, target in CACHE_MOUNTS],
        "and pointed to by (only cache directories: never CARGO_HOME, which holds credentials):",
        *[f"  {name}={value}" for name, value in CACHE_ENV.items()],
        "They never hold the workspace; what one session's commands put there reaches later sessions of the",
        "same project. termagent sandbox status lists them with sizes; termagent sandbox prune removes them",
        "(and stale sandbox containers).",
        "",
        f"Image: {RECIPE_DIR}/Dockerfile in a trusted project is built offline (--network none, never",
        f"pulling) FROM a local image such as {DEFAULT_IMAGE}, with that directory as the only context,",
        f"tagged {PROJECT_PREFIX}<recipe hash> and rebuilt only when the recipe or its base changes; a failed",
        "build is exit 5. Otherwise [sandbox] image (default shown by termagent sandbox status). Any image",
        "runs with the same hardening: your uid, read-only root, no capabilities, no new privileges, our",
        "seccomp profile, limits, no network; its ENTRYPOINT and HEALTHCHECK are overridden and an image that",
        "declares a VOLUME is refused.",
    ])


TOPICS: dict[str, tuple[str, Callable[[], str]]] = {
    "exit-codes": ("what each exit code and exit_reason means", exit_codes),
    "json": ("the fields of --output json / stream-json", json_output),
    "config": ("every config key with its default", config_keys),
    "environment": ("environment variables termagent reads", environment),
    "rules": ("allow / ask / deny rule syntax", rules),
    "hooks": ("lifecycle hooks: events, stdin, exit codes, answers", hooks),
    "sandbox": ("background jobs, cache volumes, project images", sandbox),
}


def help_command(topic: str | None) -> int:
    if topic is None:
        print("termagent help TOPIC, where TOPIC is one of:")
        for name, (summary, _) in TOPICS.items():
            print(f"  {name:<12} {summary}")
        return 0
    entry = TOPICS.get(topic)
    if entry is None:
        import sys

        print(f"termagent: no help topic {topic!r}; topics: {', '.join(TOPICS)}", file=sys.stderr)
        return 2
    print(entry[1]())
    return 0
