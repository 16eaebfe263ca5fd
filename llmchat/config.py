"""Settings: ``llmchat.configure(...)``, else the environment, else the defaults."""

from __future__ import annotations

import math
import os
import re
from typing import Any

from llmchat.errors import ConfigurationError

__all__ = ["SECRET_HEADER", "Secret", "check_option", "check_seconds", "check_url", "configure", "known_secrets",
           "remember", "reveal", "settings"]

# Header names whose values are masked in logs and errors (Authorization, X-Api-Key, X-Goog-Api-Key,
# Ocp-Apim-Subscription-Key, X-Auth-Token, Cookie, ...): better one harmless header masked than a key shown.
SECRET_HEADER = re.compile(r"(auth|key|token|secret|cookie|password|credential|signature)", re.I)

DEFAULTS: dict[str, Any] = {
    "default_model": None,
    "request_timeout": 300.0,     # seconds of silence allowed between bytes
    "total_timeout": None,        # seconds for a whole response, pings or not (None: no limit)
    "connect_timeout": 10.0,
    "max_retries": 3,
    "retry_interval": 0.1,
    "retry_backoff_factor": 2.0,
    "retry_max_interval": 30.0,
    "max_tool_rounds": 25,
    "max_event_size": 16 * 1024 * 1024,   # bytes of one streamed event; a larger one ends the stream (StreamError)
}

# Process-wide settings that are not chat options: where chats are stored, where jobs run, how events travel.
GLOBAL: dict[str, Any] = {
    "store": None,        # LLMCHAT_STORE, default "sqlite:///llmchat.db"
    "queue": None,        # LLMCHAT_QUEUE: None (threads of this process) or "redis://..." (RQ)
    "broadcast": None,    # LLMCHAT_BROADCAST
}

# Provider settings: "{provider}_api_key" and "{provider}_api_base" for every provider name.
_PROVIDER_SUFFIXES = ("_api_key", "_api_base")
_SECRET_SUFFIXES = ("_api_key", "_token", "_secret_access_key")   # kept as Secret values

_settings: dict[str, Any] = {}

# Every key value llmchat was given (wrapped in a Secret): redacted from server text in errors and logs.
_SECRETS: dict[str, None] = {}
_sorted_secrets: tuple[str, ...] = ()
MIN_SECRET = 6      # shorter values would redact ordinary words

_NUMBERS = ("request_timeout", "total_timeout", "connect_timeout", "retry_interval", "retry_backoff_factor",
            "retry_max_interval")
_COUNTS = ("max_retries", "max_tool_rounds")


def check_option(name: str, value: Any) -> None:
    """A :class:`ConfigurationError` unless ``value`` fits setting ``name`` (None always fits: the default).

    >>> check_option("request_timeout", "5")
    Traceback (most recent call last):
    llmchat.errors.ConfigurationError: request_timeout must be a number of seconds (int or float), got str '5'
    """
    if value is None:
        return
    if name in _NUMBERS:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ConfigurationError(f"{name} must be a number of seconds (int or float), "
                                     f"got {type(value).__name__} {value!r}"[:200])
    elif name in _COUNTS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigurationError(f"{name} must be an int >= 0, got {type(value).__name__} {value!r}"[:200])
    elif name == "default_model" and not isinstance(value, str):
        raise ConfigurationError(f"default_model must be a str, got {type(value).__name__}")
    elif (name == "api_key" or name.endswith(_SECRET_SUFFIXES)) and not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a str, got {type(value).__name__}")   # never the value: a key


def check_seconds(value: Any, name: str, *, zero: bool = False) -> None:
    """``value`` must be a finite number of seconds, above 0 (or at least 0 when ``zero``).

    >>> check_seconds(0, "heartbeat")
    Traceback (most recent call last):
    llmchat.errors.ConfigurationError: heartbeat must be a number of seconds above 0, not 0
    """
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not number or value < 0 or (value == 0 and not zero):
        least = "0 or more" if zero else "above 0"
        raise ConfigurationError(f"{name} must be a number of seconds {least}, not {value!r}")


