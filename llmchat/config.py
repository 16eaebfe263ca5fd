"""Settings: ``llmchat.configure(...)``, else the environment, else the defaults."""

from __future__ import annotations

import os
import re
from typing import Any

from llmchat.errors import ConfigurationError

__all__ = ["SECRET_HEADER", "Secret", "configure", "reveal", "settings"]

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
}

# Process-wide settings that are not chat options: where chats are stored, where jobs run, how events travel.
GLOBAL: dict[str, Any] = {
    "store": None,        # LLMCHAT_STORE, default "sqlite:///llmchat.db"
    "queue": None,        # LLMCHAT_QUEUE: None (threads of this process) or "redis://..." (RQ)
    "broadcast": None,    # LLMCHAT_BROADCAST
}

# Provider settings: "{provider}_api_key" and "{provider}_api_base" for every provider name.
_PROVIDER_SUFFIXES = ("_api_key", "_api_base")

_settings: dict[str, Any] = {}


class Secret:
    """A value that never shows itself in a repr, a log line or an error.

    >>> key = Secret("sk-live-123")
    >>> key, str(key), key.reveal()
    (Secret('***'), '***', 'sk-live-123')
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

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
    known = sorted(DEFAULTS) + sorted(GLOBAL) + [f"{p}{s}" for p in providers.names() for s in _PROVIDER_SUFFIXES]
    raise ConfigurationError(f"unknown setting {name!r}; known settings: {', '.join(known)}")


def configure(**values: Any) -> None:
    """Set defaults for every chat made afterwards.

    >>> configure(request_timeout=120, max_retries=2)
    >>> settings("request_timeout"), settings("max_retries")
    (120, 2)
    >>> configure(request_timeout=None, max_retries=None)   # None restores the default
    """
    for name in values:
        _check_name(name)
    for name, value in values.items():
        if value is None:
            _settings.pop(name, None)
        else:
            _settings[name] = Secret(value) if name.endswith("_api_key") and isinstance(value, str) else value


def settings(name: str, env: str | None = None) -> Any:
    """The value of one setting: configured, else from the environment variable ``env``, else the default."""
    if name in _settings:
        return _settings[name]
    if env and os.environ.get(env):
        value = os.environ[env]
        return Secret(value) if name.endswith("_api_key") else value
    return DEFAULTS.get(name)
