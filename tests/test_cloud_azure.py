"""Azure OpenAI / AI Foundry: URL shapes, api-key and Entra ID auth, content filters, over real HTTP."""

from __future__ import annotations

import logging

import pytest

import llmchat
from llmchat.testing import Call, Reply
from llmchat.testing.wire_openai import content_filter_body

KEY = "azure-key-SECRET-0123456789"
TOKEN = "entra-token-SECRET-0123456789"


def make(server, path, **options):
    options.setdefault("max_retries", 0)
    options.setdefault("api_key", KEY)
    return llmchat.chat("gpt-4.1-mini", provider="azure", base_url=server.root + path, **options)


@pytest.mark.parametrize(("base", "protocol", "path", "query"), [
    ("/openai/v1", "chat_completions", "/openai/v1/chat/completions", {}),
    ("/openai/v1", "responses", "/openai/v1/responses", {}),
    ("", "chat_completions", "/openai/v1/chat/completions", {}),
    ("/openai/deployments/my-dep", "chat_completions", "/openai/deployments/my-dep/chat/completions",
     {"api-version": "2024-10-21"}),
    ("/openai/deployments/my-dep", "responses", "/openai/v1/responses", {}),
    ("/models", "chat_completions", "/models/chat/completions", {"api-version": "2024-05-01-preview"}),
    ("/models?api-version=2025-01-01-preview", "chat_completions", "/models/chat/completions",
     {"api-version": "2025-01-01-preview"}),
])
def test_url_shapes(server, base, protocol, path, query):
    server.reply("Hi")
    assert make(server, base, protocol=protocol).ask("hi").content == "Hi"
    request = server.requests[-1]
    assert (request.path, request.query) == (path, query)
    assert request.headers["api-key"] == KEY and "authorization" not in request.headers


def test_api_version_setting_and_old_versions_drop_stream_options(server, monkeypatch):
    monkeypatch.setenv("AZURE_API_VERSION", "2023-05-15")
    server.queue(Reply(text="a"), Reply(text="b"))
    make(server, "/openai/deployments/d").ask("hi")
    assert server.requests[-1].query == {"api-version": "2023-05-15"}
    assert "stream_options" not in server.requests[-1].body
    llmchat.configure(azure_api_version="2025-04-01-preview")
    make(server, "/openai/deployments/d").ask("hi")
    assert server.requests[-1].query == {"api-version": "2025-04-01-preview"}
    assert server.requests[-1].body["stream_options"] == {"include_usage": True}


def test_endpoint_and_key_from_the_environment(server, monkeypatch):
    with pytest.raises(llmchat.ConfigurationError, match="AZURE_API_BASE"):
        llmchat.chat("gpt-4o", provider="azure")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.root + "/openai/v1/")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    server.reply("ok")
    assert llmchat.chat("gpt-4o", provider="azure", max_retries=0).ask("hi").content == "ok"
    assert server.requests[-1].headers["api-key"] == KEY


def test_entra_token_and_token_provider_called_per_request(server, monkeypatch):
    monkeypatch.setenv("AZURE_AD_TOKEN", TOKEN)
    server.queue(Reply(text="a"), Reply(status=503), Reply(text="b"))
    chat = make(server, "/openai/v1", api_key=None)
    chat.ask("hi")
    assert server.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"
    assert "api-key" not in server.requests[-1].headers
    monkeypatch.delenv("AZURE_AD_TOKEN")
    calls = []
    llmchat.configure(azure_ad_token_provider=lambda: calls.append(1) or f"{TOKEN}-{len(calls)}")
    chat = make(server, "/openai/v1", api_key=None, max_retries=1, retry_interval=0.01)
    chat.ask("again")
    assert [r.headers["authorization"] for r in server.requests[-2:]] == [f"Bearer {TOKEN}-1", f"Bearer {TOKEN}-2"]


def test_no_credentials_is_a_configuration_error_before_any_request(server):
    chat = make(server, "/openai/v1", api_key=None)
    with pytest.raises(llmchat.ConfigurationError, match="AZURE_API_KEY"):
        chat.ask("hi")
    assert server.requests == []


def test_stream_quirks_prompt_filter_chunk_and_filter_results(server):
    server.queue(Reply(text=["Hel", "lo"]))
    reply = make(server, "/models").ask("hi")
    assert (reply.content, reply.finish_reason, reply.content_filtered) == ("Hello", "stop", False)
    assert reply.input_tokens == 10


