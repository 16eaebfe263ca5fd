"""The provider declarations: names, base URLs, keys, model inference, and each provider's stream quirks.

Quirk fixtures are hand-written bytes shaped like each provider's documented wire format; they go
through ``transport.frames`` cut at awkward places, and end to end through ``llmchat.testing.Server``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

import llmchat
from llmchat import providers
from llmchat.protocols import chat_completions
from llmchat.providers import mistral
from llmchat.testing import Reply, Server
from llmchat.transport import frames

# name -> (a model it serves, base URL, default protocol, key variable, base URL variable)
DECLARED = {
    "mistral": ("mistral-small-latest", "https://api.mistral.ai/v1", "chat_completions",
                "MISTRAL_API_KEY", "MISTRAL_API_BASE"),
    "openrouter": ("anthropic/claude-3.5-sonnet", "https://openrouter.ai/api/v1", "chat_completions",
                   "OPENROUTER_API_KEY", "OPENROUTER_API_BASE"),
    "xai": ("grok-4", "https://api.x.ai/v1", "chat_completions", "XAI_API_KEY", "XAI_API_BASE"),
    "perplexity": ("sonar-pro", "https://api.perplexity.ai", "chat_completions",
                   "PERPLEXITY_API_KEY", "PERPLEXITY_API_BASE"),
    "gpustack": ("qwen3", "http://localhost/v1", "chat_completions", "GPUSTACK_API_KEY", "GPUSTACK_API_BASE"),
    "deepseek": ("deepseek-chat", "https://api.deepseek.com", "chat_completions",
                 "DEEPSEEK_API_KEY", "DEEPSEEK_API_BASE"),
    "anthropic": ("claude-haiku-4-5", "https://api.anthropic.com", "anthropic_messages",
                  "ANTHROPIC_API_KEY", "ANTHROPIC_API_BASE"),
    "ollama": ("qwen3", "http://localhost:11434/v1", "chat_completions", None, "OLLAMA_API_BASE"),
}
BEARER = ["mistral", "openrouter", "xai", "perplexity", "gpustack", "deepseek"]
API_MD_PROVIDERS = ("openai", "anthropic", "gemini", "ollama", "deepseek", "mistral", "openrouter", "xai",
                    "perplexity", "gpustack")


@pytest.fixture
def server() -> Iterator[Server]:
    with Server() as running:
        yield running


@pytest.fixture(autouse=True)
def no_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see neither the developer's keys nor base URL overrides."""
    for _model, _base, _protocol, key_env, base_env in DECLARED.values():
        for name in (key_env, base_env):
            if name:
                monkeypatch.delenv(name, raising=False)


def sse(*events: Any) -> bytes:
    """An SSE body: dicts become ``data: JSON`` events, strings are written as they are."""
    out = []
    for event in events:
        out.append(f"data: {json.dumps(event, ensure_ascii=False)}\n\n" if isinstance(event, dict) else event)
    return "".join(out).encode()


def delta(index: int = 0, finish: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"id": "gen-1", "object": "chat.completion.chunk", "model": "m",
            "choices": [{"index": index, "delta": fields, "finish_reason": finish}]}


def cuts(body: bytes) -> Iterator[list[bytes]]:
    """The body whole, byte by byte, in threes, at every multi-byte UTF-8 boundary, and in random pieces."""
    yield [body]
    yield [body[i:i + 1] for i in range(len(body))]
    yield [body[i:i + 3] for i in range(0, len(body), 3)]
    inside = [i + 1 for i, byte in enumerate(body) if byte >= 0xC0]   # just after a lead byte
    edges = [0, *inside, len(body)]
    yield [body[a:b] for a, b in zip(edges, edges[1:])]
    rng = random.Random(7)
    for _ in range(5):
        points = sorted(rng.sample(range(1, len(body)), 12))
        edges = [0, *points, len(body)]
        yield [body[a:b] for a, b in zip(edges, edges[1:])]


