"""Cloud credentials never ride on an error: not in its message, its context, nor its traceback's frames."""

from __future__ import annotations

import json
import logging

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


ENTRA = "eyJ0eXAiOiJKV1Qi.entra-token-SECRET-42"


def test_an_entra_token_echoed_by_the_server_is_redacted(server, caplog):
    llmchat.configure(azure_ad_token_provider=lambda: ENTRA)
    server.queue(Reply(status=401, body={"error": {"code": "401", "message": f"token {ENTRA} has expired"}}))
    chat = llmchat.chat("gpt-4o", provider="azure", base_url=server.root + "/openai/v1", max_retries=0)
    with caplog.at_level(logging.DEBUG, logger="llmchat"), pytest.raises(llmchat.UnauthorizedError) as info:
        chat.ask("hi")
    assert server.requests[0].headers["authorization"] == f"Bearer {ENTRA}"
    assert "has expired" in str(info.value) and ENTRA not in str(info.value) + repr(info.value.body)
    assert "Authorization" in caplog.text and ENTRA not in caplog.text


def test_a_google_token_echoed_by_the_server_is_redacted(server, token_endpoint, tmp_path, monkeypatch):
    from test_cloud_vertexai import PUBLISHER, service_account

    path, _key = service_account(tmp_path, token_endpoint.url)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    server.queue(Reply(status=403, body={"error": {"code": 403, "message": "ya29.token-1 may not call this",
                                                   "status": "PERMISSION_DENIED"}}))
    chat = llmchat.chat("gemini-2.5-flash", provider="vertexai", base_url=server.root + PUBLISHER, max_retries=0)
    with pytest.raises(llmchat.ForbiddenError) as info:
        chat.ask("hi")
    assert server.requests[0].headers["authorization"] == "Bearer ya29.token-1"
    assert "*** may not call this" in str(info.value) and "ya29.token-1" not in str(info.value)


def test_signed_requests_do_not_grow_the_set_of_secrets_to_redact(server, monkeypatch):
    from llmchat.config import known_secrets

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-secret-key")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "FQoGZXIvYXdz-session-token")
    chat = llmchat.chat("m", provider="bedrock", base_url=server.root, max_retries=0)
    server.reply("first")
    chat.ask("hi")
    before = set(known_secrets())
    for _ in range(4):
        server.reply("again")
        chat.ask("hi")
    assert len(server.requests) == 5 and set(known_secrets()) == before      # no signature, date nor hash kept
    assert {"wJalrXUtnFEMI-secret-key", "FQoGZXIvYXdz-session-token"} <= before
    server.queue(Reply(status=403, body={"message": "The security token FQoGZXIvYXdz-session-token expired"}))
    with pytest.raises(llmchat.ForbiddenError, match=r"The security token \*\*\* expired"):
        chat.ask("hi")


def test_an_entra_token_provider_that_fails_is_an_unauthorized_error_without_context(server):
    secret = "client-secret-SECRET-987654"

    def provider():
        credential = {"client_secret": secret}
        raise RuntimeError(f"AADSTS7000215: invalid client secret for {len(credential)} app")

    llmchat.configure(azure_ad_token_provider=provider)
    chat = llmchat.chat("gpt-4o", provider="azure", base_url=server.root + "/openai/v1", max_retries=0)
    with pytest.raises(llmchat.UnauthorizedError, match="azure_ad_token_provider raised RuntimeError: AADSTS") as info:
        chat.ask("hi")
    assert server.requests == [] and info.value.__context__ is None and info.value.__cause__ is None
    assert_carries_no_key(info.value, secret)


def test_an_entra_token_provider_may_give_an_access_token_object_but_not_a_tuple(server):
    class AccessToken:      # azure.core.credentials.AccessToken / AccessTokenInfo carry .token
        token, expires_on = ENTRA, 0

    llmchat.configure(azure_ad_token_provider=AccessToken)
    server.reply("ok")
    chat = llmchat.chat("gpt-4o", provider="azure", base_url=server.root + "/openai/v1", max_retries=0)
    assert chat.ask("hi").content == "ok" and server.requests[-1].headers["authorization"] == f"Bearer {ENTRA}"
    llmchat.configure(azure_ad_token_provider=lambda: (ENTRA, 1234))
    with pytest.raises(llmchat.ConfigurationError, match="must return a str.*got tuple") as info:
        chat.ask("again")
    assert len(server.requests) == 1 and ENTRA not in str(info.value)
