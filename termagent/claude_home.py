"""Claude Code's per-user folder, which termagent reads for skills, commands and hooks.

`CLAUDE_CONFIG_DIR` moves `~/.claude` for Claude Code, and is honoured the same way here, so a
person who relocated it (and the tests) get the folder Claude Code itself reads. Standard
library only: the config loader and the extension loaders both need it.
"""

from __future__ import annotations

import os
from pathlib import Path


def claude_dir() -> Path:
    explicit = os.environ.get("CLAUDE_CONFIG_DIR")
    return Path(explicit) if explicit else Path.home() / ".claude"
