"""Core events and stored history as ACP session updates: pure functions, no I/O but file reads.

A tool call's ACP kind comes from how the tool describes itself (its view kind, risk and
touch), never from its name, so a new tool shows sensibly without touching this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acp import helpers, schema

from termagent.frontend.records import as_blocks, result_text
from termagent.protocol import CallView, ImageData, Risk, ToolCallStarted, ViewKind

Describe = Callable[[str, dict[str, Any]], CallView]
OUTPUT_CAP = 20_000  # characters of tool output shown in the editor; the model saw it all

_KIND_BY_VIEW: dict[str, schema.ToolKind] = {ViewKind.COMMAND: "execute", ViewKind.DIFF: "edit", ViewKind.AGENT: "think"}


def tool_kind(view: str, risk: str, touch: str) -> schema.ToolKind:
    """ACP's tool kind (read, edit, execute, search, think, other) for a described call."""
    if view in _KIND_BY_VIEW:
        return _KIND_BY_VIEW[view]
    if touch in ("written", "edited"):
        return "edit"
    if view == ViewKind.FILE:
        return "read"
    if risk == Risk.READ:
        return "search"
    if risk == Risk.EXEC:
        return "execute"
    return "other"


def read_text(workspace: Path, path: str) -> str | None:
    """A workspace file's text, or None when it does not exist or is not text."""
    if not path:
        return None
    try:
        return (workspace / path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def locations(workspace: Path, paths: tuple[str, ...]) -> list[schema.ToolCallLocation] | None:
    return [schema.ToolCallLocation(path=str(workspace / p)) for p in paths] or None


def text_content(text: str) -> list[Any]:
    if len(text) > OUTPUT_CAP:
        text = text[:OUTPUT_CAP] + f"\n… ({len(text) - OUTPUT_CAP} more characters)"
    return [helpers.tool_content(helpers.text_block(text))] if text else []


def diff_content(workspace: Path, path: str, old: str | None, new: str | None) -> list[Any]:
    """The editor's diff view of one file; nothing when the text did not change."""
    if new is None or new == old:
        return []
    return [helpers.tool_diff_content(str(workspace / path), new, old)]


def proposed_text(view: CallView, args: dict[str, Any], old: str | None) -> str | None:
    """What a write or edit would leave in its file, for the approval's diff (before it runs).

    Uses the common input fields (content; old_string/new_string); a tool with other
    inputs simply shows no diff, never a wrong one."""
    if not view.writes or view.touch == "committed":
        return None
    if isinstance(args.get("content"), str):
        return str(args["content"])
    before, after = args.get("old_string"), args.get("new_string")
    if old is None or not isinstance(before, str) or not isinstance(after, str) or before not in old:
        return None
    return old.replace(before, after) if args.get("replace_all") else old.replace(before, after, 1)


def start_update(event: ToolCallStarted, view: CallView, workspace: Path, call_id: str,
                 title_prefix: str = "") -> schema.ToolCallStart:
    content = text_content(f"$ {event.command}") if event.command else []
    return helpers.start_tool_call(
        call_id, title_prefix + (event.gist or event.name), kind=tool_kind(event.view, event.risk, view.touch),
        status="in_progress", content=content, locations=locations(workspace, view.paths), raw_input=event.input)


def replay_updates(messages: list[dict[str, Any]], describe: Describe, workspace: Path) -> list[Any]:
    """A stored API-format history as the updates a client shows: user and agent messages and
    every tool call with its final status and output."""
    updates: list[Any] = []
    for message in messages:
        role = message.get("role")
        for block in as_blocks(message.get("content")):
            kind = block.get("type")
            if kind == "text" and str(block.get("text", "")).strip():
                chunk = helpers.text_block(str(block["text"]))
                updates.append(helpers.update_user_message(chunk) if role == "user"
                               else helpers.update_agent_message(chunk))
            elif kind == "image" and role == "user" and isinstance(block.get("source"), dict):
                source = block["source"]  # the person's own image, kept whole in the store: shown again
                updates.append(helpers.update_user_message(helpers.image_block(str(source.get("data", "")),
                                                                               str(source.get("media_type", "")))))
            elif kind == "tool_use":
                updates.append(_replayed_call(block, describe, workspace))
            elif kind == "tool_result":
                updates.append(helpers.update_tool_call(
                    str(block.get("tool_use_id", "")), status="failed" if block.get("is_error") else "completed",
                    content=text_content(result_text(block.get("content")))))
    return updates


def _replayed_call(block: dict[str, Any], describe: Describe, workspace: Path) -> schema.ToolCallStart:
    name, args = str(block.get("name", "")), dict(block.get("input") or {})
    view = describe(name, args)
    risk = Risk.EXEC if view.kind == ViewKind.COMMAND else Risk.READ
    return helpers.start_tool_call(str(block.get("id", "")), view.gist or name,
                                   kind=tool_kind(view.kind, risk, view.touch), status="in_progress",
                                   locations=locations(workspace, view.paths), raw_input=args)


@dataclass(frozen=True)
class PromptParts:
    """An ACP prompt as a turn: its text, its images, and a warning per part left out."""

    text: str
    images: tuple[ImageData, ...] = ()
    warnings: tuple[str, ...] = ()


class BadPrompt(ValueError):
    """A prompt part termagent refuses rather than drops (an image the model cannot take)."""


def prompt_parts(blocks: list[Any]) -> PromptParts:
    """Embedded resources (an editor's selection or open file) go in as tagged context, so
    the model sees exactly what the editor sent; links become @mentions of the path; images
    go to the model as images, and one it cannot take refuses the whole prompt (BadPrompt)."""
    parts: list[str] = []
    images: list[ImageData] = []
    warnings: list[str] = []
    for number, block in enumerate(blocks, 1):
        if isinstance(block, schema.TextContentBlock):
            parts.append(block.text)
        elif isinstance(block, schema.ImageContentBlock):
            image = ImageData(block.mime_type, block.data)
            problem = image.problem()
            if problem:
                raise BadPrompt(f"prompt block {number}: {problem}")
            images.append(image)
        elif isinstance(block, schema.EmbeddedResourceContentBlock):
            resource = block.resource
            if isinstance(resource, schema.TextResourceContents):
                parts.append(f'<context uri="{resource.uri}">\n{resource.text}\n</context>')
            else:
                warnings.append(f"binary resource {resource.uri} was left out (termagent takes text and images)")
        elif isinstance(block, schema.ResourceContentBlock):
            parts.append(f"@{_uri_path(block.uri)}")
        else:
            warnings.append(f"a {getattr(block, 'type', 'non-text')} block was left out "
                            "(termagent takes text and images)")
    return PromptParts("\n\n".join(parts), tuple(images), tuple(warnings))


def _uri_path(uri: str) -> str:
    return uri.removeprefix("file://")
