"""The secrets the HTTP clients of this process were given, for redaction elsewhere.

Tokens, passwords and session keys received at login reach `HttpClient` (`http.py`); what
is stored or printed outside the HTTP layer (the store, the run summary, an error) is
cleaned of them too (`sync/secrets.py`). Kept apart from `http.py` so that redaction does
not import an HTTP stack that a run of file sources never uses.
"""

from __future__ import annotations

_HELD: set[str] = set()


def hold(*secrets: str) -> None:
    """Redact these secrets (the empty ones are none) from now on, in this process."""
    _HELD.update(s for s in secrets if s)


def session_secrets() -> frozenset[str]:
    """Every secret an `HttpClient` of this process holds, to redact outside the HTTP layer."""
    return frozenset(_HELD)


def session_secret_count() -> int:
    """How many secrets `session_secrets` holds: it only grows, so a new count means new."""
    return len(_HELD)
