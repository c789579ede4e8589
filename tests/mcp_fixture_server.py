"""A real MCP server (the SDK's MCPServer) with switchable misbehaviour, for the MCP tests.

`python mcp_fixture_server.py MODE [PORT]`: normal, exit (dies at start), hang (never
answers initialize), many (60 tools), http (Streamable HTTP on 127.0.0.1:PORT).
"""

from __future__ import annotations

import os
import sys
import time

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201e2d7c1b50000000049454e44ae426082")


def build(mode: str):
    from mcp.server.mcpserver import MCPServer  # not imported by exit/hang, which must be quick
    from mcp_types import ToolAnnotations

    server = MCPServer("fixture")

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def env_names() -> str:
        """The names of the environment variables this server process got."""
        return " ".join(sorted(os.environ))

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def echo(text: str) -> str:
        """Echo the text back."""
        return f"echo: {text}"

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def crash() -> str:
        """Kill this server in the middle of the call."""
        os._exit(7)

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def fail() -> str:
        """Always fails (isError)."""
        raise ValueError("the widget is broken")

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def picture():
        """A tiny PNG and a caption."""
        from mcp.server.mcpserver.utilities.types import Image

        return ["a red dot", Image(data=PNG, format="png")]

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def big() -> str:
        """A very large output."""
        return "".join(f"line {i}\n" for i in range(20000))

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    async def sleep(seconds: float) -> str:
        """Sleep, then say so."""
        import anyio

        await anyio.sleep(seconds)
        return f"slept {seconds}"

    @server.prompt(description="Ask for a review of one file.")
    def review(path: str) -> str:
        return f"Please review {path} carefully."

    @server.resource("note://hello", name="hello", description="a greeting")
    def hello() -> str:
        return "hello from a resource"

    if mode == "many":
        for i in range(60):
            server.add_tool(_numbered(i), name=f"tool_{i}", description=f"Numbered tool {i}.")
    return server


def _numbered(i: int):
    def numbered() -> str:
        return f"tool {i}"

    return numbered


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "normal"
    if mode == "exit":
        sys.stderr.write("fixture: cannot open the frobnicator database\n")
        sys.exit(3)
    if mode == "hang":
        sys.stderr.write("fixture: waiting forever\n")
        sys.stderr.flush()
        time.sleep(3600)
    server = build(mode)
    if mode == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()


if __name__ == "__main__":
    main()
