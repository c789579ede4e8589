"""An MCP tool result (or failure) as the ToolResult the model sees.

Text blocks are joined; structured content is shown as JSON when there is no text to
mirror it; images, audio and blobs are described and stored whole as artifacts. Output
is capped like bash, with the full text kept as an artifact the model can page through.
`isError` and transport failures become `{"error": {"type", "message", "retryable"}}`.
"""

from __future__ import annotations

import json
from typing import Any

from termagent.sandbox.output_cap import HeadTailBuffer
from termagent.tools.base import ToolContext, ToolError, ToolResult

DEFAULT_CAP_BYTES = 30_000
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
IMAGE_CAP_BASE64 = 5_000_000


def to_tool_result(result: Any, ctx: ToolContext, label: str) -> ToolResult:
    content = getattr(result, "content", None) or []
    images = tuple(block for block in (image_block(b) for b in content) if block is not None)
    parts = [_block_text(b, ctx, label) for b in content if image_block(b) is None]
    structured = getattr(result, "structured_content", None)
    if structured is not None and not any(getattr(b, "type", "") == "text" for b in result.content or []):
        parts.append(json.dumps(structured, ensure_ascii=False, indent=1))
    text = "\n".join(p for p in parts if p) or ("(image)" if images else "(the tool returned no content)")
    if getattr(result, "is_error", False):
        error = ToolError("mcp_tool_error", capped(text, ctx, label), retryable=False)
        return ToolResult(output=error.payload(), ok=False, error_type=error.type)
    return ToolResult(output=capped(text, ctx, label), images=images)


def image_block(block: Any) -> dict[str, Any] | None:
    """An MCP image the API accepts (its formats, up to the size cap) as an image block, else None."""
    if getattr(block, "type", "") != "image" or block.mime_type not in IMAGE_TYPES:
        return None
    if len(block.data) > IMAGE_CAP_BASE64:
        return None
    return {"type": "image", "source": {"type": "base64", "media_type": block.mime_type, "data": block.data}}


def resource_result(result: Any, ctx: ToolContext, label: str) -> ToolResult:
    parts = []
    for item in getattr(result, "contents", None) or []:
        text = getattr(item, "text", None)
        if text is not None:
            parts.append(text)
        else:
            parts.append(_stored(ctx, label, str(getattr(item, "blob", "")), getattr(item, "mime_type", None) or "blob"))
    return ToolResult(output=capped("\n".join(parts) or "(empty resource)", ctx, label))


def capped(text: str, ctx: ToolContext, label: str) -> str:
    cap = int(ctx.config.get("sandbox", "output_cap_bytes")) if ctx.config is not None else DEFAULT_CAP_BYTES
    buffer = HeadTailBuffer(cap)
    buffer.feed(text.encode("utf-8", "replace"))
    shown = buffer.render()
    full = buffer.full_text()
    if full is not None and ctx.artifacts is not None:
        artifact = ctx.artifacts.put_artifact(ctx.session_id, "mcp", full)
        shown += f"\n[full output of {label} ({len(full)} chars) stored as {artifact}: read slices with read_artifact]"
    return shown


def _block_text(block: Any, ctx: ToolContext, label: str) -> str:
    kind = getattr(block, "type", "")
    if kind == "text":
        return str(block.text)
    if kind in ("image", "audio"):
        return _stored(ctx, label, str(block.data), f"{kind} {block.mime_type}")
    if kind == "resource":
        inner = block.resource
        text = getattr(inner, "text", None)
        return f"[resource {inner.uri}]\n{text}" if text is not None else _stored(
            ctx, label, str(getattr(inner, "blob", "")), f"resource {inner.uri}")
    if kind == "resource_link":
        return f"[resource link: {block.uri}" + (f" ({block.description})" if block.description else "") + "]"
    return f"[{kind or 'unknown'} content not shown]"


def _stored(ctx: ToolContext, label: str, data: str, what: str) -> str:
    """Binary content (base64) is kept as an artifact and named, not pasted into the context."""
    if ctx.artifacts is None:
        return f"[{what}, {len(data)} base64 chars, not shown]"
    artifact = ctx.artifacts.put_artifact(ctx.session_id, "mcp-binary", data)
    return f"[{what}, {len(data)} base64 chars, stored as {artifact}]"


def failure(kind: str, message: str, retryable: bool) -> ToolResult:
    error = ToolError(kind, message, retryable)
    return ToolResult(output=error.payload(), ok=False, error_type=kind)
