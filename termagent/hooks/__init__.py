"""Git hooks front end: install small scripts into a repository and run them.

Importing this package is cheap (standard library only); the model, the sandbox and
the SDK load only when a hook actually needs them.
"""

HOOK_NAMES = ("pre-commit", "commit-msg", "pre-push")
