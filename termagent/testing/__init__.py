"""Test doubles that ship with the package: the scripted Anthropic-compatible server.

They live in the package, not under tests/, because ``termagent replay`` serves a
recorded session script with the same server. Nothing here is imported by
``import termagent``.
"""
