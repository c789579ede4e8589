"""Import the Anthropic SDK without its optional aiohttp transport.

The SDK tries `import aiohttp` at import time so that `DefaultAioHttpClient` works when
the `aiohttp` extra is installed. termagent never uses that transport (it talks over the
SDK's default httpx client), yet wherever aiohttp happens to be installed (Ray's
`default` extra for `termagent batch --ray` brings it) every task paid for it: about
10 MiB of peak RSS, and aiohttp builds two TLS contexts (loading the CA bundle twice) as
it imports. So while this thread imports the SDK, aiohttp is refused; the SDK catches
the ImportError and keeps its fallback. The refusal is scoped to the importing thread
and ends with the import: anything else in the process (Ray, a test) still imports
aiohttp as usual, and if aiohttp is already loaded the SDK simply finds it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import ssl
import sys
import threading
from collections.abc import Sequence
from types import ModuleType

__all__ = ["UNUSED_EXTRAS", "import_sdk", "tls_context"]

#: Top-level packages the SDK imports only for features termagent does not use.
UNUSED_EXTRAS = frozenset({"aiohttp"})

_lock = threading.Lock()
_importing: set[int] = set()
TLS_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR")  # the variables the TLS context depends on
_tls: dict[tuple[str | None, ...], ssl.SSLContext] = {}


class _RefuseUnusedExtras(importlib.abc.MetaPathFinder):
    """Answers ImportError for UNUSED_EXTRAS, but only in a thread importing the SDK."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] in UNUSED_EXTRAS and threading.get_ident() in _importing:
            raise ModuleNotFoundError(f"{fullname} is not loaded with the Anthropic SDK in termagent", name=fullname)
        return None


_FINDER = _RefuseUnusedExtras()


def import_sdk() -> ModuleType:
    """The `anthropic` module; the first call imports it (1-2 s), later calls are a dict lookup."""
    loaded = sys.modules.get("anthropic")
    if loaded is not None and not getattr(getattr(loaded, "__spec__", None), "_initializing", False):
        return loaded
    me = threading.get_ident()
    with _lock:
        _importing.add(me)
        if _FINDER not in sys.meta_path:
            sys.meta_path.insert(0, _FINDER)
    try:
        import anthropic  # the import statement, not importlib.import_module: `-X importtime` reports it

        return anthropic
    finally:
        with _lock:
            _importing.discard(me)
            if not _importing and _FINDER in sys.meta_path:
                sys.meta_path.remove(_FINDER)


def tls_context() -> ssl.SSLContext:
    """The SDK's default TLS context (the system CA bundle, or SSL_CERT_FILE / SSL_CERT_DIR), built once
    per process and those two variables' values instead of once per client: loading the CA bundle costs
    ~0.03-0.05 s of CPU and ~1 MiB. The warm worker builds it before forking, so its tasks inherit it;
    a task whose environment names other CA files gets a context of its own."""
    key = tuple(os.environ.get(name) for name in TLS_ENV)
    with _lock:
        context = _tls.get(key)
        if context is None:
            import httpx2

            context = _tls[key] = httpx2.create_ssl_context()
        return context
