"""The warm per-user worker: one-shot runs (`--task`, git hooks) and the ACP server hand
their run to a long-lived process that has already imported the SDK, so they skip the
1-3 s import.

Standard library only at import: the client side runs before anything heavy is loaded.
"""