def folded(blocks: list[bytes], **options: Any) -> dict[str, Any]:
    """The chunks of a chat-completions stream folded as a Message would fold them."""
    content, thinking, finish, usage = [], [], None, {}
    for chunk in chat_completions.parse(frames(blocks), **options):
        content.append(chunk.content or "")
        thinking.append(chunk.thinking or "")
        finish = chunk.finish_reason or finish
        if chunk.output_tokens is not None:
            usage = {"input": chunk.input_tokens, "output": chunk.output_tokens}
    return {"content": "".join(content), "thinking": "".join(thinking), "finish": finish, **usage}


# ---------------------------------------------------------------------------------- declarations

def test_every_provider_of_the_contract_is_declared() -> None:
    assert set(API_MD_PROVIDERS) <= set(providers.names())


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_a_provider_named_explicitly_resolves(name: str) -> None:
    model, base, protocol, _key_env, _base_env = DECLARED[name]
    chat = llmchat.chat(model, provider=name, api_key="k")
    assert (chat.provider, chat._base_url, chat.protocol) == (name, base, protocol)


@pytest.mark.parametrize("model, name", [
    ("mistral-small-latest", "mistral"), ("magistral-medium-latest", "mistral"), ("codestral-latest", "mistral"),
    ("ministral-8b-latest", "mistral"), ("pixtral-large-latest", "mistral"), ("devstral-small-latest", "mistral"),
    ("open-mistral-nemo", "mistral"), ("open-mixtral-8x22b", "mistral"), ("Mistral-Large-Latest", "mistral"),
    ("grok-4", "xai"), ("grok-3-mini", "xai"), ("sonar", "perplexity"), ("sonar-pro", "perplexity"),
    ("sonar-reasoning-pro", "perplexity"), ("claude-haiku-4-5", "anthropic"), ("deepseek-chat", "deepseek"),
    ("gpt-4.1-mini", "openai"),
])
def test_the_provider_is_inferred_from_the_model_id(model: str, name: str) -> None:
    assert llmchat.chat(model, api_key="k").provider == name


@pytest.mark.parametrize("model", ["qwen3", "llama3.1:8b", "hf.co/unsloth/Qwen3-8B-GGUF:Q4_K_M",
                                   "arn:aws:sagemaker:us-east-1:123456789012:endpoint/my-llm"])
def test_an_unclaimed_model_asks_for_a_provider(model: str) -> None:
    with pytest.raises(llmchat.ConfigurationError) as caught:
        llmchat.chat(model, api_key="k")
    message = str(caught.value)
    assert model in message and "provider=" in message and "openrouter" in message


@pytest.mark.parametrize("model", ["anthropic/claude-3.5-sonnet", "meta-llama/llama-3.1-8b-instruct:free",
                                   "anthropic/claude-3.7-sonnet:thinking"])
def test_openrouter_is_inferred_from_vendor_slash_model_ids(model: str) -> None:
    assert llmchat.chat(model, api_key="k").provider == "openrouter"


@pytest.mark.parametrize("name", [n for n in sorted(DECLARED)
                                  if DECLARED[n][3] and not llmchat.providers.get(n).key_optional])
def test_a_missing_key_names_its_environment_variable(name: str) -> None:
    model, _base, _protocol, key_env, _base_env = DECLARED[name]
    with pytest.raises(llmchat.ConfigurationError) as caught:
        llmchat.chat(model, provider=name)
    assert key_env in str(caught.value) and f"{name}_api_key" in str(caught.value)


def test_a_key_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch, server: Server) -> None:
    monkeypatch.setenv("XAI_API_KEY", "xai-env-key")
    server.reply("ok")
    llmchat.chat("grok-4", base_url=server.url("chat_completions")).ask("hi")
    assert server.requests[0].headers["authorization"] == "Bearer xai-env-key"


@pytest.mark.parametrize("variable, name, model", [("OLLAMA_API_BASE", "ollama", "qwen3"),
                                                   ("GPUSTACK_API_BASE", "gpustack", "qwen3"),
                                                   ("PERPLEXITY_API_BASE", "perplexity", "sonar")])
def test_the_base_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, variable: str, name: str,
                                                 model: str) -> None:
    monkeypatch.setenv(variable, "http://gpu-box.lan:8080/v1/")
    assert llmchat.chat(model, provider=name, api_key="k")._base_url == "http://gpu-box.lan:8080/v1"


