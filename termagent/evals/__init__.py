"""`termagent eval`: run eval cases (TOML files) against the agent and score them.

Cases live in a project's `evals/*.toml` (or anywhere given); a bundled suite ships in
`builtin/` with a scripted model reply per case, so the harness and the cases prove
themselves offline. Nothing here is imported by `import termagent`.
"""
