"""Google Vertex AI: Gemini and Claude URLs, bearer tokens and Application Default Credentials, over real HTTP."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

import llmchat
from llmchat.testing import Call, Reply

TOKEN = "ya29.access-token-SECRET-0123456789"
PUBLISHER = "/v1beta1/projects/<GOOGLE_CLOUD_PROJECT>/locations/<GOOGLE_CLOUD_LOCATION>/publishers/google"


def test_urls_from_project_and_location(monkeypatch):
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "proj")
    chat = llmchat.chat("gemini-2.5-flash", provider="vertexai", api_key=TOKEN)
    assert chat.protocol == "gemini"
    assert chat._base_url == "https://aiplatform.googleapis.com/v1beta1/projects/proj/locations/global/publishers/google"
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "europe-west4")
    chat = llmchat.chat("claude-sonnet-4-5@20250929", provider="vertexai", api_key=TOKEN)
    assert chat.protocol == "anthropic_messages"
    assert chat._base_url == ("https://europe-west4-aiplatform.googleapis.com/v1/projects/proj/locations/"
                              "europe-west4/publishers/anthropic")
    llmchat.configure(vertexai_location="us", vertexai_project="other")
    chat = llmchat.chat("meta/llama-4-maverick-17b-128e-instruct-maas", provider="vertexai", api_key=TOKEN)
    assert chat.protocol == "chat_completions"
    assert chat._base_url == ("https://aiplatform.us.rep.googleapis.com/v1beta1/projects/other/locations/us/"
                              "endpoints/openapi")


def test_no_project_is_a_configuration_error():
    with pytest.raises(llmchat.ConfigurationError, match="GOOGLE_CLOUD_PROJECT"):
        llmchat.chat("gemini-2.5-flash", provider="vertexai", api_key=TOKEN)


def test_gemini_with_a_bearer_token_as_the_conformance_check_builds_it(server):
    server.queue(Reply(text=["Hel", "lo"]))
    chat = llmchat.chat(model="gemini-2.5-flash", provider="vertexai", protocol="gemini",
                        base_url=server.root + PUBLISHER, api_key="test")
    assert chat.ask("hi").content == "Hello"
    request = server.requests[-1]
    assert request.path.endswith("/publishers/google/models/gemini-2.5-flash:streamGenerateContent")
    assert request.query == {"alt": "sse"} and request.headers["authorization"] == "Bearer test"
    assert "x-goog-api-key" not in request.headers


def test_claude_on_vertex_stream_raw_predict_and_tool_loop(server):
    server.queue(Reply(tool_calls=[Call("weather", {"city": "Rome"})]), Reply(text="Warm."))

    @llmchat.tool
    def weather(city: str) -> str:
        """Weather in a city."""
        return f"25°C in {city}"

    base = server.root + "/v1/projects/p/locations/us-east5/publishers/anthropic"
    chat = llmchat.chat("claude-sonnet-4-5@20250929", provider="vertexai", base_url=base, api_key=TOKEN,
                        max_retries=0).with_tool(weather)
    assert chat.ask("Weather?").content == "Warm."
    for request in server.requests:
        assert request.path == ("/v1/projects/p/locations/us-east5/publishers/anthropic/models/"
                                "claude-sonnet-4-5@20250929:streamRawPredict")
        assert "model" not in request.body and request.body["anthropic_version"] == "vertex-2023-10-16"
        assert request.body["stream"] is True and "anthropic-version" not in request.headers
    assert server.requests[-1].body["messages"][-1]["content"][0]["content"] == "25°C in Rome"


def test_gemini_tool_loop_and_safety_stop(server):
    server.queue(Reply(tool_calls=[Call("clock")]), Reply(text="Noon."), Reply(text=["Part"], finish="SAFETY"),
                 Reply(finish="SAFETY"))

    @llmchat.tool
    def clock() -> str:
        """The time."""
        return "12:00"

    chat = llmchat.chat("gemini-2.5-flash", provider="vertexai", base_url=server.root + PUBLISHER, api_key=TOKEN,
                        max_retries=0).with_tool(clock)
    assert chat.ask("Time?").content == "Noon."
    reply = chat.ask("More")
    assert reply.content == "Part" and reply.content_filtered and reply.finish_reason == "SAFETY"
    with pytest.raises(llmchat.ContentFilterError):
        chat.ask("Again")


@pytest.mark.parametrize(("reply", "cls"), [
    (Reply(status=429), llmchat.RateLimitError),
    (Reply(status=401), llmchat.UnauthorizedError),
    (Reply(status=403), llmchat.ForbiddenError),
    (Reply(text=["Once"], error={"type": "rate_limit_error"}), llmchat.RateLimitError),
])
def test_error_shapes(server, reply, cls):
    server.queue(reply)
    chat = llmchat.chat("gemini-2.5-flash", provider="vertexai", base_url=server.root + PUBLISHER, api_key=TOKEN,
                        max_retries=0)
    with pytest.raises(cls) as info:
        chat.ask("hi")
    assert TOKEN not in str(info.value) and TOKEN not in repr(chat)


def test_a_token_given_does_not_import_google_auth():
    code = ("import sys, os, llmchat; from llmchat.testing import Server\n"
            "with Server() as s:\n"
            "    s.reply('ok')\n"
            f"    c = llmchat.chat('gemini-2.5-flash', provider='vertexai', base_url=s.root + {PUBLISHER!r}, "
            "api_key='tok')\n"
            "    c.ask('hi')\n"
            "print(sorted(m for m in ('google', 'google.auth', 'cryptography') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def service_account(tmp_path, token_uri):
    cryptography = pytest.importorskip("cryptography")
    pytest.importorskip("google.auth")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    assert cryptography
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    info = {"type": "service_account", "project_id": "adc-project", "private_key_id": "kid1", "private_key": pem,
            "client_email": "llmchat-test@adc-project.iam.gserviceaccount.com", "client_id": "1",
            "token_uri": token_uri}
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(info))
    return path, key


def test_application_default_credentials_with_a_service_account(server, tmp_path, monkeypatch, token_endpoint):
    import base64

    path, key = service_account(tmp_path, token_endpoint.url)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    monkeypatch.setenv("GOOGLE_CLOUD_QUOTA_PROJECT", "billing-project")
    chat = llmchat.chat("gemini-2.5-flash", provider="vertexai", max_retries=0)
    assert "/projects/adc-project/locations/global/" in chat._base_url     # the project ADC names
    server.queue(Reply(text="one"), Reply(text="two"))
    chat = llmchat.chat("gemini-2.5-flash", provider="vertexai", base_url=server.root + PUBLISHER, max_retries=0)
    assert chat.ask("hi").content == "one" and chat.ask("again").content == "two"
    assert len(token_endpoint.grants) == 1     # the token is reused until it is due
    grant = token_endpoint.grants[0]
    assert grant["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    header, claims, signature = grant["assertion"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(claims + "=="))
    assert claims["iss"] == "llmchat-test@adc-project.iam.gserviceaccount.com" and claims["aud"].endswith("/token")
    assert "cloud-platform" in claims["scope"]
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key.public_key().verify(base64.urlsafe_b64decode(signature + "=="), f"{header}.{grant['assertion'].split('.')[1]}"
                            .encode(), padding.PKCS1v15(), hashes.SHA256())     # signed with the file's key
    for request in server.requests:
        assert request.headers["authorization"] == "Bearer ya29.token-1"
        assert request.headers["x-goog-user-project"] == "billing-project"


def test_tokens_close_to_expiry_are_refreshed(server, tmp_path, monkeypatch):
    from fixtures_clouds import TokenEndpoint

    with TokenEndpoint(expires_in=5) as endpoint:     # inside google-auth's refresh margin: refreshed every time
        path, _key = service_account(tmp_path, endpoint.url)
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
        server.queue(Reply(text="one"), Reply(text="two"))
        chat = llmchat.chat("gemini-2.5-flash", provider="vertexai", base_url=server.root + PUBLISHER,
                            max_retries=0)
        chat.ask("hi")
        chat.ask("again")
        assert len(endpoint.grants) == 2
        assert [r.headers["authorization"] for r in server.requests] == ["Bearer ya29.token-1", "Bearer ya29.token-2"]


def test_configured_credentials_object(server):
    google_credentials = pytest.importorskip("google.oauth2.credentials")
    creds = google_credentials.Credentials(token=TOKEN, quota_project_id="q")
    llmchat.configure(vertexai_credentials=creds, vertexai_project="p")
    server.reply("ok")
    chat = llmchat.chat("gemini-2.5-flash", provider="vertexai", base_url=server.root + PUBLISHER, max_retries=0)
    assert chat.ask("hi").content == "ok"
    assert server.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"
    assert server.requests[-1].headers["x-goog-user-project"] == "q"


def test_tokens_never_logged(server, caplog):
    server.reply("ok")
    with caplog.at_level(logging.DEBUG, logger="llmchat"):
        llmchat.chat("gemini-2.5-flash", provider="vertexai", base_url=server.root + PUBLISHER, api_key=TOKEN,
                     max_retries=0).ask("hi")
    assert "streamGenerateContent" in caplog.text and TOKEN not in caplog.text


def test_claude_stream_with_vertex_event_is_read(server):
    events = [("message_start", {"type": "message_start", "message": {"model": "claude-x", "usage": {
                  "input_tokens": 4, "output_tokens": 1}}}),
              ("vertex_event", {"type": "vertex_event", "usage": {"input_tokens": 4}}),
              ("content_block_start", {"type": "content_block_start", "index": 0,
                                       "content_block": {"type": "text", "text": ""}}),
              ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                       "delta": {"type": "text_delta", "text": "Ciao"}}),
              ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                 "usage": {"output_tokens": 2}}),
              ("message_stop", {"type": "message_stop"})]
    server.queue(Reply(raw="".join(f"event: {n}\ndata: {json.dumps(d)}\n\n" for n, d in events)))
    chat = llmchat.chat("claude-x@1", provider="vertexai", api_key=TOKEN, max_retries=0,
                        base_url=server.root + "/v1/projects/p/locations/global/publishers/anthropic")
    reply = chat.ask("hi")
    assert (reply.content, reply.input_tokens, reply.output_tokens) == ("Ciao", 4, 2)


def test_token_endpoint_failures_are_typed(server, tmp_path, monkeypatch):
    from fixtures_clouds import TokenEndpoint

    with TokenEndpoint() as endpoint:
        dead = endpoint.url
    path, _key = service_account(tmp_path, dead)          # nothing listens there any more
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    chat = llmchat.chat("gemini-2.5-flash", provider="vertexai", base_url=server.root + PUBLISHER, max_retries=0)
    with pytest.raises(llmchat.ConnectionError, match="token endpoint"):
        chat.ask("hi")
    assert server.requests == []


def test_a_401_with_adc_refreshes_once_and_resends(server, tmp_path, monkeypatch, token_endpoint):
    path, _key = service_account(tmp_path, token_endpoint.url)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    server.queue(Reply(status=401), Reply(text="ok"), Reply(status=401), Reply(status=401))
    chat = llmchat.chat("gemini-2.5-flash", provider="vertexai", base_url=server.root + PUBLISHER, max_retries=0)
    assert chat.ask("hi").content == "ok"
    assert [r.headers["authorization"] for r in server.requests] == ["Bearer ya29.token-1", "Bearer ya29.token-2"]
    with pytest.raises(llmchat.UnauthorizedError):      # once only
        chat.ask("again")
    assert len(server.requests) == 4 and len(token_endpoint.grants) == 3


def test_a_401_with_a_token_given_is_not_resent(server):
    server.queue(Reply(status=401), Reply(text="never"))
    chat = llmchat.chat("gemini-2.5-flash", provider="vertexai", base_url=server.root + PUBLISHER, api_key=TOKEN,
                        max_retries=0)
    with pytest.raises(llmchat.UnauthorizedError):
        chat.ask("hi")
    assert len(server.requests) == 1


def test_no_token_and_no_adc_is_a_configuration_error(server, monkeypatch):
    """(google-auth probes the metadata server, here a closed loopback port, a few times first: ~3 s.)"""
    pytest.importorskip("google.auth")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    chat = llmchat.chat("gemini-2.5-flash", provider="vertexai", base_url=server.root + PUBLISHER, max_retries=0)
    with pytest.raises(llmchat.ConfigurationError, match="Google credentials"):
        chat.ask("hi")
    assert server.requests == []
