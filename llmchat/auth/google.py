"""Google Application Default Credentials for Vertex AI, through ``google-auth`` (``pip install llmchat[vertexai]``).

``google.auth`` is imported on the first request that needs a token, never by ``import llmchat``.
Credentials are found once per process (``GOOGLE_APPLICATION_CREDENTIALS``, gcloud's file, the
metadata server), or given with ``llmchat.configure(vertexai_credentials=creds)``; the token is
refreshed, under a lock, whenever it is missing or close to its expiry.

>>> headers({"token": "ya29.x", "valid": True, "quota_project_id": None})
{'Authorization': 'Bearer ya29.x'}
"""

from __future__ import annotations

import threading
from typing import Any

from llmchat.errors import ConfigurationError

__all__ = ["credentials", "headers", "project"]

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
_lock = threading.Lock()
_found: dict[str, Any] = {}     # "credentials", "project": what google.auth.default() found


def _default() -> tuple[Any, str | None]:
    with _lock:
        if "credentials" not in _found:
            _found["credentials"], _found["project"] = _find()
        return _found["credentials"], _found["project"]


def _find() -> tuple[Any, str | None]:
    """``google.auth.default()``. Its failures are raised anew outside the ``except``: their context and
    its frames would hold the credentials file's contents (a service account's private key)."""
    try:
        import google.auth
        import google.auth.exceptions
    except ImportError:
        google = None
    if google is None:
        raise ConfigurationError(
            "vertexai needs an access token or Application Default Credentials: pass api_key=<access "
            "token>, or pip install 'llmchat[vertexai]' (google-auth) and set up ADC "
            "(gcloud auth application-default login, or GOOGLE_APPLICATION_CREDENTIALS)")
    failure = None
    try:
        return google.auth.default(scopes=SCOPES)
    except google.auth.exceptions.GoogleAuthError as exc:
        failure = ConfigurationError(f"no Google credentials found for vertexai: {exc}"[:500])
    except (ValueError, OSError) as exc:
        failure = ConfigurationError(f"the Google credentials cannot be read: {type(exc).__name__}")
    raise failure


def credentials(given: Any = None) -> Any:
    """``given``, else the process's Application Default Credentials."""
    return given if given is not None else _default()[0]


def project() -> str | None:
    """The project the Application Default Credentials belong to, if they name one."""
    return _default()[1]


def headers(creds: Any) -> dict[str, str]:
    """``Authorization`` (and ``x-goog-user-project``) for ``creds``, refreshed first when needed.

    ``creds`` is a google-auth credentials object (or, for tests, a dict with its attributes).
    """
    if isinstance(creds, dict):
        token, quota = creds["token"], creds.get("quota_project_id")
    else:
        with _lock:
            if not creds.valid:
                _refresh(creds)
            token, quota = creds.token, getattr(creds, "quota_project_id", None)
    from llmchat.config import remember

    out = {"Authorization": f"Bearer {remember(token)}"}     # remembered: redacted if a server echoes it
    if quota:
        out["x-goog-user-project"] = quota
    return out


def _refresh(creds: Any) -> None:
    """Refresh ``creds``; a failure is raised anew outside the ``except`` (its context and frames hold the
    grant sent, a signed assertion or a refresh token)."""
    import google.auth.exceptions
    import google.auth.transport.requests

    from llmchat.errors import ConnectionError, UnauthorizedError

    failure: Exception | None = None
    try:
        creds.refresh(google.auth.transport.requests.Request())
    except google.auth.exceptions.TransportError:   # the token endpoint could not be reached: worth a retry
        failure = ConnectionError("could not reach Google's token endpoint to refresh the access token")
    except google.auth.exceptions.GoogleAuthError as exc:
        failure = UnauthorizedError(f"could not refresh the Google access token: {type(exc).__name__}")
    if failure is not None:
        raise failure


def expire(given: Any = None) -> bool:
    """Force a refresh of the credentials in use (after a 401: the token may have been revoked early).
    False when there are none to refresh."""
    with _lock:
        creds = given if given is not None else _found.get("credentials")
        if creds is None or isinstance(creds, dict) or not hasattr(creds, "refresh"):
            return False
        creds.token = None      # google-auth: no token means not valid, refreshed on the next request
        return True


def forget() -> None:
    """Drop the credentials found so far (they are looked up again on the next request)."""
    with _lock:
        _found.clear()
