"""`termagent help TOPIC` documents what the code does, from the code's own tables."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from termagent.config import DEFAULTS, ENV_OVERRIDES
from termagent.protocol import StopReason
from termagent.exits import EXIT_TABLE, code_for_reason
from termagent.headless import early_failure, exit_for
from termagent.help_topics import JSON_FIELDS, OTHER_ENVIRONMENT, TOPICS, help_command

ROOT = Path(__file__).resolve().parent.parent


def shown(capsys, topic: str) -> str:
    assert help_command(topic) == 0
    return capsys.readouterr().out


def test_every_config_key_is_listed_with_its_default(capsys):
    out = shown(capsys, "config")
    for section, keys in DEFAULTS.items():
        assert f"[{section}]" in out
        for key, value in keys.items():
            if isinstance(value, dict) and value:  # a sub-table such as [sandbox.network]
                assert f"[{section}.{key}]" in out
                assert all(f"{sub} = {json.dumps(v)}" in out for sub, v in value.items())
            else:
                assert f"{key} = {json.dumps(value)}" in out


@pytest.mark.parametrize("stop,denied", [(StopReason.END_TURN, True)] + [(stop, False) for stop in StopReason])
def test_the_documented_code_is_the_one_headless_returns(capsys, stop, denied):
    code, reason = exit_for(stop, denied)
    assert code_for_reason(reason) == code
    line = next(line for line in shown(capsys, "exit-codes").splitlines() if line.lstrip().startswith(f"{code} "))
    assert reason in line


def test_json_fields_are_the_ones_printed():
    out = io.StringIO()
    early_failure("json", "api_error", "no key", out)
    assert list(json.loads(out.getvalue())) == [field.name for field in JSON_FIELDS]


def test_every_environment_variable_the_code_reads_is_documented(capsys):
    out = shown(capsys, "environment")
    read = set()
    for path in (ROOT / "termagent").rglob("*.py"):
        read |= set(re.findall(r"environ(?:\.get)?[\[(]\"([A-Z][A-Z0-9_]+)\"", path.read_text()))
    read -= {"HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR",
             "GIT_INDEX_FILE"}  # standard ones
    documented = set(ENV_OVERRIDES) | {field.name for field in OTHER_ENVIRONMENT}
    assert read <= documented
    for name in documented:
        assert name in out


def test_rules_topic_explains_patterns(capsys):
    out = shown(capsys, "rules")
    assert "bash(npm test*)" in out and "**" in out


def test_unknown_topic_is_a_usage_error(capsys):
    assert help_command("nope") == 2
    err = capsys.readouterr().err
    assert all(name in err for name in TOPICS)


def test_help_cli_stays_light():
    code = ("import sys, termagent.cli, termagent.help_topics, termagent.exits;"
            "bad=[m for m in ('textual','rich','docker','anthropic','prompt_toolkit','termagent.core') "
            "if m in sys.modules];print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_readme_points_at_shipped_help_not_the_design_notes():
    readme = (ROOT / "README.md").read_text()
    assert "../shared" not in readme and "termagent help" in readme
    assert "offline" not in readme.lower()
    for row in EXIT_TABLE:
        assert f"| {row.code} |" in readme
