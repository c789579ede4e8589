"""The base of every operation and event: a frozen record that knows its wire name.

`to_dict` and `from_dict` make the same objects serve as stream-json output, the stored
event trace and test fixtures.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

_REGISTRY: dict[str, type["Message"]] = {}  # wire name -> class, filled as the classes are defined


@dataclass(frozen=True)
class Message:
    """Base of operations and events: carries its wire name in `type`."""

    type: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.type:
            _REGISTRY[cls.type] = cls

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple) and any(dataclasses.is_dataclass(v) for v in value):
                value = [dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for v in value]  # type: ignore[arg-type]
            data[f.name] = value.to_dict() if isinstance(value, Message) else value
        return data


def from_dict(data: dict[str, Any]) -> Message:
    """Rebuild an operation or event from `to_dict` output (stored traces, fixtures)."""
    cls = _REGISTRY[data["type"]]
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            value = data[f.name]
            if isinstance(value, dict) and "type" in value and value["type"] in _REGISTRY:
                value = from_dict(value)
            kwargs[f.name] = value
    return cls(**kwargs)