def test_a_gpustack_server_from_the_environment_gets_the_request(monkeypatch: pytest.MonkeyPatch,
                                                                 server: Server) -> None:
    monkeypatch.setenv("GPUSTACK_API_BASE", server.url("chat_completions"))
    monkeypatch.setenv("GPUSTACK_API_KEY", "gpustack-key")
    server.reply("served ", "locally")
    reply = llmchat.chat("qwen3", provider="gpustack").ask("hi")
    assert reply.content == "served locally"
    assert server.requests[0].path == "/v1/chat/completions"
    assert server.requests[0].headers["authorization"] == "Bearer gpustack-key"


def test_a_self_hosted_gpustack_without_a_key_is_asked_without_one(monkeypatch: pytest.MonkeyPatch,
                                                                    server: Server) -> None:
    monkeypatch.setenv("GPUSTACK_API_BASE", server.url("chat_completions"))
    server.reply("no key ", "needed")
    assert llmchat.chat("qwen3", provider="gpustack").ask("hi").content == "no key needed"
    assert "authorization" not in server.requests[0].headers


def test_the_base_url_comes_from_configure_and_an_explicit_one_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISTRAL_API_BASE", "http://from-env/v1")
    try:
        llmchat.configure(mistral_api_base="https://eu.mistral.example/v1")
        assert llmchat.chat("mistral-small-latest", api_key="k")._base_url == "https://eu.mistral.example/v1"
        explicit = llmchat.chat("mistral-small-latest", api_key="k", base_url="http://127.0.0.1:9/v1")
        assert explicit._base_url == "http://127.0.0.1:9/v1"
    finally:
        llmchat.configure(mistral_api_base=None)
    assert llmchat.chat("mistral-small-latest", api_key="k")._base_url == "http://from-env/v1"


# ---------------------------------------------------------------------------------- keys on the wire

@pytest.mark.parametrize("name", BEARER)
def test_the_key_travels_as_a_bearer_token(server: Server, name: str) -> None:
    model = DECLARED[name][0]
    server.reply("Hel", "lo")
    chat = llmchat.chat(model, provider=name, base_url=server.url("chat_completions"), api_key="k")
    assert chat.ask("hi").content == "Hello"
    received = server.requests[0]
    assert received.path == "/v1/chat/completions" and received.protocol == "chat_completions"
    assert received.headers["authorization"] == "Bearer k"
    assert "x-api-key" not in received.headers
    assert received.body["model"] == model and received.body["stream"] is True


def test_anthropic_sends_its_key_in_x_api_key(server: Server) -> None:
    server.reply("Hi")
    llmchat.chat("claude-haiku-4-5", base_url=server.url("anthropic_messages"), api_key="k").ask("hi")
    headers = server.requests[0].headers
    assert headers["x-api-key"] == "k" and "authorization" not in headers
    assert headers["anthropic-version"] == "2023-06-01"


def test_ollama_sends_no_key(server: Server) -> None:
    server.reply("Hi")
    llmchat.chat("qwen3", provider="ollama", base_url=server.url("chat_completions")).ask("hi")
    assert "authorization" not in server.requests[0].headers


# ---------------------------------------------------------------------------------- mistral

MISTRAL_THINKING = sse(
    delta(role="assistant", content=""),
    delta(content=[{"type": "thinking", "thinking": [{"type": "text", "text": "Zwölf mal zwölf"}]}]),
    delta(content=[{"type": "thinking", "thinking": [{"type": "text", "text": " … ergibt 144 ✓"}], "closed": True}]),
    delta(content=[{"type": "thinking", "thinking": [{"type": "text", "text": "\n"}], "closed": True},
                   {"type": "text", "text": "Antwort: "}]),
    delta(content=[{"type": "text", "text": "1"}]),
    delta(content="44 — fertig 🎉", finish="stop"),
    {"id": "gen-1", "object": "chat.completion.chunk", "model": "magistral-small-latest", "choices": [],
     "usage": {"prompt_tokens": 17, "completion_tokens": 23, "total_tokens": 40}},
    "data: [DONE]\n\n",
)


