"""Secrets: files that hold them, and the token formats that must never reach the model.

Two layers. Reading a secret-bearing file (`.env`, private keys, cloud and registry
credentials) asks first, so an injected "read .env and summarise it" needs a person.
And every tool result is passed through `redact` before it is sent or stored, so a key
that turns up anyway (`cat` in a command, a log line, a grep hit) is replaced by a
marker naming its kind. Only formats that are unmistakably credentials are redacted,
plus the value of `NAME=value` lines whose NAME says secret, so source code stays intact.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from termagent.tools.base import ArtifactSink

_TEMPLATES = (".example", ".sample", ".template", ".dist", ".defaults", ".tpl")
_SECRET_NAMES = (
    (".env", "environment file"), (".env.*", "environment file"), ("*.env", "environment file"),
    ("id_rsa*", "SSH private key"), ("id_dsa*", "SSH private key"), ("id_ecdsa*", "SSH private key"),
    ("id_ed25519*", "SSH private key"), ("*.pem", "key or certificate file"), ("*.key", "private key file"),
    ("*.p12", "key store"), ("*.pfx", "key store"), ("*.jks", "key store"), ("*.keystore", "key store"),
    ("*.kdbx", "password database"), (".netrc", "login credentials"), ("_netrc", "login credentials"),
    (".npmrc", "registry token file"), (".pypirc", "registry credentials"),
    (".git-credentials", "git credentials"), (".pgpass", "database passwords"),
    (".htpasswd", "password file"), ("credentials.json", "credentials file"),
    ("*.tfvars", "infrastructure variables"), ("terraform.tfstate*", "infrastructure state with secrets"),
    ("secrets.y*ml", "secrets file"), ("*.gpg", "encrypted secrets"), (".vault-token", "vault token"),
)
_SECRET_PAIRS = (
    (".aws", "credentials"), (".aws", "config"), (".docker", "config.json"), (".kube", "config"),
    (".ssh", "*"), (".gnupg", "*"), ("gcloud", "*"), (".azure", "*"), ("gh", "hosts.yml"),
)


def secret_file_reason(path: str) -> str | None:
    """Why reading `path` may disclose a secret, or None for an ordinary file."""
    parts = [p for p in posixpath.normpath(path.replace("\\", "/")).split("/") if p not in ("", ".")]
    if not parts:
        return None
    name = parts[-1].casefold()
    if name.endswith(_TEMPLATES) and not name.endswith(".pem"):
        return None
    if name.endswith(".pub"):
        return None
    for pattern, what in _SECRET_NAMES:
        if fnmatch.fnmatchcase(name, pattern):
            return f"reads {parts[-1]}, which may hold secrets ({what})"
    folded = [p.casefold() for p in parts[:-1]]
    for folder, pattern in _SECRET_PAIRS:
        if folder in folded and fnmatch.fnmatchcase(name, pattern):
            return f"reads {folder}/{parts[-1]}, which may hold credentials"
    return None


_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
                               r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)")),
    ("AWS access key", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b")),
    ("GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{40,255})\b")),
    ("GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}\b")),
    ("Anthropic key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{16,}")),
    ("OpenAI key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}")),
    ("Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("Stripe key", re.compile(r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}\b")),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("npm token", re.compile(r"\bnpm_[A-Za-z0-9]{36}\b")),
    ("PyPI token", re.compile(r"\bpypi-[A-Za-z0-9_-]{50,}")),
    ("JSON web token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    ("URL password", re.compile(r"(?<=://)[^\s/:@]+:[^\s/@]{3,}(?=@)")),
)
# NAME=value / NAME: value where NAME says it holds a secret; the value must be a literal.
# A read_file line number (`  3\t`) or a grep prefix (`path:3:`) may come first.
_ASSIGNED = re.compile(
    r"(?im)^((?:\s*\d+\t|[^\s:]*:\d+[:-])?\s*(?:export\s+)?[\"']?[A-Za-z0-9_.-]*"
    r"(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|AUTH|CREDENTIAL)[A-Za-z0-9_.-]*[\"']?\s*[=:]\s*)([\"']?)([^\s\"'$({\[<>]{6,})\2\s*$")


# One cheap pass first: every output of every tool goes through `redact`, almost none holds a
# secret, and the full patterns (the line-anchored assignment one above all) cost ~4 ms on a
# 300-line read. Each hint is a literal every match of its pattern contains.
_HINTS = re.compile(r"PRIVATE KEY|AKIA|ASIA|ABIA|ACCA|gh[pousr]_|github_pat_|glpat-|sk-|xox[abposr]-|k_live_|"
                    r"k_test_|AIza|npm_|pypi-|eyJ|://")
# A case-blind search is ten times slower than a plain one (0.4 ms on that read), so ASCII
# text, nearly all tool output, is upper-cased and searched plainly; other text keeps the
# case-blind search, which also matches what `upper()` would not (the Kelvin sign for K).
_ASSIGNED_NAME = r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|AUTH|CREDENTIAL"
_ASSIGNED_HINT = re.compile(_ASSIGNED_NAME)
_ASSIGNED_HINT_ANY_CASE = re.compile(_ASSIGNED_NAME, re.IGNORECASE)


def _may_assign_secret(text: str) -> bool:
    if text.isascii():
        return _ASSIGNED_HINT.search(text.upper()) is not None
    return _ASSIGNED_HINT_ANY_CASE.search(text) is not None


def redact(text: str) -> tuple[str, int]:
    """`text` with every recognised secret replaced by `[REDACTED <kind>]`, and how many were."""
    count = 0
    if _HINTS.search(text):
        for kind, pattern in _PATTERNS:
            text, found = pattern.subn(f"[REDACTED {kind}]", text)
            count += found
    if _may_assign_secret(text):
        text, found = _ASSIGNED.subn(lambda m: f"{m.group(1)}{m.group(2)}[REDACTED secret]{m.group(2)}", text)
        count += found
    return text, count


class RedactingArtifacts:
    """An artifact store that redacts what it keeps (full command output), like tool results."""

    def __init__(self, inner: ArtifactSink) -> None:
        self.inner = inner

    def put_artifact(self, session_id: str, kind: str, text: str) -> str:
        return self.inner.put_artifact(session_id, kind, redact(text)[0])

    def get_artifact(self, artifact_id: str, reader: str | None = None) -> str | None:
        return self.inner.get_artifact(artifact_id, reader)


def redacting(artifacts: ArtifactSink | None) -> ArtifactSink | None:
    if artifacts is None or isinstance(artifacts, RedactingArtifacts):
        return artifacts
    return RedactingArtifacts(artifacts)
