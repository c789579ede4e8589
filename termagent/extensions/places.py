"""Where a person's own skills and commands live: termagent's config dir and Claude Code's.

`CLAUDE_CONFIG_DIR` moves Claude Code's `~/.claude`, and is honoured here the same way, so a
person who relocated it (and the tests) get the same folders Claude Code reads.
"""

from __future__ import annotations

import os
from pathlib import Path


def termagent_config_dir() -> Path:
    from termagent.config import user_config_path

    return user_config_path().parent


def claude_dir() -> Path:
    explicit = os.environ.get("CLAUDE_CONFIG_DIR")
    return Path(explicit) if explicit else Path.home() / ".claude"
