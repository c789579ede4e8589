"""MCP client: server configuration, background connections, and the tools they add.

Nothing here imports the `mcp` SDK at module level except `connection`, which only the
background manager imports once a session actually has servers configured.
"""