def test_mistral_list_content_splits_thinking_from_text_however_the_bytes_are_cut() -> None:
    want = {"content": "Antwort: 144 — fertig 🎉", "thinking": "Zwölf mal zwölf … ergibt 144 ✓\n",
            "finish": "stop", "input": 17, "output": 23}
    for blocks in cuts(MISTRAL_THINKING):
        assert folded(blocks, **mistral.PROVIDER.parse_options) == want


def test_without_the_mistral_option_thinking_parts_are_lost() -> None:
    plain = folded([MISTRAL_THINKING])
    assert plain["content"] == "Antwort: 144 — fertig 🎉" and plain["thinking"] == ""


@pytest.mark.parametrize("parts, want", [
    ([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], ("ab", "")),
    ([{"type": "thinking", "thinking": [{"type": "text", "text": "x"}, {"type": "text", "text": "y"}]}], ("", "xy")),
    ([{"type": "thinking", "thinking": "as a string"}], ("", "as a string")),
    ([{"type": "reference", "reference_ids": [1]}, {"type": "text", "text": "[1]"}, "junk", None], ("[1]", "")),
    ([{"type": "thinking", "thinking": [{"type": "reference", "reference_ids": [2]}]}], ("", "")),
    ([], ("", "")),
])
def test_mistral_content_parts(parts: list[Any], want: tuple[str, str]) -> None:
    assert mistral.content_parts(parts) == want


def test_mistral_thinking_and_tool_call_ids_end_to_end(server: Server) -> None:
    call = delta(tool_calls=[{"id": "D681PevKs", "type": "function", "index": 0,
                              "function": {"name": "weather", "arguments": '{"city": "Zürich"}'}}],
                 finish="tool_calls")
    call["usage"] = {"prompt_tokens": 30, "completion_tokens": 9, "total_tokens": 39}
    server.queue(Reply(raw=sse(delta(content=[{"type": "thinking", "thinking": [{"type": "text", "text": "Wetter?"}]}]),
                               call, "data: [DONE]\n\n"), split=5),
                 Reply(raw=MISTRAL_THINKING, split=3))
    seen = []

    def weather(city: str) -> str:
        seen.append(city)
        return "sonnig"

    chat = llmchat.chat("magistral-small-latest", base_url=server.url("chat_completions"), api_key="k")
    chat.with_tool(llmchat.tool(weather, name="weather", description="Weather in a city",
                                parameters={"type": "object", "properties": {"city": {"type": "string"}}}))
    texts: list[str] = []
    reply = chat.ask("Wetter in Zürich?", on_chunk=lambda c: texts.append(c.content or ""))
    assert seen == ["Zürich"]
    first = chat.messages[1]
    assert first.thinking == "Wetter?" and list(first.tool_calls) == ["D681PevKs"]
    assert first.tool_calls["D681PevKs"].arguments == {"city": "Zürich"}
    sent = server.requests[1].body["messages"]
    assert sent[-1] == {"role": "tool", "tool_call_id": "D681PevKs", "content": "sonnig"}
    assert sent[-2]["tool_calls"][0]["id"] == "D681PevKs"
    assert reply.content == "".join(texts) == "Antwort: 144 — fertig 🎉"
    assert reply.thinking == "Zwölf mal zwölf … ergibt 144 ✓\n"
    assert (reply.input_tokens, reply.output_tokens, reply.status) == (17, 23, "complete")


