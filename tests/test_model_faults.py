"""The model API misbehaving the ways real networks do: silence, long retry-afters, no route.

Every test talks to the scripted server (or a closed port) through the real SDK. Stalled
steps are held by the server until the test ends, so the only waits are the client's own
short deadlines; each run is also bounded, so a client that would sit out the SDK's
600 s read timeout fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import io
import json
import random
import types
from pathlib import Path

import pytest

from termagent.headless import run_headless
from termagent.model.retry import Backoff
from termagent.protocol import ModelRetrying, ModelWaiting
from termagent.testing.scripted_server import fault, reply, stall, text
from tests.hooks_support import closed_port_url
from tests.session_support import make_session

BOUND_S = 30.0  # far above the 1 s deadlines below, far below the SDK's 600 s
SHORT = {"first_byte_timeout_s": 1.0, "stream_idle_timeout_s": 1.0}


def after_the_stall(server, answer: str):
    """Answer every request but the first (the stalled one): on a loaded machine a healthy
    request may miss a 1 s deadline too, and its retry must get the answer, not an empty script."""
    return lambda request: None if len(server.requests) == 1 else reply(text(answer))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


async def headless(session):
    out, err = io.StringIO(), io.StringIO()
    result = await asyncio.wait_for(run_headless(session, "hello", "json", out, err), BOUND_S)
    return result, out.getvalue(), err.getvalue()


async def test_no_response_headers_is_retried_at_the_first_byte_deadline(workspace, scripted_server, monkeypatch):
    scripted_server.add(stall())
    scripted_server.responder = after_the_stall(scripted_server, "answer after the stall")
    session, events = make_session(workspace, scripted_server, monkeypatch, overrides={"model": SHORT})
    result, out, err = await headless(session)
    assert result.exit_code == 0 and json.loads(out)["result"] == "answer after the stall"
    first, second = scripted_server.requests[:2]
    assert second.received_at - first.received_at < 10  # the deadline, not the SDK's 600 s read timeout
    retries = [e for e in events if isinstance(e, ModelRetrying)]
    assert "no response from the model within 1 s" in retries[0].reason
    waiting = [e for e in events if isinstance(e, ModelWaiting)]
    assert waiting and waiting[0].message.startswith("waiting for the model (")
    assert "first_byte_timeout_s" in err


async def test_a_stream_stalled_after_three_events_is_retried_as_a_whole(workspace, scripted_server, monkeypatch):
    partial = reply(text("this reply goes quiet half way and is thrown away"))
    scripted_server.add(stall(partial, after_events=3))
    scripted_server.responder = after_the_stall(scripted_server, "clean answer")
    session, events = make_session(workspace, scripted_server, monkeypatch, overrides={"model": SHORT})
    result, out, _ = await headless(session)
    assert result.exit_code == 0 and json.loads(out)["result"] == "clean answer"
    retries = [e for e in events if isinstance(e, ModelRetrying)]
    assert "stream stalled" in retries[0].reason and "after 3 events" in retries[0].reason
    assert retries[0].discarded_chars > 0  # the front end is told the streamed text is void
    assert any(isinstance(e, ModelWaiting) for e in events)


async def test_a_retry_after_longer_than_the_maximum_ends_at_once_naming_the_wait(
        workspace, scripted_server, monkeypatch):
    scripted_server.add(fault(429, headers={"retry-after": "150"}))
    scripted_server.add_spare(reply(text("never")))
    session, _ = make_session(workspace, scripted_server, monkeypatch, overrides={"model": {"max_retry_wait_s": 120.0}})
    result, _, err = await headless(session)
    assert result.exit_code == 3 and result.exit_reason == "api_error"
    assert len(scripted_server.requests) == 1  # not retried early into a second refusal
    assert "asked to wait 150 s" in err and "max_retry_wait_s (120 s)" in err


async def test_a_retry_after_within_the_maximum_is_waited_out_with_a_countdown(
        workspace, scripted_server, monkeypatch):
    scripted_server.add(fault(429, headers={"retry-after-ms": "400"}), reply(text("ok")))
    session, events = make_session(workspace, scripted_server, monkeypatch)
    result, _, _ = await headless(session)
    assert result.exit_code == 0
    first, second = scripted_server.requests
    assert second.received_at - first.received_at >= 0.4
    countdown = [e for e in events if isinstance(e, ModelWaiting)]
    assert countdown[0].remaining_s == 0.4 and "retrying in 0.4 s" in countdown[0].message


def test_backoff_takes_the_servers_wait_whole():
    assert Backoff(base_s=1.0, max_s=8.0).delay(0, 150.0, random.Random(1)) == 150.0


async def test_a_refused_connection_names_the_endpoint_and_the_cause(workspace, monkeypatch):
    down = types.SimpleNamespace(url=closed_port_url())
    session, _ = make_session(workspace, down, monkeypatch, overrides={"model": {"max_retries": 0}})
    result, _, err = await headless(session)
    assert result.exit_code == 3
    assert f"cannot reach {down.url}/v1/messages: connection refused" in err
    assert "Connection error." not in err


async def test_tls_to_a_plain_http_server_says_tls_failed(workspace, scripted_server, monkeypatch):
    tls = types.SimpleNamespace(url=scripted_server.url.replace("http://", "https://"))
    session, _ = make_session(workspace, tls, monkeypatch, overrides={"model": {"max_retries": 0}})
    _, _, err = await headless(session)
    assert f"cannot reach {tls.url}/v1/messages: TLS handshake failed" in err


async def test_an_unknown_host_says_dns_failed(workspace, monkeypatch):
    nowhere = types.SimpleNamespace(url="http://model-endpoint.invalid")
    session, _ = make_session(workspace, nowhere, monkeypatch, overrides={"model": {"max_retries": 0}})
    _, _, err = await headless(session)
    assert "cannot reach http://model-endpoint.invalid/v1/messages: DNS lookup failed" in err
