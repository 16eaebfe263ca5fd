"""Azure OpenAI and Azure AI Foundry: https://learn.microsoft.com/azure/ai-foundry/openai/reference

Set ``AZURE_API_BASE`` (or ``AZURE_OPENAI_ENDPOINT``) to one of the URL shapes Azure serves; the
model is the deployment name, and the provider is always named (``provider="azure"``):

- the v1 API, ``https://RESOURCE.openai.azure.com/openai/v1`` (a bare resource root gets
  ``/openai/v1``): ``/chat/completions`` or ``/responses``, no api-version;
- the deployment form, ``https://RESOURCE.openai.azure.com/openai/deployments/DEPLOYMENT``:
  ``/chat/completions?api-version=...`` (``AZURE_API_VERSION``, default ``2024-10-21``);
- the Foundry models endpoint, ``https://RESOURCE.services.ai.azure.com/models``:
  ``/chat/completions?api-version=2024-05-01-preview``, the model named in the body.

An ``api-version`` already in the base URL wins. Keys go in the ``api-key`` header
(``AZURE_API_KEY`` or ``AZURE_OPENAI_API_KEY``); without a key, a Microsoft Entra ID token is sent
as a bearer: ``AZURE_AD_TOKEN``, or ``configure(azure_ad_token_provider=fn)`` called before each
request (e.g. ``azure.identity.get_bearer_token_provider(DefaultAzureCredential(),
"https://cognitiveservices.azure.com/.default")``). A prompt the content filter refuses raises
:class:`~llmchat.ContentFilterError`; an answer it cuts ends with ``finish_reason
"content_filter"`` (on Responses: ``"incomplete"``, ``finish_detail "content_filter"``) and
``message.content_filtered``.

>>> prepare(Target("https://r.services.ai.azure.com/models", "/chat/completions", {}, "chat_completions", "m")).url
'https://r.services.ai.azure.com/models/chat/completions?api-version=2024-05-01-preview'
>>> prepare(Target("https://r.openai.azure.com", "/responses", {}, "responses", "m")).url
'https://r.openai.azure.com/openai/v1/responses'
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import urlsplit

import attrs

from llmchat.config import remember, reveal
from llmchat.errors import ConfigurationError, UnauthorizedError
from llmchat.providers import Provider, Target, key_header
from llmchat.redaction import redact

DEPLOYMENT_VERSION = "2024-10-21"       # the latest GA inference version; older ones reject stream_options
MODELS_VERSION = "2024-05-01-preview"   # the Azure AI Model Inference API


def prepare(target: Target) -> Target:
    """The request URL for the shape of the configured base; ``stream_options`` dropped for old versions."""
    base, _, query = target.base.partition("?")
    parts = urlsplit(base)
    root, where = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
    own = target.path.partition("?")[0]
    if own and where.endswith(own):     # a full endpoint URL given as the base: used as is
        where = where[: -len(own)]
        base = root + where
    version = None
    if where in ("", "/openai") or (target.protocol == "responses" and "/openai/deployments/" in where):
        base = f"{root}/openai/v1"
    elif "/openai/deployments/" in where:
        version = PROVIDER.setting("api_version") or os.environ.get("OPENAI_API_VERSION") or DEPLOYMENT_VERSION
    elif where.endswith("/models"):
        version = PROVIDER.setting("api_version") or MODELS_VERSION
    if "api-version=" in query:
        version = query.split("api-version=", 1)[1].split("&", 1)[0]
    elif version:
        _check_version(version)
        query = "&".join(q for q in (query, f"api-version={version}") if q)
    body = target.body
    old = "/openai/deployments/" in base and version and version[:10] < DEPLOYMENT_VERSION
    if old and "stream_options" in body:
        body = {k: v for k, v in body.items() if k != "stream_options"}
    return attrs.evolve(target, base=base + (f"?{query}" if query else ""), body=body)


_VERSION = re.compile(r"v1|latest|preview|\d{4}-\d{2}-\d{2}(?:-preview)?")


def _check_version(version: Any) -> None:
    """The configured api-version goes into the query: ``&`` or a space must not add parameters to it."""
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise ConfigurationError("the Azure api-version (AZURE_API_VERSION, OPENAI_API_VERSION, azure_api_version)"
                                 f" must look like '2024-10-21' or '2025-04-01-preview', got {version!r}"[:200])


def sign(key: Any, method: str, url: str, headers: dict[str, str], data: bytes) -> dict[str, str]:
    """Without a key in ``api-key``: another key variable, else an Entra ID bearer token (fresh each request)."""
    if key or {"api-key", "authorization"} & {name.lower() for name in headers}:   # a key, or set by hand
        return {}
    other = os.environ.get("AZURE_OPENAI_API_KEY")
    if other:
        return {"api-key": remember(other)}
    return {"Authorization": f"Bearer {remember(_entra_token())}"}    # remembered: redacted if echoed


def _entra_token() -> str:
    token: Any = reveal(PROVIDER.setting("ad_token") or os.environ.get("AZURE_OPENAI_AD_TOKEN"))
    provider = PROVIDER.setting("ad_token_provider")
    if not token and callable(provider):
        token = _call(provider)
    if not token:
        raise ConfigurationError(
            "no credentials for azure: set AZURE_API_KEY (or pass api_key=...), or an Entra ID token in "
            "AZURE_AD_TOKEN, or llmchat.configure(azure_ad_token_provider=...)")
    return token


def _call(provider: Any) -> str:
    """The token ``provider()`` gives (a str, or an ``AccessToken`` with ``.token``). Its failure is raised
    anew outside the ``except``: its context and frames may hold the credential it used (a client secret)."""
    failure = None
    try:
        token = provider()
    except Exception as exc:    # noqa: BLE001 - any failure of the caller's provider is a failed authentication
        failure = UnauthorizedError(redact(f"the azure_ad_token_provider raised {type(exc).__name__}: {exc}"[:300]))
    if failure is not None:
        raise failure
    token = getattr(token, "token", token)
    if not isinstance(token, str):
        raise ConfigurationError("the azure_ad_token_provider must return a str (the token) or an object with a "
                                 f".token str (azure.core's AccessToken), got {type(token).__name__}")
    return token


def _locate(model: str, protocol: str, key: Any) -> str:
    base = os.environ.get("AZURE_OPENAI_ENDPOINT")
    if not base:
        raise ConfigurationError("no endpoint for azure: set AZURE_API_BASE (https://RESOURCE.openai.azure.com/"
                                 "openai/v1, .../openai/deployments/NAME or https://RESOURCE.services.ai.azure.com/"
                                 "models), or llmchat.configure(azure_api_base=...), or pass base_url=...")
    return base.rstrip("/")


PROVIDER = Provider(
    name="azure",
    base_url="",
    protocol="chat_completions",
    key_env="AZURE_API_KEY",
    base_env="AZURE_API_BASE",
    base_query=True,
    auth=key_header("api-key"),
    key_optional=True,
    settings={"api_version": "AZURE_API_VERSION", "ad_token": "AZURE_AD_TOKEN", "ad_token_provider": None},
    locate=_locate,
    prepare=prepare,
    sign=sign,
)
