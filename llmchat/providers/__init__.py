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

__all__ = ["Provider", "Target", "bearer", "for_model", "get", "join_url", "key_header", "names"]


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
class Target:
    """One request about to be sent, before a provider's ``prepare`` hook adjusts it.

    >>> Target("https://x/openai/v1", "/chat/completions", {}, "chat_completions", "gpt-4o").url
    'https://x/openai/v1/chat/completions'
    """

    base: str
    path: str
    body: dict[str, Any]
    protocol: str
    model: str

    @property
    def url(self) -> str:
        return join_url(self.base, self.path)


def join_url(base: str, path: str) -> str:
    """``base + path``, the query of each kept (a base may carry one: Azure's ``?api-version=``).

    >>> join_url("https://h/models?api-version=1", "/chat/completions?x=2")
    'https://h/models/chat/completions?x=2&api-version=1'
    """
    base_path, _, base_query = base.partition("?")
    path_path, _, path_query = path.partition("?")
    query = "&".join(q for q in (path_query, base_query) if q)
    return base_path.rstrip("/") + path_path + (f"?{query}" if query else "")


@attrs.frozen
class Provider:
    """Where one provider lives and how it authenticates.

    The optional hooks serve the clouds (with ``key_optional``: platform credentials when there is
    no key): ``choose`` picks the protocol from the model id, ``locate`` builds the base URL from
    settings (project, region), ``prepare`` adjusts the URL and body last (Azure's
    ``api-version``, Claude on Vertex), ``sign`` adds headers computed over the exact request
    before each send (SigV4, a fresh OAuth token), and ``reauth`` renews platform credentials
    after a 401.

    >>> p = Provider("example", "https://api.example.com/v1", "chat_completions", key_env="EXAMPLE_API_KEY")
    >>> p.auth_headers("k")
    {'Authorization': 'Bearer k'}
    """

    name: str
    base_url: str
    protocol: str
    key_env: str | None = None                    # None: the provider needs no key (local servers)
    key_env_also: tuple[str, ...] = ()            # other variables read, in order, when key_env is unset
    key_optional: bool = False                    # True: a key is sent when set, never demanded (self-hosted)
    base_env: str | None = None                   # environment variable that overrides base_url
    base_query: bool = False                      # True: a base URL may carry a query (Azure's api-version)
    auth: Callable[[str], dict[str, str]] = bearer
    headers: dict[str, str] = attrs.field(factory=dict)   # sent with every request
    models: tuple[str, ...] | Callable[[str], bool] = ()  # model id prefixes this provider serves, or a test
    parse_options: dict[str, Any] = attrs.field(factory=dict)  # provider quirks, handed to the protocol
    # Cloud providers: the hooks below are None/empty for a plain "base URL + key" provider.
    settings: dict[str, str | None] = attrs.field(factory=dict)  # extra setting suffix -> env var
    choose: Callable[[str], str] | None = None    # model -> protocol, when no protocol= is given
    locate: Callable[[str, str, Any], str] | None = None  # (model, protocol, key) -> base URL, when none is set
    prepare: Callable[[Target], Target] | None = None  # adjust path/body/base just before sending
    sign: Callable[..., dict[str, str]] | None = None  # (key: Secret or "", method, url, headers, body) -> headers
    reauth: Callable[[], bool] | None = None     # after a 401 without a key: renew credentials, True to resend once

    def setting(self, suffix: str) -> Any:
        """This provider's setting ``{name}_{suffix}``: configured, else its environment variable."""
        from llmchat.config import settings

        return settings(f"{self.name}_{suffix}", self.settings.get(suffix))

    def env_key(self) -> Any:
        """The key in ``key_env_also`` (read now, not at import), as a Secret; None when none is set.

        >>> Provider("x", "https://x", "cohere", key_env="X_API_KEY", key_env_also=("X_KEY_ELSEWHERE",)).env_key()
        """
        import os

        from llmchat.config import Secret

        return next((Secret(os.environ[name]) for name in self.key_env_also if os.environ.get(name)), None)

    def key_names(self) -> str:
        """The environment variables of the key, for messages: ``COHERE_API_KEY (or CO_API_KEY)``."""
        return f"{self.key_env} (or {', '.join(self.key_env_also)})" if self.key_env_also else str(self.key_env)

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
