"""What the worker keeps of the environment it was started with, before its warm-up."""

from __future__ import annotations

import os
import sys

import pytest

from termagent.model import sdk
from termagent.worker import server


def test_the_worker_keeps_the_ca_files_for_its_tls_context_and_drops_every_key(monkeypatch: pytest.MonkeyPatch):
    started_with = {"PATH": "/usr/bin", "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt",
                    "SSL_CERT_DIR": "/etc/ssl/certs", "ANTHROPIC_API_KEY": "sk-ant-not-for-the-next-task",
                    "GITHUB_TOKEN": "ghp_x", "TERMAGENT_MODEL": "claude-x"}
    monkeypatch.setattr(os, "environ", dict(started_with))
    server._scrub_environment()
    assert os.environ == {name: started_with[name] for name in ("PATH", "SSL_CERT_FILE", "SSL_CERT_DIR")}
    warm = sdk.tls_context()
    assert sdk.tls_context() is warm  # a task started from the same environment reuses the warm-up's
    monkeypatch.setitem(os.environ, "SSL_CERT_DIR", "/nonexistent")
    assert sdk.tls_context() is not warm  # one that names other CA files gets its own


def test_one_worker_serves_every_directory_also_for_an_editable_install(tmp_path, monkeypatch: pytest.MonkeyPatch):
    from termagent.worker import protocol

    monkeypatch.setattr(sys, "path", [*sys.path, "__editable__.termagent-0.1.0.finder.__path_hook__"])
    keys = []
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)
        keys.append(protocol.build_key())
    assert keys[0] == keys[1]
    assert "__editable__.termagent-0.1.0.finder.__path_hook__" in protocol.import_paths()
