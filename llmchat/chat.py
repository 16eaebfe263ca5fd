"""``Chat``: a conversation with one model, its message store and its callbacks."""

from __future__ import annotations

import threading
import weakref
from typing import Any, Callable, Iterator

from llmchat import protocols, providers
from llmchat.callbacks import Callbacks, check_callable
from llmchat.config import DEFAULTS, SECRET_HEADER, Secret, check_option, check_url, reveal, settings
from llmchat.errors import CancelledError, ConfigurationError
from llmchat.exchange import Exchange
from llmchat.message import Chunk, Message, clean_text
from llmchat.streaming import turn

__all__ = ["Chat", "chat"]


def _check_text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(f"{what} must be a str, got {type(value).__name__}; nothing was sent or stored")
    return value


_CALL_OPTIONS = ("temperature", "max_tokens", "params", "headers")


class Chat(Callbacks, Exchange):
    """A conversation. ``ask`` streams the answer to ``on_chunk`` and keeps every message in ``messages``.

    >>> from llmchat.testing import Server
    >>> with Server() as server:
    ...     server.reply("Hello", " there")
    ...     chat = Chat("gpt-4.1-mini", provider="openai", base_url=server.url("chat_completions"), api_key="k")
    ...     reply = chat.ask("Hi", on_chunk=lambda c: print(c.content or "", end=""))
    Hello there
    >>> reply.content, [m.role for m in chat.messages]
    ('Hello there', ['user', 'assistant'])
    """

    def __init__(self, model: str | None = None, *, provider: str | None = None, protocol: str | None = None,
                 base_url: str | None = None, api_key: str | None = None, **options: Any) -> None:
        unknown = sorted(set(options) - set(DEFAULTS) - set(_CALL_OPTIONS))
        if unknown:
            raise ConfigurationError(f"unknown option(s) {', '.join(unknown)}; known: "
                                     f"{', '.join(sorted(DEFAULTS) + list(_CALL_OPTIONS))}")
        for name, value in options.items():
            if name in DEFAULTS:
                check_option(name, value)
        check_option("api_key", reveal(api_key))   # a str (or a Secret one: a stored chat rebuilt)
        self.messages: list[Message] = []
        self._options = {k: v for k, v in options.items() if k in DEFAULTS}
        self._temperature = options.get("temperature")
        self._max_tokens = options.get("max_tokens")
        self._params: dict[str, Any] = dict(options.get("params") or {})
        self._headers: dict[str, Any] = {}
        self.with_headers(**dict(options.get("headers") or {}))
        self._tools: dict[str, Any] = {}
        self._init_callbacks()      # on_* callbacks and listeners (llmchat.callbacks)
        self._explicit = {"provider": provider, "protocol": protocol, "base_url": base_url,
                          "api_key": Secret(api_key) if isinstance(api_key, str) else api_key}
        self.id: Any = None     # set by a store for a persisted chat
        self._writer: Any = None    # its store writer (llmchat.storage.writer), for a persisted chat
        self._cancel = threading.Event()
        self._stream: Any = None
        self._reply: Message | None = None
        self._busy = threading.Lock()       # one ask/complete/stream at a time (see _claim)
        self._owner: object | None = None
        self._resolve(model)

    # ------------------------------------------------------------------ configuration
    def _resolve(self, model: str | None) -> None:
        model = model or settings("default_model", "LLMCHAT_DEFAULT_MODEL")
        if not model:
            raise ConfigurationError("no model: pass model=..., or llmchat.configure(default_model=...)")
        if not isinstance(model, str):
            raise ConfigurationError(f"the model must be a str such as 'gpt-4.1-mini', got {type(model).__name__}")
        given = self._explicit
        provider = providers.get(given["provider"]) if given["provider"] else providers.for_model(model)
        name = given["protocol"] or (provider.choose(model) if provider.choose else provider.protocol)
        protocol = protocols.get(name)
        key = given["api_key"] or settings(f"{provider.name}_api_key", provider.key_env) or provider.env_key()
        base = given["base_url"] or settings(f"{provider.name}_api_base", provider.base_env)
        if not base:
            base = provider.locate(model, name, key) if provider.locate else provider.base_url
        if provider.key_env and not key and not provider.key_optional:
            raise ConfigurationError(
                f"no API key for {provider.name}: set the {provider.key_names()} environment variable, "
                f"call llmchat.configure({provider.name}_api_key=...), or pass api_key=...")
        check_url(base, query=provider.base_query)
        self.model, self._provider, self._base_url, self._key = model, provider, base.rstrip("/"), key
        self._protocol = protocol

    @property
    def provider(self) -> str:
        return self._provider.name

    @property
    def protocol(self) -> str:
        return self._protocol.__name__.rsplit(".", 1)[-1]

    def option(self, name: str) -> Any:
        """This chat's value of a setting (its own, else ``configure``'s, else the default)."""
        return self._options[name] if name in self._options else settings(name)

    def with_model(self, model: str, *, provider: str | None = None) -> Chat:
        """Talk to another model from now on. An explicit ``api_key``/``base_url``/``protocol`` stays only
        while the provider stays the same: a key is never sent to another provider."""
        if not isinstance(model, str) or not model:
            raise ConfigurationError(f"the model must be a non-empty str, got {model!r}"[:200])
        explicit = self._explicit
        target = providers.get(provider) if provider is not None else (
            self._provider if explicit["provider"] else providers.for_model(model))
        if target.name != self._provider.name:
            explicit = {"provider": provider, "protocol": None, "base_url": None, "api_key": None}
        saved = self._explicit
        self._explicit = explicit
        try:
            self._resolve(model)
        except BaseException:
            self._explicit = saved
            raise
        return self

    def with_instructions(self, text: str, *, append: bool = False) -> Chat:
        """Set the system prompt (replacing earlier instructions unless ``append=True``)."""
        if not append:
            self.messages[:] = [m for m in self.messages if m.role != "system"]
        position = sum(1 for m in self.messages if m.role == "system")
        message = Message("system", text)
        self.messages.insert(position, message)
        self._message_added(message, position)
        return self

    def with_temperature(self, temperature: float) -> Chat:
        self._temperature = temperature
        return self

    def with_params(self, **params: Any) -> Chat:
        """Extra fields merged into every request body (``max_tokens``, ``reasoning_effort``, ...)."""
        self._params.update(params)
        return self

    def with_headers(self, **headers: str) -> Chat:
        """Extra HTTP headers; values of secret-looking ones (``*-Api-Key``, ``Authorization``...) stay masked."""
        self._headers.update({k: Secret(v) if SECRET_HEADER.search(k) and isinstance(v, str) else v
                              for k, v in headers.items()})
        return self

    def with_tool(self, tool: Any) -> Chat:
        from llmchat.tools import as_tool

        instance = as_tool(tool)
        self._tools[instance.name] = instance
        return self

    def with_tools(self, *tools: Any, replace: bool = False) -> Chat:
        if replace:
            self._tools.clear()
        for tool in tools:
            self.with_tool(tool)
        return self

    # ------------------------------------------------------------------ asking
    def add_message(self, role: str | Message, content: str | None = None, **fields: Any) -> Message:
        if not isinstance(role, Message):
            if content is not None:
                content = clean_text(_check_text(content, "the message content"))
            message = Message(role, content, **fields)
        else:
            message = role
        self.messages.append(message)
        self._message_added(message, len(self.messages) - 1)
        return message

    def ask(self, prompt: str, *, on_chunk: Callable[[Chunk], Any] | None = None) -> Message:
        """Add ``prompt`` as a user message and stream the answer; returns the final assistant message.

        One chat answers one question at a time: a second ``ask``/``complete``/``stream`` while one runs
        (from another thread, or from a callback) raises :class:`~llmchat.ConcurrentUseError` at once.
        """
        prompt = clean_text(_check_text(prompt, "the prompt"))
        check_callable(on_chunk, "on_chunk", optional=True)
        token = self._claim()
        try:
            self.add_message("user", prompt)
            return self._complete(on_chunk)
        finally:
            self._release(token)

    def complete(self, *, on_chunk: Callable[[Chunk], Any] | None = None) -> Message:
        """Answer the conversation as it stands (an incomplete last answer is dropped and asked again)."""
        check_callable(on_chunk, "on_chunk", optional=True)
        token = self._claim()
        try:
            return self._complete(on_chunk)
        finally:
            self._release(token)

    def _complete(self, on_chunk: Callable[[Chunk], Any] | None) -> Message:
        chunks = self._turn()
        try:
            for chunk in chunks:
                if on_chunk is not None:
                    try:
                        on_chunk(chunk)
                    except BaseException as exc:
                        chunks.throw(exc)   # the spine closes the stream and keeps the partial answer
                        raise
        except KeyboardInterrupt as exc:    # one line in a notebook, not a traceback through urllib3
            from llmchat.interrupts import mark_interrupted

            mark_interrupted(exc, self.messages[-1] if self.messages else None)
            raise
        return self._reply  # type: ignore[return-value]

    def stream(self, prompt: str | None = None) -> Iterator[Chunk]:
        """The answer as an iterator of chunks (``ask`` without a callback); the chat is busy until it ends."""
        if prompt is not None:
            prompt = clean_text(_check_text(prompt, "the prompt"))
        token = self._claim()
        try:
            if prompt is not None:
                self.add_message("user", prompt)
        except BaseException:
            self._release(token)
            raise
        iterator = self._guarded(token)
        weakref.finalize(iterator, self._release, token)    # an iterator dropped unstarted frees the chat
        return iterator

    def _guarded(self, token: object) -> Iterator[Chunk]:
        try:
            yield from self._turn()
        finally:
            self._release(token)

    def _turn(self) -> Iterator[Chunk]:
        while self.messages and self.messages[-1].role == "assistant" and not self.messages[-1].complete:
            self.messages.pop()
        self._cancel.clear()
        if self._writer is not None:
            return self._writer.turn(turn(self))
        return turn(self)

    def complete_later(self) -> Any:
        """Answer this stored chat in a background job and return at once (see :mod:`llmchat.jobs`)."""
        from llmchat.jobs import complete_later

        return complete_later(self)

    def cancel(self) -> None:
        """Stop the current stream now, from any thread or from ``on_chunk``; ``ask`` raises CancelledError."""
        self._cancel.set()
        if self._writer is not None:
            self._writer.request_cancel()     # reaches a job answering this chat in another thread or process
        stream = self._stream
        if stream is not None:
            stream.abort(CancelledError("the stream was cancelled (chat.cancel())"))

    def _repr_markdown_(self) -> str:     # Jupyter shows a chat as its conversation
        from llmchat.markdown import chat_markdown

        return chat_markdown(self)

    def __repr__(self) -> str:
        return f"<llmchat.Chat model={self.model!r} provider={self.provider!r} messages={len(self.messages)}>"


def chat(model: str | None = None, *, provider: str | None = None, protocol: str | None = None,
         base_url: str | None = None, api_key: str | None = None, **options: Any) -> Chat:
    """A new :class:`Chat`; see there for the arguments.

    >>> chat("claude-haiku-4-5", api_key="k").provider
    'anthropic'
    """
    return Chat(model, provider=provider, protocol=protocol, base_url=base_url, api_key=api_key, **options)
