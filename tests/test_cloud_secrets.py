"""Cloud credentials never ride on an error: not in its message, its context, nor its traceback's frames."""

from __future__ import annotations

import json

import pytest
from test_hostile_transport import assert_carries_no_key

import llmchat
from llmchat.testing import Reply

KEY = "azure-key-SECRET-0123456789"


@pytest.mark.parametrize(("provider", "prefix"), [("azure", "/openai/v1"), ("bedrock", ""),
                                                  ("vertexai", "/v1/projects/p/locations/l/publishers/google")])
def test_an_error_after_a_signed_request_carries_no_key(server, provider, prefix):
    server.queue(Reply(status=401))
    chat = llmchat.chat("gemini-2.5-flash", provider=provider, base_url=server.root + prefix, api_key=KEY,
                        max_retries=0)
    with pytest.raises(llmchat.UnauthorizedError) as info:
        chat.ask("hi")
    assert len(server.requests) == 1
    assert_carries_no_key(info.value, KEY)


def test_a_refused_token_grant_carries_neither_the_grant_nor_the_private_key(server, tmp_path, monkeypatch):
    from fixtures_clouds import TokenEndpoint
    from test_cloud_vertexai import PUBLISHER, service_account

    with TokenEndpoint(refuse=True) as endpoint:
        path, _key = service_account(tmp_path, endpoint.url)
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
        chat = llmchat.chat("gemini-2.5-flash", provider="vertexai", base_url=server.root + PUBLISHER, max_retries=0)
        with pytest.raises(llmchat.UnauthorizedError, match="refresh") as info:
            chat.ask("hi")
    assert server.requests == [] and endpoint.grants       # (google-auth may retry the grant once)
    assert info.value.__context__ is None and info.value.__cause__ is None
    pem_line = json.loads(path.read_text())["private_key"].splitlines()[3]
    assert_carries_no_key(info.value, pem_line, *(grant["assertion"] for grant in endpoint.grants))


def test_a_malformed_service_account_file_is_a_configuration_error_without_its_key(server, tmp_path, monkeypatch,
                                                                                     token_endpoint):
    from test_cloud_vertexai import PUBLISHER, service_account

    path, _key = service_account(tmp_path, token_endpoint.url)
    info = json.loads(path.read_text())
    del info["client_email"]
    path.write_text(json.dumps(info))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    chat = llmchat.chat("gemini-2.5-flash", provider="vertexai", base_url=server.root + PUBLISHER, max_retries=0)
    with pytest.raises(llmchat.ConfigurationError, match="client_email") as raised:
        chat.ask("hi")
    assert server.requests == [] and raised.value.__context__ is None
    assert_carries_no_key(raised.value, info["private_key"].splitlines()[3])


def test_a_malformed_aws_credentials_file_is_a_configuration_error_without_its_secret(server, tmp_path,
                                                                                      monkeypatch):
    secret = "wJalrXUtnFEMI-K7MDENG-SECRET"
    (tmp_path / "aws-credentials").write_text(f"[default]\naws_access_key_id = AKID\naws_secret_access_key = "
                                              f"{secret}\n[default]\nregion = us-east-1\n")
    chat = llmchat.chat("m", provider="bedrock", base_url=server.root, max_retries=0)
    with pytest.raises(llmchat.ConfigurationError, match="aws-credentials") as info:
        chat.ask("hi")
    assert server.requests == [] and info.value.__context__ is None
    assert_carries_no_key(info.value, secret)


def test_an_unknown_aws_profile_is_a_configuration_error(server, monkeypatch):
    pytest.importorskip("botocore")
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    chat = llmchat.chat("m", provider="bedrock", base_url=server.root, max_retries=0)
    with pytest.raises(llmchat.ConfigurationError, match="no-such-profile"):
        chat.ask("hi")
    assert server.requests == []
