"""Extensions a person brings from other agents: Agent Skills and custom slash commands.

Both are Markdown files with a front matter, found at session start (project ones only in a
trusted project) and fixed for the session, so the request prefix never changes mid-way.
"""
