"""Anchored compaction end to end: real sessions, the scripted model over HTTP, a real store.

The scripted replies carry `usage` figures that push the measured context over the
threshold; a responder answers the requests made with the compaction prompt, so the
tests see exactly what each compaction request contained and what the model saw after.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from termagent.core.prompts import load_prompt
from termagent.core.spans import choose_cut, touched_files
from termagent.core.state_document import PINNED_HEADING, StateDocument, merge, parse
from termagent.core.trim import TRIM_MARK
from termagent.protocol import CompactionDone, Error, UsageUpdated, Warning
from termagent.store.db import Store
from termagent.tools.registry import ToolRegistry, default_tools
from termagent.testing.scripted_server import RecordedRequest, fault, reply, tool_use
from tests.session_support import make_session

WINDOW = {"model": {"context_window": 100_000, "max_retries": 0}}
OVER = {"input_tokens": 80_000, "output_tokens": 10}  # past 70% of the 100k window


def summary(marker: str) -> str:
    sections = ["Intent and constraints", "Files touched and why", "Decisions and reasons", "Errors and fixes",
                "Open problems", "Next steps"]
    return "\n".join(f"## {name}\n- {marker} {name.lower()}" for name in sections)


def is_compaction(request: RecordedRequest) -> bool:
    system = request.body.get("system") or []
    return bool(system) and system[0].get("text") == load_prompt("compaction")


class Summariser:
    """Answers compaction requests: scripted steps first, then numbered summaries."""

    def __init__(self, *steps: dict[str, Any]) -> None:
        self.steps = list(steps)
        self.count = 0

    def __call__(self, request: RecordedRequest) -> dict[str, Any] | None:
        if not is_compaction(request):
            return None
        self.count += 1
        return self.steps.pop(0) if self.steps else reply(summary(f"SUMMARY-{self.count}"))


def main_requests(server) -> list[dict[str, Any]]:
    return [r.body for r in server.requests if not is_compaction(r)]


def compaction_requests(server) -> list[dict[str, Any]]:
    return [r.body for r in server.requests if is_compaction(r)]


def request_text(body: dict[str, Any]) -> str:
    return json.dumps(body["messages"], ensure_ascii=False)


def assert_tool_pairs_intact(body: dict[str, Any]) -> None:
    """Every tool_use is answered in the very next message, and no result is orphaned."""
    messages = body["messages"]
    for index, message in enumerate(messages):
        blocks = [b for b in message["content"] if isinstance(b, dict)]
        uses = [b["id"] for b in blocks if b.get("type") == "tool_use"]
        if uses:
            following = messages[index + 1]["content"] if index + 1 < len(messages) else []
            answered = {b.get("tool_use_id") for b in following if b.get("type") == "tool_result"}
            assert set(uses) <= answered, f"tool calls {uses} not answered right after message {index}"
        results = [b["tool_use_id"] for b in blocks if b.get("type") == "tool_result"]
        if results:
            previous = messages[index - 1]["content"] if index else []
            asked = {b.get("id") for b in previous if b.get("type") == "tool_use"}
            assert set(results) <= asked, f"orphaned tool results in message {index}"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    for name in ("a.py", "b.py", "c.py"):  # big enough that folding them saves room, too small to trim
        (ws / name).write_text(f"# {name}\n" + "".join(f"VALUE_{n} = {n}\n" for n in range(150)))
    return ws


async def test_repeated_compaction_keeps_pins_and_files_and_sends_only_the_new_span(
        workspace, scripted_server, monkeypatch):
    scripted_server.responder = Summariser()
    scripted_server.add(
        reply(tool_use("read_file", {"path": "a.py"})), reply("RAW-SPAN-ONE: a.py looks fine"),
        reply(tool_use("read_file", {"path": "b.py"})), reply("RAW-SPAN-TWO: b.py read", usage=OVER),
        reply(tool_use("read_file", {"path": "c.py"})), reply("RAW-SPAN-THREE: c.py read", usage=OVER),
        reply("all done"),
    )
    session, events = make_session(workspace, scripted_server, monkeypatch,
                                   overrides={**WINDOW, "compaction": {"keep_recent_turns": 1}})
    pins = ["Fix a.py. PIN-ONE: never touch setup.cfg", "PIN-TWO: indent with tabs\n  exactly so",
            "PIN-THREE: keep the public API", "PIN-FOUR: finish up"]
    for pin in pins:
        assert (await session.run_turn(pin)).stop_reason == "end_turn"

    first, second = compaction_requests(scripted_server)
    assert "RAW-SPAN-ONE" in request_text(first) and "RAW-SPAN-TWO" in request_text(first)
    assert "RAW-SPAN-ONE" not in request_text(second) and "RAW-SPAN-TWO" not in request_text(second)
    assert "RAW-SPAN-THREE" in request_text(second) and "SUMMARY-1" in request_text(second)
    assert first["model"] == "claude-haiku-4-5" and "tools" not in first

    document = session.loop.history.state_document
    for pin in pins[:3]:
        assert pin in document
    assert parse(document).pinned == tuple(pins[:3])
    assert {path for path, _ in parse(document).files} == {"a.py", "b.py", "c.py"}
    assert "SUMMARY-2" in document and "SUMMARY-1" not in document  # the model merged; we keep its result

    done = [e for e in events if isinstance(e, CompactionDone)]
    assert [e.turns_folded for e in done] == [2, 1]
    assert all(e.tokens_after < e.tokens_before for e in done)
    assert done[-1].summary == document

    mains = main_requests(scripted_server)
    last = request_text(mains[-1])
    assert "RAW-SPAN-THREE" not in last and "SUMMARY-2" in last and "PIN-FOUR: finish up" in last
    for body in mains:
        assert_tool_pairs_intact(body)
        assert body["system"] == mains[0]["system"] and body["tools"] == mains[0]["tools"]
    assert any(isinstance(e, UsageUpdated) and e.role == "compaction" for e in events)
    assert Store().compaction_count(session.session_id) == 2


async def test_old_tool_outputs_are_trimmed_to_artifacts_without_a_model_call(
        workspace, scripted_server, monkeypatch):
    big = "".join(f"line {n:04d} of a long build log with some padding text\n" for n in range(600))
    (workspace / "build.log").write_text(big)
    (workspace / "test.log").write_text(big.replace("build", "test!"))
    scripted_server.responder = Summariser()
    scripted_server.add(
        reply(tool_use("read_file", {"path": "build.log"})), reply("read the build log"),
        reply(tool_use("read_file", {"path": "test.log"})), reply("read the test log", usage={"input_tokens": 72_000}),
        reply("fine"),
    )
    session, events = make_session(workspace, scripted_server, monkeypatch,
                                   overrides={**WINDOW, "compaction": {"keep_recent_turns": 1}})
    for task in ("look at the build log", "and the test log", "summarise"):
        await session.run_turn(task)

    assert compaction_requests(scripted_server) == []
    done = [e for e in events if isinstance(e, CompactionDone)]
    assert len(done) == 1 and done[0].turns_folded == 0 and done[0].tokens_after < done[0].tokens_before / 2
    last = main_requests(scripted_server)[-1]
    results = [b for m in last["messages"] for b in m["content"] if b.get("type") == "tool_result"]
    assert len(results) == 2 and all(TRIM_MARK in r["content"] for r in results)
    artifact = results[0]["content"].split("read_artifact id=")[1].split("]")[0]
    full = Store().get_artifact(artifact)
    assert full is not None and "line 0300 of a long build log" in full and len(full) > len(big)
    assert "line 0000" in results[0]["content"] and "line 0599" in results[0]["content"]
    assert "look at the build log" in request_text(last)  # nothing folded: the turns are all still there


async def test_failed_compaction_keeps_history_warns_and_backs_off(workspace, scripted_server, monkeypatch):
    summariser = Summariser(fault(500))
    scripted_server.responder = summariser
    scripted_server.add(
        reply("RAW-TURN-ONE"), reply("turn two", usage=OVER), reply("turn three", usage=OVER),
        reply("turn four", usage={"input_tokens": 90_000}), reply("turn five"),
    )
    session, events = make_session(workspace, scripted_server, monkeypatch,
                                   overrides={**WINDOW, "compaction": {"keep_recent_turns": 1}})
    for number in range(1, 5):
        assert (await session.run_turn(f"request {number}")).stop_reason == "end_turn"

    warnings = [e.message for e in events if isinstance(e, Warning)]
    assert any("compaction failed" in w and "full history is kept" in w for w in warnings)
    assert not any(isinstance(e, CompactionDone) for e in events)
    assert "RAW-TURN-ONE" in request_text(main_requests(scripted_server)[-1])
    assert summariser.count == 1  # turn 4 did not retry: the context had barely grown since the failure

    await session.run_turn("request 5")  # measured 90k after turn 4: grown enough to try again
    assert summariser.count == 2
    assert any(isinstance(e, CompactionDone) for e in events)
    assert "RAW-TURN-ONE" not in request_text(main_requests(scripted_server)[-1])


async def test_compact_on_demand_with_a_focus(workspace, scripted_server, monkeypatch):
    scripted_server.responder = Summariser()
    scripted_server.add(reply("one"), reply("two"), reply("three"), reply("four"))
    session, events = make_session(workspace, scripted_server, monkeypatch,
                                   overrides={"compaction": {"enabled": False, "keep_recent_turns": 1}})
    await session.run_turn("first request")
    await session.compact("")
    assert any(isinstance(e, Warning) and "nothing to compact" in e.message for e in events)
    await session.run_turn("second request")
    await session.run_turn("third request")
    await session.compact("the parser bug")

    (request,) = compaction_requests(scripted_server)
    assert "the parser bug" in request_text(request)
    (done,) = [e for e in events if isinstance(e, CompactionDone)]
    assert done.turns_folded == 2 and "first request" in done.summary and PINNED_HEADING in done.summary
    await session.run_turn("fourth request")
    first_message = main_requests(scripted_server)[-1]["messages"][0]["content"][0]["text"]
    assert first_message == done.summary


async def test_automatic_compaction_can_be_switched_off(workspace, scripted_server, monkeypatch):
    scripted_server.responder = Summariser()
    scripted_server.add(reply("one", usage=OVER), reply("two", usage=OVER), reply("three"))
    session, events = make_session(workspace, scripted_server, monkeypatch,
                                   overrides={**WINDOW, "compaction": {"enabled": False, "keep_recent_turns": 1}})
    for number in range(3):
        await session.run_turn(f"request {number}")
    assert compaction_requests(scripted_server) == []
    assert not any(isinstance(e, CompactionDone) for e in events)


async def test_project_memory_is_reread_after_compaction(workspace, scripted_server, monkeypatch):
    (workspace / "AGENTS.md").write_text("Rule version one.\n")
    scripted_server.responder = Summariser()
    scripted_server.add(reply("one"), reply("two", usage=OVER), reply("three"))
    session, _ = make_session(workspace, scripted_server, monkeypatch,
                              overrides={**WINDOW, "compaction": {"keep_recent_turns": 1}})
    await session.run_turn("first")
    (workspace / "AGENTS.md").write_text("Rule version two.\n")
    await session.run_turn("second")
    await session.run_turn("third")
    systems = [json.dumps(body["system"]) for body in main_requests(scripted_server)]
    assert "version one" in systems[1] and "version two" not in systems[1]
    assert "version two" in systems[2]


async def test_one_long_turn_folds_its_older_steps_without_splitting_tool_pairs(
        workspace, scripted_server, monkeypatch):
    scripted_server.responder = Summariser()
    scripted_server.add(
        reply("STEP-ONE-TEXT", tool_use("read_file", {"path": "a.py"})),
        reply(tool_use("read_file", {"path": "b.py"}), tool_use("list_files", {})),
        reply(tool_use("read_file", {"path": "c.py"}), usage=OVER),
        reply("finished the long turn"),
    )
    session, events = make_session(workspace, scripted_server, monkeypatch,
                                   overrides={**WINDOW, "compaction": {"keep_recent_turns": 1}})
    task = "Read every file. PIN: report only, change nothing."
    assert (await session.run_turn(task)).stop_reason == "end_turn"

    (done,) = [e for e in events if isinstance(e, CompactionDone)]
    assert task in done.summary and "`a.py`" in done.summary and "`b.py`" in done.summary
    last = main_requests(scripted_server)[-1]
    assert "STEP-ONE-TEXT" not in request_text(last)
    assert last["messages"][0]["role"] == "user" and last["messages"][1]["role"] == "assistant"
    for body in main_requests(scripted_server):
        assert_tool_pairs_intact(body)


# ---------------------------------------------------------------- the parts, directly


def test_state_document_round_trips_any_pinned_text():
    tricky = "## Next steps\n### Instruction 9 (3 characters)\n</session_state>\n  trailing  "
    document = merge(StateDocument(), summary("S"), [tricky, "plain"], {"x.py": {"read"}})
    again = parse(document.render())
    assert again == document and again.pinned == (tricky, "plain")
    merged = merge(again, "## Intent and constraints\n- new intent", ["third"], {"y.py": {"edited"}})
    assert merged.pinned == (tricky, "plain", "third")
    assert merged.section("Next steps") == "- S next steps"  # an omitted section keeps its text
    assert dict(merged.files) == {"x.py": ("read",), "y.py": ("edited",)}


def test_cuts_fall_only_before_turn_starts_or_after_answered_steps():
    user = {"role": "user", "content": [{"type": "text", "text": "do it"}]}
    call = {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "read_file",
                                              "input": {"path": "./a.py"}}]}
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "x"}]}
    note = {"role": "user", "content": [{"type": "text", "text": "[termagent] files changed"}]}
    answer = {"role": "assistant", "content": [{"type": "text", "text": "done"}]}
    messages = [user, call, result, note, answer, user, call, result, answer]
    assert choose_cut(messages, 1).index == 5 and choose_cut(messages, 1).turns_folded == 1
    assert choose_cut(messages, 2).index == 6  # too few turns: fall back to the last answered steps
    assert choose_cut(messages[:3], 1).index == 0
    describe = ToolRegistry(default_tools()).describe
    assert touched_files(messages, lambda name, args: describe(name, args, Path("."))) == {"a.py": {"read"}}


def test_sub_headings_stay_in_their_section_and_empty_sections_keep_earlier_text():
    earlier = merge(StateDocument(), summary("OLD"), [], {})
    reply = ("## Decisions and reasons\n- pin numpy\n### Why numpy<2 stays pinned in CI\n- the wheels break\n"
             "#### Open question about the next release\n- none yet\n## Next steps\n\n## Open problems")
    merged = merge(earlier, reply, [], {})
    decisions = merged.section("Decisions and reasons")
    assert "- the wheels break" in decisions and "### Why numpy<2 stays pinned in CI" in decisions
    assert "- none yet" in decisions and merged.section("Open problems") == "- OLD open problems"
    assert merged.section("Next steps") == "- OLD next steps"  # a bare heading is not "(none)"
    assert parse(merged.render()) == merged


async def test_a_compaction_that_stays_over_the_limit_waits_for_growth(workspace, scripted_server, monkeypatch):
    summariser = Summariser()
    seen: dict[str, list[Any]] = {"events": []}

    def responder(request: RecordedRequest) -> dict[str, Any] | None:
        answer = summariser(request)
        done = [e for e in seen["events"] if isinstance(e, CompactionDone)]
        if answer is None and done:  # the measured size after compaction, grown by a little
            answer = reply("ok", usage={"input_tokens": done[-1].tokens_after + 200, "output_tokens": 5})
        return answer

    scripted_server.responder = responder
    scripted_server.add(reply("one"), reply("two", usage=OVER))
    session, events = make_session(workspace, scripted_server, monkeypatch,
                                   overrides={**WINDOW, "compaction": {"keep_recent_turns": 1}})
    seen["events"] = events
    await session.run_turn("first")
    await session.run_turn("second")
    # the measured 80k for a small request makes every character count for several tokens, so
    # a short paste keeps the context over the limit after folding, yet inside the window
    paste = "a pasted log line that the user wants examined closely\n" * 10
    await session.run_turn(paste)  # kept verbatim: still over the limit after folding turns one and two
    (done,) = [e for e in events if isinstance(e, CompactionDone)]
    assert 70_000 < done.tokens_after < 100_000
    await session.run_turn("fourth")
    await session.run_turn("fifth")
    assert summariser.count == 1  # not another paid compaction on every request


# ---------------------------------------------------------------- long tasks: the kept steps alone are too big

SMALL_WINDOW = {"model": {"context_window": 8_192, "max_retries": 0}}  # the kept-steps default (6) stays


def write_big(workspace: Path, name: str, lines: int, width: int) -> str:
    """A file whose middle line is a marker, so a test can tell whether it reached the model whole."""
    body = [f"{name}-line-{n:04d} " + "x" * width for n in range(lines)]
    body[lines // 2] = f"MIDDLE-OF-{name}"
    (workspace / name).write_text("\n".join(body) + "\n")
    return f"MIDDLE-OF-{name}"


def sent_tokens(request: RecordedRequest) -> int:
    """What the scripted server counts (and reports back as usage): four characters a token."""
    return len(json.dumps(request.body)) // 4


async def test_a_task_whose_reads_fill_the_window_trims_inside_the_recent_steps(
        workspace, scripted_server, monkeypatch):
    scripted_server.responder = Summariser()
    names = ["r1.txt", "r2.txt", "r3.txt", "r4.txt"]
    markers = [write_big(workspace, name, 80, 50) for name in names]  # ~5.6k characters of output each
    scripted_server.add(*[reply(tool_use("read_file", {"path": name})) for name in names], reply("all read"))
    session, events = make_session(workspace, scripted_server, monkeypatch, overrides=SMALL_WINDOW)
    assert (await session.run_turn("Read r1 to r4 and report.")).stop_reason == "end_turn"

    requests = [r for r in scripted_server.requests if not is_compaction(r)]
    assert len(requests) == 5
    assert all(sent_tokens(r) <= 8_192 for r in requests)  # unguarded, the fifth was ~8.6k
    assert not any(isinstance(e, Warning) and "nothing can be folded" in e.message for e in events)
    for index, request in enumerate(requests[1:]):  # each read reached the model verbatim once
        assert markers[index] in request_text(request.body)
    assert any(TRIM_MARK in request_text(r.body) for r in requests)  # trimmed inside the kept steps
    assert markers[0] not in request_text(requests[-1].body)  # the oldest read: trimmed or folded
    for request in requests:
        assert_tool_pairs_intact(request.body)


async def test_a_step_too_big_for_the_window_is_not_sent_and_the_next_turn_recovers(
        workspace, scripted_server, monkeypatch):
    scripted_server.responder = Summariser()
    marker = write_big(workspace, "huge.log", 400, 90)  # ~40k characters: ~10k tokens on its own
    scripted_server.add(reply(tool_use("read_file", {"path": "huge.log"})), reply("never sent"))
    scripted_server.add_spare(reply("a smaller answer"))
    session, events = make_session(workspace, scripted_server, monkeypatch, overrides=SMALL_WINDOW)
    outcome = await session.run_turn("Read huge.log.")
    assert outcome.stop_reason == "api_error" and "context window" in outcome.detail
    assert len(scripted_server.requests) == 1  # the oversized request never went out
    errors = [e for e in events if isinstance(e, Error)]
    assert errors and "not sent" in errors[-1].message and "8,192 tokens" in errors[-1].message

    assert (await session.run_turn("Just tell me what you saw.")).stop_reason == "end_turn"
    second = scripted_server.requests[-1]
    assert sent_tokens(second) <= 8_192 and marker not in request_text(second.body)
    assert TRIM_MARK in request_text(second.body)  # the big output became an artifact, not lost


def test_an_image_counts_as_a_fixed_size_not_as_its_base64():
    from termagent.core.request_size import IMAGE_CHARS, RequestSizer
    from termagent.protocol import ImageData

    screenshot = ImageData("image/png", "A" * 3_000_000).to_block()
    said = {"role": "user", "content": [{"type": "text", "text": "what is wrong here?"}]}
    with_image = {"role": "user", "content": [*said["content"], screenshot]}
    in_a_result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                                                "content": [{"type": "text", "text": "shot"}, screenshot]}]}
    plain = RequestSizer().chars([said])
    assert plain + IMAGE_CHARS <= RequestSizer().chars([with_image]) < plain + IMAGE_CHARS + 100
    assert RequestSizer().chars([in_a_result]) < IMAGE_CHARS + 200


def test_the_meter_size_is_the_json_length_of_the_request_as_the_history_grows_and_is_trimmed():
    """The meter remembers block sizes between requests; its figure must stay the exact length
    of the request as JSON (non-ASCII text included), also after a block is swapped for a
    trimmed copy — a stale size there would hide a history over the window."""
    from termagent.core.request_size import RequestSizer

    sizer = RequestSizer()
    call = {"type": "tool_use", "id": "t1", "name": "read_file", "input": {"path": "app.py"}}
    result = {"type": "tool_result", "tool_use_id": "t1", "content": "é" * 5_000, "is_error": False}
    messages = [{"role": "user", "content": [{"type": "text", "text": "read app.py — quickly"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "ok"}, call]},
                {"role": "user", "content": [result]}]
    for _ in range(2):
        assert sizer.chars(messages) == len(json.dumps(messages, ensure_ascii=False))
    messages[2] = {"role": "user", "content": [dict(result, content="[trimmed]")]}
    messages.append({"role": "assistant", "content": "a plain string reply"})
    assert sizer.chars(messages) == len(json.dumps(messages, ensure_ascii=False))
    assert sizer.chars([]) == len("[]")