def check_url(url: Any, query: bool = False) -> None:
    """A :class:`ConfigurationError` unless ``url`` is an http(s) base URL without fragment, and without
    query unless ``query`` (a provider whose base URLs carry one, such as Azure's ``?api-version=``).

    >>> check_url("localhost:8080/v1")      # doctest: +ELLIPSIS
    Traceback (most recent call last):
    llmchat.errors.ConfigurationError: base_url must be an http:// or https:// URL ... got 'localhost:8080/v1'
    """
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url) if isinstance(url, str) else None
        bad = parts is None or parts.scheme not in ("http", "https") or not parts.hostname \
            or (not query and (bool(parts.query) or "?" in url)) or bool(parts.fragment) or "#" in url
        if not bad:
            parts.port      # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        bad = True
    if bad:
        shown = url.split("?")[0].split("#")[0] if isinstance(url, str) else url   # a query may hold a key
        raise ConfigurationError("base_url must be an http:// or https:// URL with a host, without query or "
                                 f"fragment (like 'https://api.example.com/v1'), got {shown!r}"[:300])


def known_secrets() -> tuple[str, ...]:
    """The key values to redact, longest first (so a key containing another is redacted whole)."""
    return _sorted_secrets


def remember(value: Any) -> Any:
    """Redact ``value`` (a token a provider obtained, a secret key) from errors and logs from now on; returns it."""
    if isinstance(value, str):
        _remember(value)
    return value


def _remember(value: str) -> None:
    global _sorted_secrets
    if len(value) >= MIN_SECRET and value not in _SECRETS:
        _SECRETS[value] = None
        _sorted_secrets = tuple(sorted(_SECRETS, key=len, reverse=True))


class Secret:
    """A value that never shows itself in a repr, a log line or an error.

    >>> key = Secret("sk-live-123")
    >>> key, str(key), key.reveal()
    (Secret('***'), '***', 'sk-live-123')
    """

    __slots__ = ("_value",)

    def __init__(self, value: str, remember: bool = True) -> None:
        """``remember=False``: masked, but not redacted from server text (a one-time signature)."""
        self._value = value
        if remember and isinstance(value, str):
            _remember(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self):
        return (Secret, (self._value,))


def reveal(value: Any) -> Any:
    """The value itself, unwrapped if it is a :class:`Secret`."""
    return value.reveal() if isinstance(value, Secret) else value


def _check_name(name: str) -> None:
    if name in DEFAULTS or name in GLOBAL:
        return
    from llmchat import providers

    for suffix in _PROVIDER_SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in providers.names():
            return
    extra = [f"{p}_{s}" for p in providers.names() for s in providers.get(p).settings]   # azure_api_version...
    if name in extra:
        return
    known = sorted(DEFAULTS) + sorted(GLOBAL) + extra
    known += [f"{p}{s}" for p in providers.names() for s in _PROVIDER_SUFFIXES]
    raise ConfigurationError(f"unknown setting {name!r}; known settings: {', '.join(known)}")


def configure(**values: Any) -> None:
    """Set defaults for every chat made afterwards.

    >>> configure(request_timeout=120, max_retries=2)
    >>> settings("request_timeout"), settings("max_retries")
    (120, 2)
    >>> configure(request_timeout=None, max_retries=None)   # None restores the default
    """
    for name, value in values.items():
        _check_name(name)
        check_option(name, value)
        if name.endswith("_api_base") and value is not None:
            from llmchat import providers

            check_url(value, query=providers.get(name[: -len("_api_base")]).base_query)
    for name, value in values.items():
        if value is None:
            _settings.pop(name, None)
        else:
            _settings[name] = Secret(value) if name.endswith(_SECRET_SUFFIXES) and isinstance(value, str) else value


def settings(name: str, env: str | None = None) -> Any:
    """The value of one setting: configured, else from the environment variable ``env``, else the default."""
    if name in _settings:
        return _settings[name]
    if env and os.environ.get(env):
        value = os.environ[env]
        return Secret(value) if name.endswith(_SECRET_SUFFIXES) else value
    return DEFAULTS.get(name)
