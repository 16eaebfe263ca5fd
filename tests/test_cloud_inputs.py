"""Wrong inputs to the cloud providers are clear typed errors before any request, never a request elsewhere."""

from __future__ import annotations

import pytest

import llmchat

KEY = "bedrock-key-SECRET-0123456789"


@pytest.mark.parametrize("region", ["us east 1", "us-east-1\n", "evil.example/x", "eu-west-1.evil.example#", ""])
def test_a_malformed_aws_region_is_a_configuration_error(monkeypatch, region):
    monkeypatch.setenv("AWS_REGION", region)
    if not region:
        llmchat.configure(bedrock_region=" ")
    with pytest.raises(llmchat.ConfigurationError, match="region") as info:
        llmchat.chat("amazon.nova-lite-v1:0", provider="bedrock", api_key=KEY)
    assert KEY not in str(info.value)


@pytest.mark.parametrize("region", ["us-east-1", "us-gov-west-1", "cn-north-1", "eusc-de-east-1", "ap-southeast-5"])
def test_real_aws_regions_are_accepted(monkeypatch, region):
    monkeypatch.setenv("AWS_REGION", region)
    chat = llmchat.chat("amazon.nova-lite-v1:0", provider="bedrock", api_key=KEY)
    assert chat._base_url.startswith(f"https://bedrock-runtime.{region}.amazonaws.com")


@pytest.mark.parametrize(("setting", "value"), [("vertexai_location", "us central1"), ("vertexai_location", "x/y"),
                                                ("vertexai_project", "p/../other"), ("vertexai_project", "my project"),
                                                ("vertexai_project", "p?x=1")])
def test_a_malformed_vertex_project_or_location_is_a_configuration_error(setting, value):
    llmchat.configure(**{"vertexai_project": "p", setting: value})
    with pytest.raises(llmchat.ConfigurationError, match=setting.split("_")[1]):
        llmchat.chat("gemini-2.5-flash", provider="vertexai", api_key="tok-123456")


def test_real_vertex_projects_and_locations_are_accepted():
    llmchat.configure(vertexai_project="example.com:my-project-42", vertexai_location="europe-west4")
    chat = llmchat.chat("gemini-2.5-flash", provider="vertexai", api_key="tok-123456")
    assert chat._base_url == ("https://europe-west4-aiplatform.googleapis.com/v1beta1/projects/example.com:"
                              "my-project-42/locations/europe-west4/publishers/google")


@pytest.mark.parametrize("key", [b"bytes-key-SECRET-1234", 1234567, ("k", "v")])
def test_a_key_that_is_not_a_str_is_a_configuration_error(server, key):
    with pytest.raises(llmchat.ConfigurationError, match=f"api_key must be a str.*got {type(key).__name__}") as info:
        llmchat.chat("command-a-03-2025", base_url=server.root, api_key=key)
    assert "SECRET" not in str(info.value) and "1234567" not in str(info.value)
    with pytest.raises(llmchat.ConfigurationError, match=f"cohere_api_key must be a str.*{type(key).__name__}"):
        llmchat.configure(cohere_api_key=key)
    assert server.requests == []


@pytest.mark.parametrize("version", ["2024-10-21&api-key=x", "2024 10 21", "../v2", "2024-10-21\n"])
def test_a_malformed_azure_api_version_is_a_configuration_error_before_any_request(server, monkeypatch, version):
    monkeypatch.setenv("AZURE_API_VERSION", version)
    chat = llmchat.chat("gpt-4o", provider="azure", base_url=server.root + "/openai/deployments/d", api_key=KEY)
    with pytest.raises(llmchat.ConfigurationError, match="api-version") as info:
        chat.ask("hi")
    assert KEY not in str(info.value) and server.requests == []


def test_a_vertex_claude_model_id_stays_one_path_segment(server):
    from llmchat.testing import Reply

    server.queue(Reply(text="ok"))
    base = server.root + "/v1/projects/p/locations/us-east5/publishers/anthropic"
    chat = llmchat.chat("claude-x@1/../../../other?y=1", provider="vertexai", base_url=base, api_key="tok-123456",
                        max_retries=0)
    assert chat.ask("hi").content == "ok"
    request = server.requests[-1]
    assert request.path == ("/v1/projects/p/locations/us-east5/publishers/anthropic/models/"
                            "claude-x@1%2F..%2F..%2F..%2Fother%3Fy%3D1:streamRawPredict")
    assert request.query == {}
