"""Google Vertex AI: Gemini (https://cloud.google.com/vertex-ai/generative-ai/docs/reference/rest) and
Anthropic's Claude (https://docs.anthropic.com/en/api/claude-on-vertex-ai).

Name the provider: ``llmchat.chat("gemini-2.5-flash", provider="vertexai")``. The project and
location come from ``GOOGLE_CLOUD_PROJECT`` and ``GOOGLE_CLOUD_LOCATION`` (default ``global``), or
``llmchat.configure(vertexai_project=..., vertexai_location=...)``. Gemini models speak the
``gemini`` protocol on ``v1beta1``; ``claude-*`` models the ``anthropic_messages`` protocol through
``:streamRawPredict`` (body without ``model``, with ``anthropic_version: vertex-2023-10-16``);
``publisher/model`` ids (``meta/llama-4-maverick-17b-128e-instruct-maas``) the OpenAI-compatible
endpoint. A ``base_url`` given is used as is (the publisher root, e.g.
``.../v1beta1/projects/P/locations/L/publishers/google``).

Authentication: an OAuth access token given as ``api_key=`` is sent as a bearer token; otherwise
Application Default Credentials through google-auth (``pip install 'llmchat[vertexai]'``), or the
credentials object set with ``configure(vertexai_credentials=...)``.

>>> host("global"), host("eu"), host("us-central1")
('https://aiplatform.googleapis.com', 'https://aiplatform.eu.rep.googleapis.com', 'https://us-central1-aiplatform.googleapis.com')
>>> prepare(Target("https://h/v1/p/publishers/anthropic", "/v1/messages", {"model": "claude-x@1", "stream": True},
...                "anthropic_messages", "claude-x@1")).url
'https://h/v1/p/publishers/anthropic/models/claude-x@1:streamRawPredict'
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import attrs

from llmchat.errors import ConfigurationError
from llmchat.providers import Provider, Target

ANTHROPIC_VERSION = "vertex-2023-10-16"


def host(location: str) -> str:
    """The API host serving ``location``: global, a multi-region (``us``, ``eu``) or a region."""
    if location == "global":
        return "https://aiplatform.googleapis.com"
    if location in ("us", "eu"):
        return f"https://aiplatform.{location}.rep.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


def choose(model: str) -> str:
    """The protocol of a Vertex model id: Claude, an OpenAI-compatible ``publisher/model``, else Gemini."""
    if model.startswith("claude"):
        return "anthropic_messages"
    return "chat_completions" if "/" in model and not model.startswith("models/") else "gemini"


def locate(model: str, protocol: str, key: Any = None) -> str:
    """The base URL for ``model`` in the configured project and location (without a project
    configured and no token given, the project the Application Default Credentials name)."""
    location = PROVIDER.setting("location") or "global"
    project = PROVIDER.setting("project")
    if not project and not key:
        from llmchat.auth import google

        project = google.project()
    if not project:
        raise ConfigurationError("no project for vertexai: set GOOGLE_CLOUD_PROJECT, or call "
                                 "llmchat.configure(vertexai_project=...), or pass base_url=...")
    _check("location", location, _LOCATION)
    _check("project", project, _PROJECT)
    root = f"{host(location)}/{{version}}/projects/{project}/locations/{location}"
    if protocol == "anthropic_messages":
        return root.format(version="v1") + "/publishers/anthropic"
    if protocol == "gemini":
        return root.format(version="v1beta1") + "/publishers/google"
    return root.format(version="v1beta1") + "/endpoints/openapi"


_LOCATION = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_PROJECT = re.compile(r"[a-z0-9][a-z0-9-]*(?:[.:][a-z0-9-]+)*")     # also the legacy "example.com:my-project"


def _check(what: str, value: Any, pattern: re.Pattern[str]) -> None:
    """Project and location go into the URL: a space, a ``/`` or ``..`` must not build another one."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ConfigurationError(f"the Vertex AI {what} (GOOGLE_CLOUD_{what.upper()}, vertexai_{what}) must be "
                                 f"a {what} id such as {'us-central1' if what == 'location' else 'my-project'!r}, "
                                 f"got {value!r}"[:200])


def prepare(target: Target) -> Target:
    """Claude: ``:streamRawPredict`` with the model in the path (quoted: a ``/`` or ``?`` in an id stays
    part of the id), not in the body."""
    if target.protocol != "anthropic_messages":
        return target
    body = {k: v for k, v in target.body.items() if k != "model"}
    body["anthropic_version"] = ANTHROPIC_VERSION
    return attrs.evolve(target, path=f"/models/{quote(target.model, safe='@')}:streamRawPredict", body=body)


def sign(key: Any, method: str, url: str, headers: dict[str, str], data: bytes) -> dict[str, str]:
    """No token given: Application Default Credentials (or the configured ones), refreshed when due."""
    if key:
        return {}
    from llmchat.auth import google

    return google.headers(google.credentials(PROVIDER.setting("credentials")))


def reauth() -> bool:
    """After a 401: refresh the Application Default Credentials before the one retry."""
    from llmchat.auth import google

    return google.expire(PROVIDER.setting("credentials"))


PROVIDER = Provider(
    name="vertexai",
    base_url="",
    protocol="gemini",
    base_env="VERTEXAI_API_BASE",
    key_optional=True,
    settings={"project": "GOOGLE_CLOUD_PROJECT", "location": "GOOGLE_CLOUD_LOCATION", "credentials": None},
    choose=choose,
    locate=locate,
    prepare=prepare,
    sign=sign,
    reauth=reauth,
)
