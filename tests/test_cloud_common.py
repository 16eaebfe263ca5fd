"""What the cloud providers share: discovery, import cost, content filters, the error mapping."""

from __future__ import annotations

import subprocess
import sys

import pytest

import llmchat
from llmchat import providers
from llmchat.errors import error_class

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
                                    "PROHIBITED_CONTENT", "RECITATION"])
def test_content_filtered_is_true_for_every_providers_filter_ending(reason):
    assert llmchat.Message("assistant", "x", finish_reason=reason).content_filtered
    assert not llmchat.Message("assistant", "x", finish_reason="stop").content_filtered


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
