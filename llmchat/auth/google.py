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
            try:
                import google.auth
                import google.auth.exceptions
            except ImportError:
                raise ConfigurationError(
                    "vertexai needs an access token or Application Default Credentials: pass api_key=<access "
                    "token>, or pip install 'llmchat[vertexai]' (google-auth) and set up ADC "
                    "(gcloud auth application-default login, or GOOGLE_APPLICATION_CREDENTIALS)") from None
            try:
                _found["credentials"], _found["project"] = google.auth.default(scopes=SCOPES)
            except google.auth.exceptions.DefaultCredentialsError as exc:
                raise ConfigurationError(f"no Google credentials found for vertexai: {exc}") from None
        return _found["credentials"], _found["project"]


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
    out = {"Authorization": f"Bearer {token}"}
    if quota:
        out["x-goog-user-project"] = quota
    return out


def _refresh(creds: Any) -> None:
    import google.auth.exceptions
    import google.auth.transport.requests

    from llmchat.errors import ConnectionError, UnauthorizedError

    try:
        creds.refresh(google.auth.transport.requests.Request())
    except google.auth.exceptions.TransportError:   # the token endpoint could not be reached: worth a retry
        raise ConnectionError("could not reach Google's token endpoint to refresh the access token") from None
    except google.auth.exceptions.GoogleAuthError as exc:
        raise UnauthorizedError(f"could not refresh the Google access token: {type(exc).__name__}") from None


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
