"""The scripted server, driven by the real anthropic SDK over real HTTP and SSE.

These tests also pin down what the SDK does with broken streams, since the agent's
model client has to handle exactly that:

- a dropped connection mid-stream raises ``httpx2.RemoteProtocolError`` straight out
  of the stream iterator (the SDK does not wrap it in ``APIConnectionError``);
- an ``event: error`` raises ``anthropic.APIStatusError`` whose ``status_code`` is
  the 200 of the stream, with the API error in ``.body``;
- truncated tool JSON is *not* an error: the SDK parses it in partial mode and
  hands back the keys that were complete; invalid JSON raises ``ValueError``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

from termagent.testing.scripted_server import (
    RecordedRequest,
    ScriptedServer,
    cut,
    fault,
    reply,
    sse_error,
    stall,
    text,
    tool_use,
    tool_use_raw,
)
from tests.session_support import eventually

USER = [{"role": "user", "content": "hi"}]
LONG_TEXT = "Streaming text über SSE — split into several deltas at seeded points. " * 3


def client(server: ScriptedServer, max_retries: int = 0) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=server.url, api_key="test", max_retries=max_retries)


async def stream(server: ScriptedServer, max_retries: int = 0, **kwargs: Any) -> tuple[Any, list[Any]]:
    """Stream one request; return the final message and the events seen."""
    params: dict[str, Any] = {"model": "claude-test", "max_tokens": 100, "messages": USER, **kwargs}
    events: list[Any] = []
    async with client(server, max_retries).messages.stream(**params) as s:
        async for event in s:
            events.append(event)
        return await s.get_final_message(), events


async def stream_until_error(server: ScriptedServer, expected: type[BaseException]) -> list[Any]:
    """Stream one request that must fail; return the events that arrived before it did."""
    events: list[Any] = []
    with pytest.raises(expected) as info:
        async with client(server).messages.stream(model="m", max_tokens=100, messages=USER) as s:
            async for event in s:
                events.append(event)
    events.append(info.value)
    return events


async def test_text_reply_arrives_intact_over_several_deltas(scripted_server: ScriptedServer) -> None:
    scripted_server.add(reply(LONG_TEXT))
    message, events = await stream(scripted_server)
    assert message.content[0].text == LONG_TEXT
    assert message.stop_reason == "end_turn"
    assert message.model == "claude-test"
    assert len([e for e in events if e.type == "text"]) > 1
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 1


async def test_tool_use_input_arrives_parsed(scripted_server: ScriptedServer) -> None:
    call = tool_use("read_file", {"path": "src/a.py", "offset": 10, "limit": 5})
    scripted_server.add(reply(text("Let me look."), call))
    message, _ = await stream(scripted_server)
    block = message.content[1]
    assert (block.type, block.id, block.name) == ("tool_use", call["id"], "read_file")
    assert block.input == {"path": "src/a.py", "offset": 10, "limit": 5}
    assert message.stop_reason == "tool_use"


async def test_request_body_and_headers_are_recorded(scripted_server: ScriptedServer) -> None:
    scripted_server.add(reply("ok"))
    tools = [{"name": "grep", "description": "d", "input_schema": {"type": "object", "properties": {}}}]
    await stream(scripted_server, system="You are terse.", tools=tools)
    (request,) = scripted_server.requests
    assert request.path == "/v1/messages"
    assert request.body["system"] == "You are terse."
    assert request.body["tools"] == tools
    assert request.body["messages"] == USER
    assert request.body["stream"] is True and request.body["max_tokens"] == 100
    assert "anthropic-version" in request.headers
    assert scripted_server.pending == 0


async def test_scripted_usage_overrides_defaults(scripted_server: ScriptedServer) -> None:
    scripted_server.add(reply("cached", usage={"cache_read_input_tokens": 900, "output_tokens": 3}))
    message, _ = await stream(scripted_server)
    assert message.usage.cache_read_input_tokens == 900
    assert message.usage.cache_creation_input_tokens == 0
    assert message.usage.output_tokens == 3
    assert message.usage.input_tokens > 0


async def test_fault_529_surfaces_as_status_error_with_retry_after(scripted_server: ScriptedServer) -> None:
    scripted_server.add(fault(529, headers={"retry-after": "7"}))
    with pytest.raises(anthropic.APIStatusError) as info:
        await stream(scripted_server)
    assert info.value.status_code == 529
    assert isinstance(info.value, anthropic.OverloadedError)
    assert info.value.response.headers["retry-after"] == "7"
    assert info.value.body["error"]["type"] == "overloaded_error"


async def test_sdk_retry_after_fault_reaches_next_step(scripted_server: ScriptedServer) -> None:
    scripted_server.add(fault(429, headers={"retry-after-ms": "1"}), reply("after retry"))
    message, _ = await stream(scripted_server, max_retries=1)
    assert message.content[0].text == "after retry"
    assert [r.headers["x-stainless-retry-count"] for r in scripted_server.requests] == ["0", "1"]


async def test_cut_mid_text_raises_instead_of_returning_partial(scripted_server: ScriptedServer) -> None:
    scripted_server.add(cut(reply(LONG_TEXT), after_events=3), reply("still serving"))
    events = await stream_until_error(scripted_server, httpx2.RemoteProtocolError)
    partial = "".join(e.text for e in events if getattr(e, "type", None) == "text")
    assert partial and LONG_TEXT.startswith(partial) and partial != LONG_TEXT
    message, _ = await stream(scripted_server)
    assert message.content[0].text == "still serving"


async def test_cut_mid_tool_json_raises(scripted_server: ScriptedServer) -> None:
    scripted_server.add(cut(tool_use("write_file", {"path": "a.py", "content": "x = 1\n" * 20}), after_events=3))
    events = await stream_until_error(scripted_server, httpx2.RemoteProtocolError)
    assert any(getattr(e, "type", None) == "input_json" for e in events)


async def test_sse_error_raises_api_status_error(scripted_server: ScriptedServer) -> None:
    scripted_server.add(sse_error(reply(LONG_TEXT), after_events=3, error_type="overloaded_error"))
    events = await stream_until_error(scripted_server, anthropic.APIStatusError)
    error = events[-1]
    assert error.status_code == 200  # the stream's own status; the API error is in the body
    assert error.body["error"]["type"] == "overloaded_error"
    assert any(getattr(e, "type", None) == "text" for e in events[:-1])


async def test_truncated_tool_json_is_silently_completed_by_the_sdk(scripted_server: ScriptedServer) -> None:
    raw = '{"path": "a.py", "old_string": "def f('
    scripted_server.add(tool_use_raw("edit_file", raw))
    message, events = await stream(scripted_server)
    # The SDK parses in partial mode: the unfinished key is dropped without an error,
    # so the agent must validate tool input against the schema itself.
    assert message.content[0].input == {"path": "a.py"}
    assert "".join(e.partial_json for e in events if e.type == "input_json") == raw


async def test_invalid_tool_json_raises_value_error(scripted_server: ScriptedServer) -> None:
    scripted_server.add(tool_use_raw("edit_file", '{"path": a.py}'))
    events = await stream_until_error(scripted_server, ValueError)
    assert "Unable to parse tool parameter JSON" in str(events[-1])


async def test_exhausted_script_answers_500_once_and_fails_the_check() -> None:
    with ScriptedServer() as server:
        with pytest.raises(anthropic.InternalServerError) as info:
            await stream(server, max_retries=2)
    assert info.value.status_code == 500
    assert "exhausted" in info.value.body["error"]["message"]
    assert len(server.requests) == 1  # x-should-retry: false stops SDK retries
    with pytest.raises(AssertionError, match="the script was exhausted"):
        server.check_finished()


async def test_a_tool_use_without_its_result_is_refused_like_the_api_does() -> None:
    """A harness that loses a tool result must fail where it happens, not pass a lenient fake."""
    lost = [{"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "grep", "input": {}}]},
            {"role": "user", "content": [{"type": "text", "text": "no result here"}]}]
    with ScriptedServer([reply("unused")]) as server:
        with pytest.raises(anthropic.BadRequestError, match="toolu_1"):
            await client(server).messages.create(model="m", max_tokens=10, messages=lost)
        answered = [*lost[:2], {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "no matches"}]}]
        message = await client(server).messages.create(model="m", max_tokens=10, messages=answered)
    assert message.content[0].text == "unused"
    with pytest.raises(AssertionError, match="without `tool_result`"):
        server.check_finished()


def test_leftover_steps_fail_the_check_unless_offered_as_spare() -> None:
    with ScriptedServer([reply("one")]) as server:
        server.add_spare(reply("maybe"))
        with pytest.raises(AssertionError, match="1 scripted step"):
            server.check_finished()


async def test_non_streaming_request_gets_plain_message(scripted_server: ScriptedServer) -> None:
    scripted_server.add(reply("summary", tool_use("grep", {"pattern": "TODO"})))
    message = await client(scripted_server).messages.create(model="m", max_tokens=50, messages=USER)
    assert [b.type for b in message.content] == ["text", "tool_use"]
    assert message.content[1].input == {"pattern": "TODO"}
    assert "stream" not in scripted_server.requests[0].body


async def test_responder_routes_before_the_queue(scripted_server: ScriptedServer) -> None:
    def route(request: RecordedRequest) -> dict[str, Any] | None:
        names = {t["name"] for t in request.body.get("tools", [])}
        return reply("from subagent") if "run_tests" in names else None

    scripted_server.responder = route
    scripted_server.add(reply("from main"))
    tools = [{"name": "run_tests", "input_schema": {"type": "object"}}]
    sub, _ = await stream(scripted_server, tools=tools)
    main, _ = await stream(scripted_server)
    assert (sub.content[0].text, main.content[0].text) == ("from subagent", "from main")


async def test_same_seed_streams_same_deltas() -> None:
    async def deltas(seed: int) -> list[str]:
        with ScriptedServer([reply(LONG_TEXT)], seed=seed) as server:
            _, events = await stream(server)
        return [e.text for e in events if e.type == "text"]

    first, again, other = await asyncio.gather(deltas(1), deltas(1), deltas(2))
    assert first == again
    assert first != other


async def test_stop_ends_a_slow_stream_instead_of_hanging() -> None:
    server = ScriptedServer([reply(LONG_TEXT)], chunk_delay_s=30)
    server.start()

    async def consume() -> None:
        async with client(server).messages.stream(model="m", max_tokens=10, messages=USER) as s:
            async for event in s:
                if event.type == "message_start":
                    await asyncio.to_thread(server.stop)

    with pytest.raises(httpx2.TransportError):
        await asyncio.wait_for(consume(), timeout=10)


async def test_a_stall_before_headers_holds_until_released(scripted_server: ScriptedServer) -> None:
    scripted_server.add(stall(), reply("after the stall"))
    request = asyncio.create_task(stream(scripted_server))
    assert await eventually(lambda: bool(scripted_server.requests))
    done, _ = await asyncio.wait({request}, timeout=0.3)
    assert not done  # no headers: the client is still waiting for its first byte
    scripted_server.release_stalls()
    with pytest.raises(anthropic.APIConnectionError):  # released: the connection closes unanswered
        await asyncio.wait_for(request, timeout=10)
    message, _ = await stream(scripted_server)
    assert message.content[0].text == "after the stall"


async def test_a_stall_mid_stream_sends_the_first_events_then_goes_quiet(scripted_server: ScriptedServer) -> None:
    scripted_server.add(stall(reply(LONG_TEXT), after_events=3))
    seen: list[str] = []

    async def consume() -> None:
        async with client(scripted_server).messages.stream(model="m", max_tokens=10, messages=USER) as s:
            async for event in s:
                seen.append(event.type)

    task = asyncio.create_task(consume())
    assert await eventually(lambda: len(seen) >= 3)
    done, _ = await asyncio.wait({task}, timeout=0.3)
    assert not done and seen[:2] == ["message_start", "content_block_start"]
    scripted_server.release_stalls()
    with pytest.raises(httpx2.TransportError):  # then the stream ends without message_stop
        await asyncio.wait_for(task, timeout=10)


def test_from_file_loads_steps_and_fills_missing_tool_ids(tmp_path: Path) -> None:
    script = {"seed": 3, "steps": [{"reply": {"content": [{"type": "tool_use", "name": "git_status", "input": {}}]}}]}
    path = tmp_path / "session.json"
    path.write_text(json.dumps(script))
    with ScriptedServer.from_file(path) as server:
        message = anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0).messages.create(
            model="m", max_tokens=5, messages=USER
        )
    assert server.seed == 3
    assert message.content[0].id == "toolu_s001"
    assert message.stop_reason == "tool_use"


@pytest.mark.parametrize(
    "step",
    [{"replay": {}}, {"reply": {"content": [{"type": "image"}]}}, {"cut": {"reply": {"content": []}}}, 42,
     {"stall": {"after_events": "3"}}],
)
def test_malformed_steps_are_rejected_when_added(step: Any) -> None:
    with pytest.raises(ValueError):
        ScriptedServer([step])
