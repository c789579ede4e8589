"""`termagent acp`: the Agent Client Protocol front end (Zed, Toad and other ACP editors).

Built on the `agent-client-protocol` SDK; like every front end it reaches the session only
through `termagent.core.door`. Nothing here is imported until the `acp` command runs.
"""
