"""Fixtures for the cloud-provider tests: an environment without the machine's cloud credentials,
and a loopback OAuth token endpoint for Google's Application Default Credentials."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import llmchat

CLOUD_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
             "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_BEARER_TOKEN_BEDROCK", "BEDROCK_API_BASE",
             "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "GOOGLE_APPLICATION_CREDENTIALS",
             "GOOGLE_CLOUD_QUOTA_PROJECT", "VERTEXAI_API_BASE",
             "AZURE_API_KEY", "AZURE_OPENAI_API_KEY", "AZURE_API_BASE", "AZURE_OPENAI_ENDPOINT", "AZURE_API_VERSION",
             "OPENAI_API_VERSION", "AZURE_AD_TOKEN", "AZURE_OPENAI_AD_TOKEN", "COHERE_API_KEY", "CO_API_KEY",
             "COHERE_API_BASE")
SETTINGS = ("azure_ad_token_provider", "azure_ad_token", "azure_api_version", "vertexai_project",
            "vertexai_location", "vertexai_credentials", "bedrock_region")


@pytest.fixture(autouse=True)
def clean_cloud_env(request, monkeypatch, tmp_path):
    """In test_cloud_* (live tests aside), no cloud credentials from this machine: env cleared, AWS
    files pointed at an empty folder, Google's metadata server at a closed loopback port."""
    if not request.node.path.name.startswith("test_cloud_") or request.node.get_closest_marker("live"):
        yield
        return
    for name in CLOUD_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    yield
    llmchat.configure(**{name: None for name in SETTINGS})
    from llmchat.auth import aws, google

    google.forget()
    aws.forget()


class TokenEndpoint:
    """A loopback OAuth 2.0 token endpoint: records each grant, answers with a new access token."""

    def __init__(self, expires_in: int = 3600, refuse: bool = False) -> None:
        self.expires_in = expires_in
        self.refuse = refuse        # answer every grant with a 400 invalid_grant
        self.grants: list[dict[str, str]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                endpoint.grants.append(form)
                body = json.dumps({"access_token": f"ya29.token-{len(endpoint.grants)}",
                                   "expires_in": endpoint.expires_in, "token_type": "Bearer"}).encode()
                if endpoint.refuse:
                    body = b'{"error": "invalid_grant", "error_description": "Invalid JWT Signature."}'
                self.send_response(400 if endpoint.refuse else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> TokenEndpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def token_endpoint():
    with TokenEndpoint(expires_in=3600) as endpoint:
        yield endpoint
