"""The public surface: names, settings, secrets, docs."""

from __future__ import annotations

import doctest
import importlib
import logging
import pkgutil
import subprocess
import sys

import pytest

import llmchat
from llmchat.testing import Reply

KEY = "sk-test-SECRET-0123456789"


def test_all_is_sorted_and_complete():
    assert llmchat.__all__ == sorted(llmchat.__all__)
    public = {n for n in dir(llmchat) if not n.startswith("_")} | set(llmchat._LAZY)
    modules = {n for n, v in vars(llmchat).items() if type(v).__name__ == "module"}
    assert set(llmchat.__all__) == public - modules - {"annotations", "logging", "os", "Any"}
    for name in llmchat.__all__:
        assert getattr(llmchat, name) is not None


def test_every_error_class_is_exported():
    errors = {n for n, v in vars(llmchat.errors).items() if isinstance(v, type) and issubclass(v, llmchat.Error)}
    assert errors <= set(llmchat.__all__)


def _modules():
    for info in pkgutil.walk_packages(llmchat.__path__, "llmchat."):
        if info.name != "llmchat.demo":
            yield info.name


@pytest.mark.parametrize("name", sorted(_modules()))
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_every_public_class_has_a_docstring_with_an_example():
    for name in llmchat.__all__:
        value = getattr(llmchat, name)
        if isinstance(value, type):
            assert ">>>" in (value.__doc__ or ""), f"{name} has no example in its docstring"


def test_import_does_not_load_the_http_stack():
    code = "import sys, llmchat; print('requests' in sys.modules, 'sseclient' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_chat_infers_the_provider_from_the_model():
    assert llmchat.chat("claude-haiku-4-5", api_key="k").provider == "anthropic"
    assert llmchat.chat("gpt-4.1-mini", api_key="k").provider == "openai"
    assert llmchat.chat("deepseek-chat", api_key="k").provider == "deepseek"
    assert llmchat.chat("qwen3", provider="ollama").provider == "ollama"


def test_unknown_model_says_how_to_name_a_provider():
    with pytest.raises(llmchat.ConfigurationError, match=r"provider='ollama'"):
        llmchat.chat("my-own-model")


def test_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(llmchat.ConfigurationError, match="ANTHROPIC_API_KEY"):
        llmchat.chat("claude-haiku-4-5")


def test_key_from_environment_and_from_configure(monkeypatch, server):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-key")
    assert llmchat.chat("gpt-4.1-mini")._key.reveal() == "sk-env-key"
    llmchat.configure(openai_api_key="sk-configured")
    try:
        assert llmchat.chat("gpt-4.1-mini")._key.reveal() == "sk-configured"
    finally:
        llmchat.configure(openai_api_key=None)


def test_configure_rejects_unknown_settings():
    with pytest.raises(llmchat.ConfigurationError, match="request_timeout"):
        llmchat.configure(request_timeuot=3)


def test_chat_options_override_configure(server):
    llmchat.configure(request_timeout=99)
    try:
        chat = llmchat.chat("gpt-4.1-mini", api_key="k", request_timeout=5)
        assert chat.option("request_timeout") == 5
        assert llmchat.chat("gpt-4.1-mini", api_key="k").option("request_timeout") == 99
    finally:
        llmchat.configure(request_timeout=None)


def test_unknown_chat_option_is_a_configuration_error():
    with pytest.raises(llmchat.ConfigurationError, match="temprature"):
        llmchat.chat("gpt-4.1-mini", api_key="k", temprature=0.3)


def test_keys_never_show_in_repr_errors_or_logs(server, make_chat, caplog):
    server.queue(Reply(status=401, body={"error": {"message": "bad key", "type": "invalid_request_error"}}))
    chat = make_chat("chat_completions", headers={"X-Custom-Api-Key": "custom-SECRET-header"})
    with caplog.at_level(logging.DEBUG, logger="llmchat"):
        with pytest.raises(llmchat.UnauthorizedError) as info:
            chat.ask("hi")
    error = info.value
    shown = " ".join([repr(chat), str(chat.__dict__), repr(error), str(error), str(error.__dict__),
                      repr(chat.messages), caplog.text])
    assert "POST" in caplog.text                 # the request was logged ...
    assert "SECRET" not in shown                 # ... and no key anywhere
    assert server.wait_for(1)[0].headers["authorization"] == f"Bearer {KEY}"
    assert server.requests[0].headers["x-custom-api-key"] == "custom-SECRET-header"
