"""A standard-library-only stdio MCP server, for running inside the sandbox image (which has
no `mcp` package). One tool, `where`, reports what the server can see of its surroundings."""

import json
import os
import socket
import sys


def where() -> str:
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=2).close()
        network = "reachable"
    except OSError:
        network = "none"
    return json.dumps({"cwd": os.getcwd(), "network": network, "env": sorted(os.environ),
                       "token": os.environ.get("SANDBOX_TOKEN", ""), "dockerenv": os.path.exists("/.dockerenv")})


def answer(message: dict) -> dict | None:
    method = message.get("method")
    if "id" not in message:
        return None
    if method == "initialize":
        result = {"protocolVersion": message["params"]["protocolVersion"], "capabilities": {"tools": {}},
                  "serverInfo": {"name": "stdlib", "version": "1"}}
    elif method == "tools/list":
        result = {"tools": [{"name": "where", "description": "Where am I?", "inputSchema": {"type": "object"},
                             "annotations": {"readOnlyHint": True}}]}
    elif method == "tools/call":
        result = {"content": [{"type": "text", "text": where()}], "isError": False}
    else:
        return {"jsonrpc": "2.0", "id": message["id"], "error": {"code": -32601, "message": "no such method"}}
    return {"jsonrpc": "2.0", "id": message["id"], "result": result}


for line in sys.stdin:
    reply = answer(json.loads(line))
    if reply is not None:
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
