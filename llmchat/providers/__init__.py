"""Providers: where to talk.

A provider is a few declarative lines: base URL, how the key is sent, the
environment variable that holds it, its default protocol (the *how*, in
:mod:`llmchat.protocols`), and the model ids it serves. Each lives in its own
module here that defines ``PROVIDER``; adding a provider means adding one file.

>>> get("anthropic").protocol
'anthropic_messages'
>>> for_model("claude-haiku-4-5").name
'anthropic'
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import Any, Callable

import attrs

from llmchat.errors import ConfigurationError

__all__ = ["Provider", "bearer", "for_model", "get", "key_header", "names"]


def bearer(key: str) -> dict[str, str]:
    """``Authorization: Bearer KEY``: OpenAI and most compatible APIs."""
    return {"Authorization": f"Bearer {key}"}


def key_header(name: str) -> Callable[[str], dict[str, str]]:
    """The key sent as is in header ``name`` (``x-api-key``, ``x-goog-api-key``, ...).

    >>> key_header("x-api-key")("k")
    {'x-api-key': 'k'}
    """

    def auth(key: str) -> dict[str, str]:
        return {name: key}

    return auth


@attrs.frozen
class Provider:
    """Where one provider lives and how it authenticates.

    >>> p = Provider("example", "https://api.example.com/v1", "chat_completions", key_env="EXAMPLE_API_KEY")
    >>> p.auth_headers("k")
    {'Authorization': 'Bearer k'}
    """

    name: str
    base_url: str
    protocol: str
    key_env: str | None = None                    # None: the provider needs no key (local servers)
    key_optional: bool = False                    # True: a key is sent when set, never demanded (self-hosted)
    base_env: str | None = None                   # environment variable that overrides base_url
    auth: Callable[[str], dict[str, str]] = bearer
    headers: dict[str, str] = attrs.field(factory=dict)   # sent with every request
    models: tuple[str, ...] | Callable[[str], bool] = ()  # model id prefixes this provider serves, or a test
    parse_options: dict[str, Any] = attrs.field(factory=dict)  # provider quirks, handed to the protocol

    def auth_headers(self, key: str) -> dict[str, str]:
        return self.auth(key) if key else {}

    def serves(self, model: str) -> bool:
        if callable(self.models):
            return self.models(model)
        return model.lower().startswith(self.models)


@functools.cache
def names() -> tuple[str, ...]:
    """Every provider name, from the modules in this package."""
    return tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")))


@functools.cache
def get(name: str) -> Provider:
    """The provider called ``name``; a ConfigurationError listing the known ones otherwise."""
    if name not in names():
        raise ConfigurationError(f"unknown provider {name!r}; known providers: {', '.join(names())}")
    return importlib.import_module(f"{__name__}.{name}").PROVIDER


def for_model(model: str) -> Provider:
    """The provider that serves ``model``, by its id; a ConfigurationError when none claims it."""
    for name in names():
        provider = get(name)
        if provider.models and provider.serves(model):
            return provider
    raise ConfigurationError(
        f"cannot tell which provider serves model {model!r}; name one, e.g. "
        f"llmchat.chat(model={model!r}, provider='ollama') (providers: {', '.join(names())})")
