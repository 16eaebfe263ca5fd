"""What the cloud providers share: discovery, import cost, content filters, the error mapping."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import llmchat
from llmchat import providers
from llmchat.errors import error_class
from llmchat.testing import Reply

HEAVY = ("botocore", "boto3", "google", "google.auth", "cryptography", "azure", "llmchat.eventstream",
         "llmchat.auth.sigv4", "requests")


def test_the_four_providers_and_two_protocols_are_known():
    assert {"azure", "vertexai", "bedrock", "cohere"} <= set(providers.names())
    assert {p: providers.get(p).protocol for p in ("azure", "vertexai", "bedrock", "cohere")} == {
        "azure": "chat_completions", "vertexai": "gemini", "bedrock": "converse", "cohere": "cohere"}
    assert {"cohere", "converse"} <= set(llmchat.protocols.NAMES)


def test_import_and_model_inference_load_nothing_heavy():
    code = ("import sys, llmchat; from llmchat import providers\n"
            "assert providers.for_model('command-a-03-2025').name == 'cohere'\n"
            "providers.get('bedrock'); providers.get('vertexai'); providers.get('azure')\n"
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_cloud_ids_are_not_claimed_by_the_direct_providers():
    with pytest.raises(llmchat.ConfigurationError):
        providers.for_model("us.amazon.nova-2-lite-v1:0")
    assert providers.for_model("claude-haiku-4-5").name == "anthropic"     # Vertex and Bedrock are named


@pytest.mark.parametrize("reason", ["content_filter", "guardrail_intervened", "content_filtered", "SAFETY",
                                    "PROHIBITED_CONTENT", "RECITATION", "refusal", "ERROR_TOXIC"])
def test_content_filtered_is_true_for_every_providers_filter_ending(reason):
    assert llmchat.Message("assistant", "x", finish_reason=reason).content_filtered
    assert not llmchat.Message("assistant", "x", finish_reason="stop").content_filtered


# provider, protocol, model, base path on the loopback server, the filter ending it sends, finish_reason seen
FILTER_ENDINGS = [
    ("azure", "chat_completions", "gpt-4.1-mini", "/openai/v1", "content_filter", "content_filter"),
    ("azure", "responses", "gpt-5-nano", "/openai/v1", "content_filter", "incomplete"),
    ("openai", "responses", "gpt-5-nano", "/v1", "content_filter", "incomplete"),
    ("openai", "chat_completions", "gpt-4.1-mini", "/v1", "content_filter", "content_filter"),
    ("anthropic", "anthropic_messages", "claude-haiku-4-5", "", "refusal", "refusal"),
    ("gemini", "gemini", "gemini-2.5-flash", "/v1beta", "PROHIBITED_CONTENT", "PROHIBITED_CONTENT"),
    ("vertexai", "gemini", "gemini-2.5-flash", "/v1beta1/projects/p/locations/global/publishers/google", "SAFETY",
     "SAFETY"),
    ("bedrock", "converse", "us.amazon.nova-2-lite-v1:0", "", "guardrail_intervened", "guardrail_intervened"),
    ("bedrock", "converse", "us.amazon.nova-2-lite-v1:0", "", "content_filtered", "content_filtered"),
    ("cohere", "cohere", "command-a-03-2025", "", "ERROR_TOXIC", "ERROR_TOXIC"),
]


@pytest.mark.parametrize(("provider", "protocol", "model", "path", "ending", "finish"), FILTER_ENDINGS,
                         ids=[f"{p}-{q}-{e}" for p, q, _m, _b, e, _f in FILTER_ENDINGS])
def test_every_providers_filter_ending_over_http(server, provider, protocol, model, path, ending, finish):
    """The one rule: cut after some content, the answer returns normally (partial text kept, the
    provider's finish_reason, content_filtered); cut before any, a ContentFilterError."""
    server.queue(Reply(text=["Once ", "upon"], finish=ending), Reply(finish=ending))
    chat = llmchat.chat(model, provider=provider, protocol=protocol, base_url=server.root + path,
                        api_key="k-test-SECRET-0123456789", max_retries=0)
    reply = chat.ask("story")
    assert (reply.content, reply.finish_reason, reply.content_filtered, reply.status) == \
        ("Once upon", finish, True, "complete")
    assert chat.messages[-1] is reply and server.requests[-1].protocol == protocol
    with pytest.raises(llmchat.ContentFilterError, match="before any content") as info:
        chat.ask("again")
    assert info.value.partial == "" and chat.messages[-1].status == "incomplete"
    assert [m.role for m in chat.messages] == ["user", "assistant", "user", "assistant"]


def test_a_responses_answer_cut_by_its_token_limit_is_incomplete_but_not_filtered(server):
    server.queue(Reply(text=["Once ", "upon"], finish="incomplete"))
    chat = llmchat.chat("gpt-5-nano", provider="azure", protocol="responses", base_url=server.root + "/openai/v1",
                        api_key="k-test-SECRET-0123456789", max_retries=0)
    reply = chat.ask("story")
    assert (reply.content, reply.finish_reason, reply.finish_detail, reply.content_filtered) == \
        ("Once upon", "incomplete", "max_output_tokens", False)
    assert llmchat.Message.from_dict(reply.to_dict()).finish_detail == "max_output_tokens"   # stored too


@pytest.mark.parametrize(("status", "kind", "message", "cls"), [
    (None, "throttlingException", "Too many tokens, please wait before trying again.", llmchat.RateLimitError),
    (429, "ThrottlingException", "Too many tokens", llmchat.RateLimitError),
    (400, "ValidationException", "Input Tokens Exceeded: Number of input tokens exceeds maximum length",
     llmchat.ContextLengthExceededError),
    (424, None, "Model error", llmchat.ServerError),
    (498, None, "invalid api token", llmchat.UnauthorizedError),
    (None, "modelStreamErrorException", "A streaming error occurred.", llmchat.ServerError),
    (None, "serviceUnavailableException", "busy", llmchat.ServiceUnavailableError),
    (None, "content_filter", "filtered", llmchat.ContentFilterError),
    (400, "content_filter", "The response was filtered", llmchat.ContentFilterError),
])
def test_mapping(status, kind, message, cls):
    assert error_class(status, kind, message) is cls


def test_settings_of_the_cloud_providers_are_known_and_tokens_masked():
    llmchat.configure(azure_api_version="2024-10-21", vertexai_project="p", bedrock_region="us-east-1",
                      azure_ad_token="tok-SECRET")
    try:
        from llmchat.config import _settings

        assert "tok-SECRET" not in repr(_settings)
        with pytest.raises(llmchat.ConfigurationError, match="vertexai_location"):
            llmchat.configure(vertexai_locaton="x")
    finally:
        llmchat.configure(azure_api_version=None, vertexai_project=None, bedrock_region=None, azure_ad_token=None)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                      max_size=3), max_leaves=8)