@pytest.mark.parametrize("status, body, cls, text", [
    (400, {"object": "error", "message": "Invalid model: mistral-nope", "type": "invalid_model", "param": None,
           "code": "1500"}, llmchat.BadRequestError, "Invalid model: mistral-nope"),
    (422, {"detail": [{"type": "extra_forbidden", "loc": ["body", "safe_mode"], "msg": "Extra inputs are not permitted",
                       "input": False}]}, llmchat.BadRequestError, "Extra inputs are not permitted"),
    (422, {"object": "error", "message": {"detail": [{"type": "string_type", "loc": ["body", "messages", 0, "content"],
                                                      "msg": "Input should be a valid string", "input": 1}]},
           "type": "invalid_request_error", "param": None, "code": None},
     llmchat.BadRequestError, "Input should be a valid string"),
    (429, {"object": "error", "message": "Requests rate limit exceeded", "type": "rate_limited", "param": None,
           "code": "1300"}, llmchat.RateLimitError, "Requests rate limit exceeded"),
    (401, {"message": "Unauthorized", "request_id": "0f1e2d"}, llmchat.UnauthorizedError, "Unauthorized"),
])
def test_mistral_error_bodies(server: Server, status: int, body: dict[str, Any], cls: type, text: str) -> None:
    server.queue(Reply(status=status, body=body))
    chat = llmchat.chat("mistral-small-latest", base_url=server.url("chat_completions"), api_key="k", max_retries=0)
    with pytest.raises(cls) as caught:
        chat.ask("hi")
    assert caught.value.status_code == status and text in str(caught.value)
    assert chat.messages[-1].status == "incomplete"


def test_mistral_validation_details_read_as_text() -> None:
    kind, message = chat_completions.error(json.dumps({"detail": [
        {"type": "missing", "loc": ["body", "model"], "msg": "Field required", "input": {"secret": "user text"}}]}))
    assert message == "body.model: Field required"


# ---------------------------------------------------------------------------------- openrouter

