"""The Anthropic client: one streamed reply per call, with retries and a circuit breaker.

`anthropic` costs 1-2 s to import, so it is imported on first use (or warmed in a
background thread by the CLI), never at module import. The SDK's own retries are off:
we retry here so a stream that breaks half-way is retried as a whole turn and every
wait is reported to the front end.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from termagent.config import Config
from termagent.model.reply import ModelReply, ReplyBuilder
from termagent.model.request import StablePrefix, build_request
from termagent.model.sdk import import_sdk, tls_context
from termagent.model.retry import (
    RETRYABLE_STATUSES,
    Backoff,
    CircuitBreaker,
    ModelError,
    check_server_wait,
    is_spend_limit,
    parse_retry_after,
)
from termagent.model.transport import describe_connection_error
from termagent.model.watch import (
    OnWait,
    StallTimeout,
    StreamWatch,
    WaitNotice,
    countdown,
)

__all__ = ["ModelClient", "RetryNotice", "WaitNotice", "warm_import"]

STREAM_RETRYABLE_TYPES = frozenset({"overloaded_error", "api_error", "rate_limit_error", "timeout_error"})
_KEY_PATTERN = re.compile(r"sk-[A-Za-z0-9_\-]{8,}")


@dataclass(frozen=True)
class RetryNotice:
    attempt: int
    delay_s: float
    reason: str
    discarded_chars: int


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def warm_import() -> None:
    """Import the SDK in a background thread while the rest of start-up goes on."""
    import threading

    threading.Thread(target=import_sdk, daemon=True, name="warm-anthropic").start()


class ModelClient:
    def __init__(self, config: Config, seed: int | None = None) -> None:
        settings = config.section("model")
        self._config = config
        self._max_retries = int(settings["max_retries"])
        self._backoff = Backoff(float(settings["backoff_base_s"]), float(settings["backoff_max_s"]))
        self._breaker = CircuitBreaker(int(settings["breaker_failures"]))
        self._timeout_s = float(settings["request_timeout_s"])
        self._connect_timeout_s = float(settings["connect_timeout_s"])
        self._first_byte_s = float(settings["first_byte_timeout_s"])
        self._idle_s = float(settings["stream_idle_timeout_s"])
        self._max_wait_s = float(settings["max_retry_wait_s"])
        self._rng = random.Random(seed)
        self._calls_per_min = int(config.get("limits", "model_calls_per_min"))
        self._call_times: list[float] = []
        self._sdk: Any = None
        self._api_key = os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN") or ""
        self._base_url = os.environ.get("ANTHROPIC_BASE_URL") or ""
        if not self._api_key and not self._base_url:
            raise ModelError(
                "no model credentials: set ANTHROPIC_API_KEY (or ANTHROPIC_BASE_URL for a compatible server)",
                kind="auth",
            )

    def model_for(self, role: str) -> str:
        return self._config.model_for(role)

    async def complete(
        self,
        role: str,
        prefix: StablePrefix,
        messages: list[dict[str, Any]],
        on_text: Callable[[str], None] | None = None,
        on_retry: Callable[[RetryNotice], None] | None = None,
        max_tokens: int | None = None,
        on_wait: OnWait | None = None,
    ) -> ModelReply:
        """One assistant reply; raises ModelError once retries or the breaker give up.

        `on_wait` hears about silences (no first byte, a stalled stream) and retry countdowns."""
        model = self.model_for(role)
        body = build_request(model, max_tokens or int(self._config.get("model", "max_tokens")), prefix, messages)
        attempt = 0
        while True:
            if self._breaker.open:
                raise ModelError(
                    f"model API circuit open after {self._breaker.failures} consecutive failures; "
                    "check the service status or your network and try again",
                    kind="unavailable",
                )
            await self._throttle()
            builder = ReplyBuilder(on_text)
            try:
                reply = await self._stream_once(body, builder, on_wait)
                self._breaker.record_success()
                return reply
            except _Retryable as exc:
                self._breaker.record_failure()
                if attempt >= self._max_retries:
                    raise ModelError(
                        f"model API failed after {attempt + 1} attempts: {self.redact(exc.reason)}",
                        kind="unavailable",
                    ) from None
                check_server_wait(exc.retry_after, self._max_wait_s, self.redact(exc.reason))
                delay = self._backoff.delay(attempt, exc.retry_after, self._rng)
                if on_retry:
                    on_retry(RetryNotice(attempt + 1, delay, self.redact(exc.reason), builder.text_chars))
                attempt += 1
                await countdown(delay, exc.retry_after is not None, on_wait)

    async def _stream_once(self, body: dict[str, Any], builder: ReplyBuilder, on_wait: OnWait | None) -> ModelReply:
        sdk = self._client()
        anthropic = self._anthropic()
        try:
            async with StreamWatch(self._first_byte_s, self._idle_s, on_wait) as watch:
                stream = await sdk.messages.create(**body, stream=True)
                watch.headers_arrived()
                async with stream:
                    async for event in stream:
                        watch.event_arrived()
                        builder.feed(event)
                        await asyncio.sleep(0)  # a burst read at once must not starve the front end's tasks
        except asyncio.CancelledError:
            raise
        except StallTimeout as exc:
            raise _Retryable(str(exc)) from None
        except anthropic.APIStatusError as exc:
            self._raise_for_status(exc)
        except anthropic.APIConnectionError as exc:
            raise _Retryable(describe_connection_error(exc)) from None
        except Exception as exc:  # a transport error the SDK did not wrap, mid-stream
            raise _Retryable(f"stream broke: {type(exc).__name__}: {exc}") from None
        if not builder.completed:
            raise _Retryable("stream ended before message_stop")
        return builder.finish()

    def _raise_for_status(self, exc: Any) -> None:
        status = int(getattr(exc, "status_code", 0) or 0)
        message = self.redact(_error_message(exc))
        if is_spend_limit(status, message):
            raise ModelError(f"model API refused: spend limit reached ({status}): {message}", "spend_limit", status)
        if status in (401, 403):
            raise ModelError(f"model API rejected the credentials ({status}): {message}", "auth", status)
        headers = getattr(getattr(exc, "response", None), "headers", None)
        should_retry = (headers.get("x-should-retry") if headers is not None else None) != "false"
        if status == 200:  # an `error` event inside an open stream
            if _error_type(exc) in STREAM_RETRYABLE_TYPES:
                raise _Retryable(f"stream error: {message}")
            raise ModelError(f"model API stream error: {message}", "api", status)
        if should_retry and (status in RETRYABLE_STATUSES or status == 0):
            raise _Retryable(f"HTTP {status}: {message}", parse_retry_after(headers))
        raise ModelError(f"model API error {status}: {message}", "api", status)

    async def _throttle(self) -> None:
        if self._calls_per_min <= 0:
            return
        now = time.monotonic()
        self._call_times = [t for t in self._call_times if now - t < 60.0]
        if len(self._call_times) >= self._calls_per_min:
            await asyncio.sleep(60.0 - (now - self._call_times[0]))
        self._call_times.append(time.monotonic())

    def redact(self, text: str) -> str:
        """Keys never reach logs, transcripts or crash output, even inside an echoed request."""
        if self._api_key:
            text = text.replace(self._api_key, "[redacted]")
        return _KEY_PATTERN.sub("sk-[redacted]", text)

    def _anthropic(self) -> Any:
        return import_sdk()

    def _client(self) -> Any:
        if self._sdk is None:
            anthropic = self._anthropic()
            timeout = anthropic.Timeout(self._timeout_s, connect=self._connect_timeout_s)
            kwargs: dict[str, Any] = {"max_retries": 0, "timeout": timeout}
            kwargs["api_key"] = self._api_key or "no-key"
            if self._base_url:
                kwargs["base_url"] = self._base_url
            # the SDK's own default client, but over the process's one TLS context (see sdk.tls_context)
            kwargs["http_client"] = anthropic.DefaultAsyncHttpxClient(verify=tls_context(), timeout=timeout)
            self._sdk = anthropic.AsyncAnthropic(**kwargs)
        return self._sdk

    async def aclose(self) -> None:
        if self._sdk is not None:
            await self._sdk.close()
            self._sdk = None


def _error_type(exc: Any) -> str:
    body = getattr(exc, "body", None)
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("type", "")) if isinstance(error, dict) else ""


def _error_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return str(getattr(exc, "message", "") or exc)
