"""The one failure type tools raise: the registry turns it into the model's structured error."""

from __future__ import annotations

import json


class ToolError(Exception):
    """A failure the model should see and can act on."""

    def __init__(self, type: str, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.type = type
        self.message = message
        self.retryable = retryable

    def payload(self) -> str:
        return json.dumps({"error": {"type": self.type, "message": self.message, "retryable": self.retryable}})
