"""What a client may choose per session: the permission modes and the main model."""

from __future__ import annotations

import json
from importlib import resources

from acp import schema

from termagent.core.door import SessionLike

_MODE_TEXT = {
    "plan": ("Plan", "read and propose; nothing is written or run"),
    "ask": ("Ask", "ask before every write and command"),
    "accept-edits": ("Accept edits", "file edits run without asking; commands still ask"),
    "auto": ("Auto", "run what the rules and the classifier allow without asking"),
}
MODEL_OPTION = "model"


def mode_state(session: SessionLike) -> schema.SessionModeState:
    modes = [schema.SessionMode(id=mode, name=name, description=text) for mode, (name, text) in _MODE_TEXT.items()]
    return schema.SessionModeState(current_mode_id=session.status().mode, available_modes=modes)


def known_models() -> list[str]:
    """The models termagent has prices for: the ones it can account for."""
    data = json.loads(resources.files("termagent.data").joinpath("prices.json").read_text())
    return sorted(name for name in data.get("models", {}) if isinstance(name, str))


def config_options(session: SessionLike) -> list[schema.SessionConfigOptionSelect | schema.SessionConfigOptionBoolean]:
    current = session.status().model
    names = known_models()
    if current not in names:
        names.insert(0, current)
    choices = [schema.SessionConfigSelectOption(value=name, name=name) for name in names]
    return [schema.SessionConfigOptionSelect(id=MODEL_OPTION, name="Model", category="model", type="select",
                                             current_value=current, options=choices,
                                             description="the main agent's model, from the next request on")]
