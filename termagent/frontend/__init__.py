"""What the interactive front ends share (the TUI, line mode and the ACP server): slash
commands, completion, input history and the records a stored conversation is shown from.

Nothing here imports textual or prompt_toolkit, so each front end can use it.
"""