OPENROUTER = sse(
    ": OPENROUTER PROCESSING\n\n",
    ": OPENROUTER PROCESSING\n\n",
    delta(role="assistant", content="", reasoning="Überlege "),
    ": OPENROUTER PROCESSING\n\n",
    delta(reasoning="kurz…"),
    "data: " + json.dumps(delta(content="Grüß Gott, "), ensure_ascii=False) + "\n: OPENROUTER PROCESSING\n\n",
    delta(content="Welt 🌍"),
    ":\n\n",
    delta(content="", finish="stop"),
    {"id": "gen-1", "object": "chat.completion.chunk", "model": "anthropic/claude-3.5-sonnet", "choices": [],
     "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19, "cost": 0.0001}},
    ": OPENROUTER PROCESSING\n\n",
    "data: [DONE]\n\n",
)


def test_openrouter_comment_lines_are_skipped_however_the_bytes_are_cut() -> None:
    want = {"content": "Grüß Gott, Welt 🌍", "thinking": "Überlege kurz…", "finish": "stop", "input": 12, "output": 7}
    for blocks in cuts(OPENROUTER):
        assert folded(blocks) == want


def test_openrouter_comments_end_to_end(server: Server) -> None:
    server.queue(Reply(raw=OPENROUTER, split=4))
    chat = llmchat.chat("anthropic/claude-3.5-sonnet", provider="openrouter", base_url=server.url("chat_completions"),
                        api_key="k")
    reply = chat.ask("hi")
    assert (reply.content, reply.thinking, reply.finish_reason) == ("Grüß Gott, Welt 🌍", "Überlege kurz…", "stop")
    assert (reply.input_tokens, reply.output_tokens) == (12, 7)


@pytest.mark.parametrize("error_chunk, cls", [
    ({"error": {"code": 502, "message": "Provider disconnected"}}, llmchat.ServiceUnavailableError),
    ({"error": {"code": 429, "message": "Rate limit exceeded upstream"}}, llmchat.RateLimitError),
    ({**delta(content="", finish="error"), "error": {"code": 502, "message": "Provider disconnected"}},
     llmchat.ServiceUnavailableError),
    ({**delta(content="", finish="error"), "error": {"code": "server_error", "message": "Provider disconnected"}},
     llmchat.ServerError),
])
def test_openrouter_in_stream_error(server: Server, error_chunk: dict[str, Any], cls: type) -> None:
    body = sse(delta(role="assistant", content="Halb"), ": OPENROUTER PROCESSING\n\n", delta(content="e Antw"),
               error_chunk, "data: [DONE]\n\n")
    server.queue(Reply(raw=body, split=6))
    chat = llmchat.chat("openai/gpt-4o", provider="openrouter", base_url=server.url("chat_completions"), api_key="k")
    with pytest.raises(cls) as caught:
        chat.ask("hi")
    assert caught.value.partial == "Halbe Antw"
    assert error_chunk["error"]["message"] in str(caught.value)
    assert chat.messages[-1].status == "incomplete" and chat.messages[-1].content == "Halbe Antw"


# ---------------------------------------------------------------------------------- perplexity

CITATIONS = ["https://example.org/a", "https://example.org/b"]
RESULTS = [{"title": "A", "url": CITATIONS[0], "date": "2025-01-02"}, {"title": "B", "url": CITATIONS[1]}]


def perplexity_chunk(text: str, so_far: str, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    """A Sonar chunk: citations and search results repeated, the accumulated ``message`` beside ``delta``."""
    return {"id": "p-1", "model": "sonar-pro", "object": "chat.completion.chunk", "created": 1,
            "citations": CITATIONS, "search_results": RESULTS, **extra,
            "choices": [{"index": 0, "finish_reason": finish, "delta": {"role": "assistant", "content": text},
                         "message": {"role": "assistant", "content": so_far}}]}


PERPLEXITY = sse(
    ": ping\n\n",
    perplexity_chunk("Laut [1] ", "Laut [1] "),
    ": ping\n\n",
    "event: ping\ndata: {\"type\": \"ping\"}\n\n",
    perplexity_chunk("und [2] – ja.", "Laut [1] und [2] – ja."),
    {"id": "p-1", "model": "sonar-pro", "object": "chat.completion.chunk", "citations": CITATIONS, "choices": []},
    perplexity_chunk("", "Laut [1] und [2] – ja.", finish="stop",
                     usage={"prompt_tokens": 9, "completion_tokens": 8, "total_tokens": 17, "citation_tokens": 120,
                            "num_search_queries": 1}),
    "data: [DONE]\n\n",
)


def test_perplexity_pings_and_citations_leave_the_content_intact() -> None:
    want = {"content": "Laut [1] und [2] – ja.", "thinking": "", "finish": "stop", "input": 9, "output": 8}
    for blocks in cuts(PERPLEXITY):
        assert folded(blocks) == want


def test_perplexity_end_to_end(server: Server) -> None:
    server.queue(Reply(raw=PERPLEXITY, split=9))
    chat = llmchat.chat("sonar-pro", base_url=server.url("chat_completions"), api_key="k")
    texts: list[str] = []
    reply = chat.ask("Quellen?", on_chunk=lambda c: texts.append(c.content or ""))
    assert reply.content == "".join(texts) == "Laut [1] und [2] – ja."
    assert (reply.finish_reason, reply.output_tokens, reply.status) == ("stop", 8, "complete")


# ---------------------------------------------------------------------------------- gpustack

def test_gpustack_vllm_error_event(server: Server) -> None:
    body = sse(delta(role="assistant", content="Teil"),
               {"object": "error", "message": "This model's maximum context length is 4096 tokens",
                "type": "BadRequestError", "param": None, "code": 400})
    server.queue(Reply(raw=body))
    chat = llmchat.chat("qwen3", provider="gpustack", base_url=server.url("chat_completions"), api_key="k")
    with pytest.raises(llmchat.ContextLengthExceededError) as caught:
        chat.ask("hi")
    assert caught.value.partial == "Teil" and "maximum context length is 4096" in str(caught.value)


# ---------------------------------------------------------------------------------- xai

def test_xai_reasoning_content_is_thinking(server: Server) -> None:
    body = sse(delta(role="assistant", reasoning_content="Hmm, 2+2"),
               delta(reasoning_content=" ist 4."),
               delta(content="4"),
               {**delta(content="", finish="stop"),
                "usage": {"prompt_tokens": 5, "completion_tokens": 20,
                          "completion_tokens_details": {"reasoning_tokens": 18}}},
               "data: [DONE]\n\n")
    for blocks in cuts(body):
        assert folded(blocks) == {"content": "4", "thinking": "Hmm, 2+2 ist 4.", "finish": "stop",
                                  "input": 5, "output": 20}
    server.queue(Reply(raw=body, split=2))
    reply = llmchat.chat("grok-3-mini", base_url=server.url("chat_completions"), api_key="k").ask("2+2?")
    assert (reply.content, reply.thinking, reply.reasoning_tokens) == ("4", "Hmm, 2+2 ist 4.", 18)
