"""Where a person's own skills and commands live: termagent's config dir and Claude Code's
(`termagent.claude_home`, which honours `CLAUDE_CONFIG_DIR`)."""

from __future__ import annotations

from pathlib import Path

from termagent.claude_home import claude_dir

__all__ = ["claude_dir", "termagent_config_dir"]


def termagent_config_dir() -> Path:
    from termagent.config import user_config_path

    return user_config_path().parent

