"""Anchored iterative compaction: keep a long session inside the model's context window.

Before each model request the Compactor estimates the request's size (the API's own
count for the previous request, scaled by how much the history has grown since). Past
the configured share of the window it first trims old tool outputs to artifacts (free,
deterministic); only if that is not enough does it fold the oldest turns into the
state document, sending the `compaction` model just the previous document and the newly
dropped span. Recent turns stay verbatim, cuts never split a tool call from its result,
and the user's own words are copied into the document by the harness, not the model.

When the recent steps alone are over the threshold (a few very large reads inside one
task), the tool outputs of every step but the newest are trimmed too, and if that is not
enough everything before the newest step is folded. A request still estimated over the
context window is never sent: the turn ends with an error saying why (`HaltTurn`).

Every change is stored as a snapshot (`record_compaction`) before it takes effect, so
`--resume` rebuilds exactly the request the model was seeing. A failed summary keeps
the full history, says so, and is not retried until the context has grown further; a
compaction that leaves the context still over the threshold waits the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from termagent.core.history import History
from termagent.core.request_size import RequestSizer
from termagent.core.loop import STOP_API, HaltTurn
from termagent.core.prompts import load_prompt, project_memory
from termagent.core.spans import Cut, Describe, choose_cut, clip, pinned_texts, render_span, touched_files
from termagent.core.state_document import DocumentFormatError, StateDocument, merge, parse
from termagent.core.trim import newest_step_start, trim_old_outputs
from termagent.model.request import StablePrefix
from termagent.model.retry import ModelError
from termagent.protocol import CompactionDone, ModelRequestStarted, Warning

if TYPE_CHECKING:
    from termagent.config import Config
    from termagent.core.request_hooks import PendingRequest
    from termagent.store.db import Store

DEFAULT_TOKENS_PER_CHAR = 0.25
RETRY_MARGIN_SHARE = 0.05
TRIM_HEADROOM = 0.85
PIN_CAP_CHARS = 20_000


@dataclass(frozen=True)
class CompactionSettings:
    enabled: bool
    threshold: float
    keep_recent_turns: int
    context_window: int

    @classmethod
    def from_config(cls, config: Config) -> CompactionSettings:
        section = config.section("compaction")
        return cls(bool(section["enabled"]), float(section["threshold"]), int(section["keep_recent_turns"]),
                   int(config.get("model", "context_window")))

    @property
    def limit(self) -> int:
        return int(self.context_window * self.threshold)


class ContextMeter:
    """Estimates a request's input tokens: characters times the ratio the API last reported.

    The usage the API returns for a request is exact; pairing it with that request's size
    in characters gives a per-session ratio (code, prose and JSON tokenise differently),
    used for the next request and for the figures after a compaction. Before the first
    measurement the ratio is the common rule of thumb, four characters per token.
    """

    def __init__(self) -> None:
        self.ratio = DEFAULT_TOKENS_PER_CHAR
        self._sent_chars = 0
        self._seen_tokens = 0
        self._prefix_chars: tuple[int, int] = (0, 0)  # (id of the prefix, its size)
        self._sizer = RequestSizer()

    def chars(self, prefix: StablePrefix, history: History) -> int:
        if self._prefix_chars[0] != id(prefix):
            size = len(json.dumps(prefix.system(), ensure_ascii=False)) + len(
                json.dumps(list(prefix.tools), ensure_ascii=False))
            self._prefix_chars = (id(prefix), size)
        return self._prefix_chars[1] + self._sizer.chars(history.for_request())

    def tokens(self, chars: int) -> int:
        return int(chars * self.ratio)

    def estimate(self, loop: PendingRequest) -> int:
        measured = loop.last_prompt_tokens
        if measured and measured != self._seen_tokens and self._sent_chars:
            self.ratio = measured / self._sent_chars
            self._seen_tokens = measured
        return self.tokens(self.chars(loop.prefix, loop.history))

    def note_sent(self, loop: PendingRequest) -> None:
        """Called just before a request goes out, so its measured usage can be paired with it."""
        self._sent_chars = self.chars(loop.prefix, loop.history)
        self._seen_tokens = loop.last_prompt_tokens


class Compactor:
    """Owns compaction for one session; `before_request` runs before each model request."""

    def __init__(self, config: Config, store: Store, workspace: Path, describe: Describe,
                 trusted: bool = False, before_compact: "Callable[[str, str], Awaitable[None]] | None" = None) -> None:
        self._describe = describe
        self._before_compact = before_compact  # PreCompact hooks: (trigger "auto" | "manual", focus)
        self.settings = CompactionSettings.from_config(config)
        self.meter = ContextMeter()
        self._max_tokens = int(config.get("model", "max_tokens"))
        self._store = store
        self._workspace = workspace
        self._trusted = trusted
        self._retry_floor = 0
        self._requested: str | None = None
        self._stuck_warned = False

    def request(self, focus: str = "") -> None:
        """Compact before the next model request (/compact while a turn is running)."""
        self._requested = focus

    async def before_request(self, loop: PendingRequest) -> None:
        if self._requested is not None:
            focus, self._requested = self._requested, None
            await self._run(loop, focus, forced=True)
        elif self.settings.enabled:
            estimate = self.meter.estimate(loop)
            if estimate >= max(self.settings.limit, self._retry_floor):
                await self._run(loop, "", forced=False, before=estimate)
        await self._guard_window(loop)
        self.meter.note_sent(loop)

    async def compact_now(self, loop: PendingRequest, focus: str = "") -> bool:
        """Fold the older turns now, steering the summary toward `focus`; False if nothing changed."""
        return await self._run(loop, focus, forced=True)

    async def _run(self, loop: PendingRequest, focus: str, forced: bool, before: int | None = None) -> bool:
        if self._before_compact is not None:
            await self._before_compact("manual" if forced else "auto", focus)
        history = loop.history
        before = before if before is not None else self.meter.estimate(loop)
        cut = choose_cut(history.messages, self.settings.keep_recent_turns)
        if cut.index == 0 and forced:
            cut = choose_cut(history.messages, 1)
        if cut.index == 0 and not forced:
            return await self._squeeze_recent(loop, before)
        if cut.index == 0:
            self._nothing_to_fold(loop, before, forced)
            return False
        trim = trim_old_outputs(history.messages, cut.index, self._store, history.session_id)
        if not forced and trim.trimmed and self._estimate_with(loop, trim.messages) < self._trim_target():
            self._apply(loop, trim.messages, history.state_document, 0, before)
            return True
        return await self._fold(loop, trim.messages, cut, focus, before)

    async def _fold(self, loop: PendingRequest, messages: list[dict[str, Any]], cut: Cut, focus: str,
                    before: int) -> bool:
        span, live = messages[: cut.index], messages[cut.index :]
        try:
            document = await self._summarise(loop, span, focus)
        except (ModelError, DocumentFormatError) as exc:
            self._failed(loop, before, exc)
            return False
        self._apply(loop, live, document.render(), cut.turns_folded, before)
        return True

    async def _squeeze_recent(self, loop: PendingRequest, before: int) -> bool:
        """Every step is one of the kept ones, yet together they are over the threshold: trim
        the tool outputs of all but the newest step; if that is not enough, fold everything
        before the newest step. False when there is nothing to trim or fold at all."""
        history = loop.history
        trim = trim_old_outputs(history.messages, newest_step_start(history.messages), self._store,
                                history.session_id)
        if trim.trimmed and self._estimate_with(loop, trim.messages) < self.settings.limit:
            self._apply(loop, trim.messages, history.state_document, 0, before)
            return True
        cut = choose_cut(history.messages, 1)
        if cut.index > 0 and await self._fold(loop, trim.messages, cut, "", before):
            return True
        if trim.trimmed:  # not enough, or the summary failed: still better than nothing
            self._apply(loop, trim.messages, history.state_document, 0, before)
            return True
        if cut.index == 0:
            self._nothing_to_fold(loop, before, forced=False)
        return False

    async def _guard_window(self, loop: PendingRequest) -> None:
        """Never send a request the API must reject as too long: squeeze once more, then end
        the turn. The stop reason is an API error because that is what the API would answer."""
        estimate = self.meter.estimate(loop)
        if self._fits(estimate):
            return
        if self.settings.enabled:
            await self._squeeze_recent(loop, estimate)
            estimate = self.meter.estimate(loop)
            if self._fits(estimate):
                return
        window = self.settings.context_window
        tried = ("even after trimming and folding everything older than the newest step" if self.settings.enabled
                 else "and automatic compaction is off (compaction.enabled)")
        raise HaltTurn(STOP_API, (
            f"not sent: the next request would be about {estimate:,} tokens, over the model's context window "
            f"({window:,} tokens, model.context_window), {tried}. Ask for a smaller piece "
            "(a line range, a narrower search); the next turn trims this step's output like any older one."
        ), "api")

    def _fits(self, estimate: int) -> bool:
        return estimate <= self.settings.context_window

    def _trim_target(self) -> int:
        """Trimming alone is enough only with headroom left; otherwise the session would be
        back for another small trim (and another prompt-cache miss) a turn or two later."""
        return int(self.settings.limit * TRIM_HEADROOM)

    def _estimate_with(self, loop: PendingRequest, messages: list[dict[str, Any]]) -> int:
        probe = History(loop.history.session_id)
        probe.load(messages, loop.history.last_seq, loop.history.state_document)
        return self.meter.tokens(self.meter.chars(loop.prefix, probe))

    async def _summarise(self, loop: PendingRequest, span: list[dict[str, Any]], focus: str) -> StateDocument:
        previous = parse(loop.history.state_document)
        prompt = load_prompt("compaction", self._workspace, self._trusted)
        message = _request_message(loop.history.state_document, span, focus)
        loop.emit(ModelRequestStarted("compaction", loop.model.model_for("compaction")))
        reply = await loop.model.complete("compaction", StablePrefix((prompt,), ()), [message],
                                          max_tokens=self._max_tokens)
        loop.account(reply, "compaction")
        if reply.stop_reason == "max_tokens":
            raise DocumentFormatError(f"the summary was cut off at {self._max_tokens} output tokens")
        pins = [self._pin(loop.history.session_id, text) for text in pinned_texts(span)]
        return merge(previous, reply.text, pins, touched_files(span, self._describe))

    def _pin(self, session_id: str, text: str) -> str:
        """The user's words verbatim; only a paste beyond PIN_CAP_CHARS keeps its middle in an artifact."""
        if len(text) <= PIN_CAP_CHARS:
            return text
        artifact = self._store.put_artifact(session_id, "user_message", text)
        return clip(text, PIN_CAP_CHARS) + f"\n[the full message is artifact {artifact}; read it with read_artifact]"

    def _apply(self, loop: PendingRequest, live: list[dict[str, Any]], document: str, turns: int, before: int) -> None:
        history = loop.history
        self._store.record_compaction(history.session_id, history.last_seq, document, live)
        history.load(live, history.last_seq, document)
        loop.prefix = refreshed_prefix(loop.prefix, self._workspace)
        after = self.meter.tokens(self.meter.chars(loop.prefix, history))
        self._retry_floor = after + self._margin()  # still over the limit: wait for more growth, not every request
        self._stuck_warned = False
        loop.emit(CompactionDone(turns, before, after, document))

    def _failed(self, loop: PendingRequest, before: int, exc: Exception) -> None:
        self._retry_floor = before + self._margin()
        loop.emit(Warning(
            f"compaction failed ({exc}); the full history is kept. The next attempt waits until the "
            f"context grows by about {self._margin():,} tokens; /compact tries now."
        ))

    def _nothing_to_fold(self, loop: PendingRequest, before: int, forced: bool) -> None:
        self._retry_floor = before + self._margin()
        if forced:
            loop.emit(Warning("nothing to compact yet: the conversation is no longer than the turns kept verbatim"))
        elif not self._stuck_warned:
            self._stuck_warned = True
            share = before / max(1, self.settings.context_window)
            loop.emit(Warning(
                f"the context is about {share:.0%} full but everything in it is recent; "
                "nothing can be folded yet (a very long single step?)"
            ))

    def _margin(self) -> int:
        return max(1_000, int(self.settings.context_window * RETRY_MARGIN_SHARE))


def refreshed_prefix(prefix: StablePrefix, workspace: Path) -> StablePrefix:
    """The same prefix with project memory re-read; the identical object if nothing changed,
    so the system blocks stay byte-identical and the prompt cache keeps hitting."""
    blocks = list(prefix.system_blocks)
    memory = project_memory(workspace)
    if len(blocks) >= 2:
        blocks[1] = memory
    elif memory:
        blocks.append(memory)
    fresh = StablePrefix(tuple(blocks), prefix.tools)
    return prefix if fresh == prefix else fresh


def _request_message(document: str, span: list[dict[str, Any]], focus: str) -> dict[str, Any]:
    current = document if document.strip() else "(none yet: this is the first compaction of the session)"
    parts = ["<current_state_document>", current, "</current_state_document>", ""]
    if focus.strip():
        parts += [f"The user asked for this compaction with a focus; give it more detail: {focus.strip()}", ""]
    parts += ["<span_being_removed>", render_span(span), "</span_being_removed>", "",
              "Return the merged document: the six sections, nothing else."]
    return {"role": "user", "content": [{"type": "text", "text": "\n".join(parts)}]}
