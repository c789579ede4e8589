"""Operations: what a front end asks of a session (a turn, an answer, a settings change)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from termagent.protocol.message import Message


@dataclass(frozen=True)
class Operation(Message):
    pass


IMAGE_MEDIA_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")  # what the model API takes
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # the API's limit per image, decoded


@dataclass(frozen=True)
class ImageData:
    """An image the person sent with a turn: base64 text, as the API and ACP both carry it."""

    media_type: str
    data: str

    def problem(self) -> str | None:
        """Why the model could not take this image; None when it can."""
        import base64
        import binascii

        if self.media_type not in IMAGE_MEDIA_TYPES:
            return f"{self.media_type or 'an unnamed type'} is not an image type the model takes " \
                   f"({', '.join(IMAGE_MEDIA_TYPES)})"
        try:
            size = len(base64.b64decode(self.data, validate=True))
        except (binascii.Error, ValueError):
            return "the image data is not base64"
        if size > MAX_IMAGE_BYTES:
            return f"the image is {size / 1_048_576:.1f} MB; the model takes at most {MAX_IMAGE_BYTES // 1_048_576} MB"
        return None

    def to_block(self) -> dict[str, Any]:
        """The image as an API content block."""
        return {"type": "image", "source": {"type": "base64", "media_type": self.media_type, "data": self.data}}


@dataclass(frozen=True)
class SubmitTurn(Operation):
    type: ClassVar[str] = "submit_turn"
    text: str
    images: tuple[ImageData, ...] = ()  # sent after the text, in the order given

    def __post_init__(self) -> None:
        if any(isinstance(image, dict) for image in self.images):  # rebuilt by from_dict
            object.__setattr__(self, "images", tuple(ImageData(**i) if isinstance(i, dict) else i
                                                     for i in self.images))


@dataclass(frozen=True)
class Interrupt(Operation):
    type: ClassVar[str] = "interrupt"


@dataclass(frozen=True)
class ResolveApproval(Operation):
    type: ClassVar[str] = "resolve_approval"
    request_id: str
    decision: str  # DECISION_*
    reason: str = ""


@dataclass(frozen=True)
class Shutdown(Operation):
    type: ClassVar[str] = "shutdown"


@dataclass(frozen=True)
class SetModel(Operation):
    """Use another model for a role from the next request on; answered by ModelChanged.

    Sent during a turn it waits for the turn to end, so no request is cut off mid-way.
    """

    type: ClassVar[str] = "set_model"
    model: str
    role: str = "main"


@dataclass(frozen=True)
class SetMode(Operation):
    """Change the permission mode now (plan, ask, accept-edits, auto); answered by ModeChanged."""

    type: ClassVar[str] = "set_mode"
    mode: str


@dataclass(frozen=True)
class Compact(Operation):
    """Fold older turns into the state document now (or before the running turn's next request)."""

    type: ClassVar[str] = "compact"
    focus: str = ""