COHERE_KEYS = st.sampled_from(["type", "delta", "message", "content", "text", "thinking", "tool_calls", "index",
                               "function", "arguments", "finish_reason", "usage", "billed_units", "error"])
CONVERSE_NAMES = st.sampled_from(["messageStart", "contentBlockStart", "contentBlockDelta", "messageStop",
                                  "metadata", "exception:throttlingException"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(CONVERSE_NAMES | st.text(max_size=5),
                          st.dictionaries(COHERE_KEYS | st.sampled_from(["start", "toolUse", "contentBlockIndex",
                                                                         "stopReason", "reasoningContent"]),
                                          json_values, max_size=4)), max_size=6))
def test_hostile_events_raise_only_llmchat_errors_or_shape_errors(events):
    from llmchat.protocols import cohere, converse
    from llmchat.streaming import _SHAPE_ERRORS

    for parse in (cohere.parse, converse.parse):
        pairs = [(name, json.dumps(data)) for name, data in events]
        try:
            list(parse(pairs))
        except (llmchat.Error, *_SHAPE_ERRORS):
            pass


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=200))
def test_hostile_bytes_over_http_raise_only_llmchat_errors(junk, at):
    from llmchat.eventstream import encode
    from llmchat.testing import Reply, Server

    valid = encode({":event-type": "contentBlockDelta", ":message-type": "event"},
                   b'{"contentBlockIndex":0,"delta":{"text":"Hi"}}')
    body = valid[:at] + junk
    with Server() as server:
        server.queue(Reply(raw=body, content_type="application/vnd.amazon.eventstream"))
        chat = llmchat.chat("m", provider="bedrock", base_url=server.root, api_key="k", max_retries=0)
        with pytest.raises(llmchat.Error):
            chat.ask("hi")