def test_prompt_refused_by_the_filter_is_a_content_filter_error(server):
    server.queue(Reply(status=400, body=content_filter_body()))
    chat = make(server, "/models")
    with pytest.raises(llmchat.ContentFilterError) as info:
        chat.ask("something bad")
    assert isinstance(info.value, llmchat.BadRequestError) and info.value.status_code == 400
    assert "content management policy" in str(info.value)


def test_answer_cut_by_the_filter_returns_with_content_filtered(server):
    server.queue(Reply(text=["Once upon"], finish="content_filter"), Reply(finish="content_filter"))
    chat = make(server, "/openai/deployments/d")
    reply = chat.ask("story")
    assert reply.complete and reply.content == "Once upon" and reply.content_filtered
    assert reply.finish_reason == "content_filter"
    with pytest.raises(llmchat.ContentFilterError, match="before any content"):   # never a silent empty answer
        chat.ask("again")
    assert chat.messages[-1].status == "incomplete"


def test_tool_loop_on_the_deployment_form(server):
    server.queue(Reply(tool_calls=[Call("weather", {"city": "Oslo"})]), Reply(text="Cold."))

    @llmchat.tool
    def weather(city: str) -> str:
        """Weather in a city."""
        return f"-3°C in {city}"

    chat = make(server, "/openai/deployments/d").with_tool(weather)
    assert chat.ask("Weather?").content == "Cold."
    assert server.requests[-1].body["messages"][-1] == {"role": "tool", "tool_call_id": "call_1",
                                                        "content": "-3°C in Oslo"}
    assert all(r.query == {"api-version": "2024-10-21"} for r in server.requests)


@pytest.mark.parametrize(("reply", "cls"), [
    (Reply(status=429, headers={"retry-after-ms": "10"},
           body={"error": {"code": "RateLimitReached", "message": "Rate limit"}}), llmchat.RateLimitError),
    (Reply(status=401, body={"error": {"code": "401", "message": "Access denied due to invalid subscription key"}}),
     llmchat.UnauthorizedError),
    (Reply(status=404, body={"error": {"code": "DeploymentNotFound", "message": "no deployment"}}),
     llmchat.NotFoundError),
    (Reply(text=["Once"], error={"type": "api_error"}), llmchat.APIError),
])
def test_error_shapes(server, reply, cls):
    server.queue(reply)
    chat = make(server, "/openai/v1")
    with pytest.raises(cls) as info:
        chat.ask("hi")
    assert KEY not in str(info.value) and KEY not in repr(chat)


def test_conformance_style_chats(server):
    """check.py: provider="azure", base_url = replay root + "/models" or "/openai/v1", api_key="test"."""
    server.queue(Reply(text="a"), Reply(text="b"))
    chat = llmchat.chat(model="gpt-5-nano", provider="azure", protocol="chat_completions",
                        base_url=server.root + "/models", api_key="test")
    assert chat.ask("hi").content == "a" and "api-version" in server.requests[-1].query
    chat = llmchat.chat(model="gpt-5-nano", provider="azure", protocol="responses",
                        base_url=server.root + "/openai/v1", api_key="test")
    assert chat.ask("hi").content == "b" and server.requests[-1].path == "/openai/v1/responses"


def test_keys_and_tokens_never_logged(server, caplog):
    llmchat.configure(azure_ad_token=TOKEN)
    server.queue(Reply(text="a"), Reply(text="b"))
    with caplog.at_level(logging.DEBUG, logger="llmchat"):
        make(server, "/openai/v1").ask("hi")
        make(server, "/openai/v1", api_key=None).ask("hi")
    assert "chat/completions" in caplog.text and KEY not in caplog.text and TOKEN not in caplog.text
    assert server.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"


def test_redirects_are_not_followed_so_keys_stay_home(server):
    server.queue(Reply(status=307, headers={"Location": "http://127.0.0.1:9/elsewhere"}, body=""))
    chat = make(server, "/openai/v1")
    with pytest.raises(llmchat.APIError, match="redirected") as info:
        chat.ask("hi")
    assert info.value.status_code == 307 and KEY not in str(info.value)
    assert len(server.requests) == 1


def test_a_full_endpoint_url_as_base_is_used_as_is(server):
    server.reply("ok")
    chat = make(server, "/openai/deployments/d/chat/completions?api-version=2025-01-01-preview")
    assert chat.ask("hi").content == "ok"
    request = server.requests[-1]
    assert (request.path, request.query) == ("/openai/deployments/d/chat/completions",
                                             {"api-version": "2025-01-01-preview"})
