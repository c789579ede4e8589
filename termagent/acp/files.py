"""The file tools' reads and writes through the editor (`fs/read_text_file`, `fs/write_text_file`).

With these the model sees the editor's unsaved buffer, and the editor shows and tracks
the agent's edits as its own. Only content moves this way: the tools have already
confined the path, checked the policy, consulted the read ledger and taken the checkpoint
before they ask, so a path outside the workspace never reaches the editor.

The session's tools run on the ACP event loop, where the connection lives; a call from
any other thread is handed to that loop and awaited there. Every request has a deadline
and every failure (an error answer, a hang-up, no answer) is a tool error the model
reads, so an editor that misbehaves cannot stall a turn. Cancelling the turn cancels the
request with it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from acp import RequestError, schema

from termagent.core.door import (
    Check,
    FileAccess,
    FileContent,
    ToolError,
    check_on_disk,
    current_bytes,
    local_files,
    on_disk,
    text_of,
)

FS_TIMEOUT_S = 60.0  # an editor answers from memory; a minute without an answer is a broken editor
T = TypeVar("T")


@dataclass(frozen=True)
class FsChoice:
    """Which file operations go through the editor, from what its `initialize` offered."""

    read: bool = False
    write: bool = False

    @classmethod
    def offered(cls, capabilities: schema.ClientCapabilities | None) -> "FsChoice":
        fs = capabilities.fs if capabilities is not None else None
        return cls(bool(fs and fs.read_text_file), bool(fs and fs.write_text_file))

    def factory(self, client: Any) -> Callable[[str], FileAccess]:
        """What `open_session` calls with the session id: the disk, unless the editor offered fs."""
        if not (self.read or self.write):
            return local_files
        loop = asyncio.get_running_loop()
        return lambda session_id: ClientFiles(client, session_id, loop, self, local_files(session_id))


class ClientFiles:
    """A session's workspace files as the editor holds them; the disk for what the editor did not offer."""

    def __init__(self, client: Any, session_id: str, loop: asyncio.AbstractEventLoop, choice: FsChoice,
                 local: FileAccess) -> None:
        self._client, self._session_id, self._loop = client, session_id, loop
        self._choice, self._local = choice, local

    async def read(self, root: Path, resolved: Path, max_bytes: int) -> FileContent:
        if not self._choice.read:
            return await self._local.read(root, resolved, max_bytes)
        await asyncio.to_thread(check_on_disk, root, resolved, max_bytes)
        data = (await self._read_text(resolved)).encode("utf-8", "surrogatepass")
        if len(data) > max_bytes:  # the buffer grew past what the disk held
            raise ToolError("file_too_large", f"{resolved.name}'s editor buffer is {len(data)} bytes "
                            f"(limit {max_bytes} for file tools); read a window with offset/limit")
        return FileContent(data)

    async def write(self, root: Path, resolved: Path, data: bytes, mode: int | None, check: Check) -> None:
        if not self._choice.write:
            await self._local.write(root, resolved, data, mode, check)
            return
        check(await self._current(root, resolved))
        await self._call("write", resolved, lambda: self._client.write_text_file(
            session_id=self._session_id, path=str(resolved), content=text_of(data)))

    async def _current(self, root: Path, resolved: Path) -> bytes | None:
        """What the file holds just before a write, where the model read it from."""
        if not self._choice.read:
            return await asyncio.to_thread(current_bytes, root, resolved)
        if await asyncio.to_thread(on_disk, root, resolved) is None:
            return None
        return (await self._read_text(resolved)).encode("utf-8", "surrogatepass")

    async def _read_text(self, resolved: Path) -> str:
        response = await self._call("read", resolved, lambda: self._client.read_text_file(
            session_id=self._session_id, path=str(resolved)))
        return str(response.content)

    async def _call(self, verb: str, resolved: Path, request: Callable[[], Awaitable[T]]) -> T:
        try:
            return await asyncio.wait_for(on_loop(self._loop, request), FS_TIMEOUT_S)
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            raise ToolError("editor_timeout", f"the editor did not answer a {verb} of {resolved} within "
                            f"{FS_TIMEOUT_S:.0f}s", retryable=True) from None
        except RequestError as exc:
            raise ToolError("editor_error", f"the editor could not {verb} {resolved}: {_said(exc)}") from None
        except Exception as exc:  # noqa: BLE001 - a hang-up or a malformed answer: the model must hear of it
            raise ToolError("editor_error", f"the editor could not {verb} {resolved}: {exc or type(exc).__name__}"
                            ) from None


async def on_loop(loop: asyncio.AbstractEventLoop, request: Callable[[], Awaitable[T]]) -> T:
    """Run the request on the connection's loop, from whichever thread the tool runs on."""
    if asyncio.get_running_loop() is loop:
        return await request()

    async def there() -> T:
        return await request()

    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(there(), loop))


class WriteWitness:
    """What each writing call's file held just before its write, seen at the write itself.

    The bridge shows an edit as a diff. Reading the old text when it forwards the call's
    start is too late whenever the call needs no approval: its updates are forwarded in
    order behind everything before them, and the tool may have written by then (the diff
    then came out empty). So the bridge names the call the moment its start is emitted,
    before it runs, and the write records the text it replaces under that call.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # calls are announced on the emitting thread, writes run on the loop
        self._expected: dict[str, str] = {}  # resolved path -> the call about to write it
        self._replaced: dict[str, str | None] = {}  # call -> the text its write replaced (None: no file)

    def expect(self, path: str, call: str) -> None:
        with self._lock:
            self._expected[path] = call

    def replaced(self, call: str) -> tuple[bool, str | None]:
        """Whether the call wrote, and the text it replaced; forgotten once asked."""
        with self._lock:
            for path in [p for p, c in self._expected.items() if c == call]:
                del self._expected[path]
            if call not in self._replaced:
                return False, None
            return True, self._replaced.pop(call)

    def wrap(self, factory: Callable[[str], FileAccess]) -> Callable[[str], FileAccess]:
        return lambda session_id: _Witnessed(factory(session_id), self)

    def saw(self, resolved: Path, current: bytes | None) -> None:
        with self._lock:
            call = self._expected.pop(str(resolved), None)
            if call is not None:
                self._replaced[call] = None if current is None else text_of(current)


class _Witnessed:
    """A session's file access that tells the witness what each write replaces."""

    def __init__(self, inner: FileAccess, witness: WriteWitness) -> None:
        self._inner, self._witness = inner, witness

    async def read(self, root: Path, resolved: Path, max_bytes: int) -> FileContent:
        return await self._inner.read(root, resolved, max_bytes)

    async def write(self, root: Path, resolved: Path, data: bytes, mode: int | None, check: Check) -> None:
        def checked(current: bytes | None) -> None:
            check(current)
            self._witness.saw(resolved, current)

        await self._inner.write(root, resolved, data, mode, checked)


def editor_path(workspace: Path, path: str) -> str | None:
    """The absolute path to ask the editor for, when `path` is a file inside the workspace; else None."""
    from termagent.tools.workspace import resolve_in_workspace

    try:
        resolved = resolve_in_workspace(workspace, path)
    except ToolError:
        return None
    return str(resolved) if resolved != workspace.resolve() else None


def _said(exc: RequestError) -> str:
    """The editor's own words, when it sent any beyond the JSON-RPC code's name."""
    data = exc.data
    detail = data.get("message") or data.get("details") if isinstance(data, dict) else data
    return f"{exc} ({detail})" if detail else str(exc)
