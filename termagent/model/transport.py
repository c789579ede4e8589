"""Say why the model endpoint could not be reached, in words a person can act on.

The SDK reports every transport failure as "Connection error.", which hides whether
the port is closed, the host name does not resolve, TLS failed or the network timed
out. The real cause sits at the bottom of the exception's `__cause__` chain (SDK error
→ HTTP client error → OSError / ssl error), so we walk it and name the endpoint too.
"""

from __future__ import annotations

import errno
import socket
import ssl
from typing import Any

_MAX_DEPTH = 12


def exception_chain(exc: BaseException) -> list[BaseException]:
    """`exc` and every exception it was raised from or during, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < _MAX_DEPTH:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def describe_connection_error(exc: BaseException) -> str:
    """e.g. "cannot reach http://127.0.0.1:9/v1/messages: connection refused"."""
    endpoint = _endpoint(exc) or "the model API"
    return f"cannot reach {endpoint}: {connection_cause(exc)}"


def connection_cause(exc: BaseException) -> str:
    """The most specific cause found anywhere in the chain; the deepest message otherwise."""
    chain = exception_chain(exc)
    for item in chain:
        cause = _named_cause(item)
        if cause:
            return cause
    if any("timeout" in type(item).__name__.lower() for item in chain):
        return _timeout_kind(chain)
    deepest = str(chain[-1]).strip() or type(chain[-1]).__name__
    return deepest


def _named_cause(item: BaseException) -> str:
    if isinstance(item, ssl.SSLCertVerificationError):
        return f"TLS certificate not accepted ({item.verify_message or item.reason or item})"
    if isinstance(item, ssl.SSLError):
        return f"TLS handshake failed ({item.reason or item})"
    if isinstance(item, socket.gaierror):
        return f"DNS lookup failed ({item.strerror or item})"
    if isinstance(item, ConnectionRefusedError):
        return "connection refused (nothing is listening there)"
    if isinstance(item, ConnectionResetError):
        return "connection reset by the server"
    if isinstance(item, TimeoutError):
        return "timed out"
    if isinstance(item, OSError) and item.errno:
        return (item.strerror or errno.errorcode.get(item.errno, str(item))).lower()
    return ""


def _timeout_kind(chain: list[BaseException]) -> str:
    names = " ".join(type(item).__name__ for item in chain)
    if "ConnectTimeout" in names:
        return "timed out while connecting"
    if "ReadTimeout" in names:
        return "timed out waiting for data"
    return "timed out"


def _endpoint(exc: BaseException) -> str:
    try:
        request: Any = getattr(exc, "request", None)
        url = getattr(request, "url", None)
    except RuntimeError:  # httpx raises when an error carries no request
        return ""
    return str(url) if url is not None else ""
