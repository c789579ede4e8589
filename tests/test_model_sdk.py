"""The SDK is imported without its optional aiohttp transport, and only the SDK's import is affected:
each case runs in a fresh interpreter, since this one may have loaded both already."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import json, sys, threading
from termagent.model.sdk import import_sdk
found = {}
def other_thread():  # imports aiohttp while the main thread is inside the SDK's import
    import aiohttp
    found["other"] = aiohttp.__name__
anthropic = import_sdk()
found["with_sdk"] = "aiohttp" in sys.modules
found["finder_left"] = any(type(f).__name__ == "_RefuseUnusedExtras" for f in sys.meta_path)
thread = threading.Thread(target=other_thread); thread.start(); thread.join()
found["client"] = type(anthropic.AsyncAnthropic(api_key="x", base_url="http://127.0.0.1:9")).__name__
print(json.dumps(found))
"""


@pytest.mark.skipif(importlib.util.find_spec("aiohttp") is None, reason="aiohttp is not installed here")
def test_the_sdk_loads_without_aiohttp_and_aiohttp_stays_importable():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(out.stdout) == {"with_sdk": False, "finder_left": False, "other": "aiohttp",
                                      "client": "AsyncAnthropic"}



def test_one_tls_context_per_process_unless_the_ca_files_named_differ(monkeypatch, tmp_path):
    import ssl

    from termagent.model.sdk import tls_context

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    shared = tls_context()
    assert tls_context() is shared and shared.verify_mode == ssl.CERT_REQUIRED
    bundle = ssl.get_default_verify_paths().openssl_cafile
    if not bundle or not Path(bundle).is_file():
        pytest.skip("no system CA file to name")
    monkeypatch.setenv("SSL_CERT_FILE", bundle)  # a task whose environment names its own CA file
    own = tls_context()
    assert own is not shared and own.verify_mode == ssl.CERT_REQUIRED
