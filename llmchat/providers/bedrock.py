"""Amazon Bedrock: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html

Name the provider: ``llmchat.chat("us.anthropic.claude-haiku-4-5-20251001-v1:0", provider="bedrock")``;
a Bedrock ARN (an inference profile, a provisioned or imported model) names it by itself, and its
region is used when none is configured.
The ``converse`` protocol (AWS's binary event stream) serves every Bedrock model; ``protocol=
"chat_completions"`` (or ``"responses"``) speaks Bedrock's OpenAI-compatible endpoint
(``/openai/v1``) instead. The region is ``AWS_REGION`` (or ``AWS_DEFAULT_REGION``, the profile's,
``configure(bedrock_region=...)``).

Authentication: a Bedrock API key (``api_key=`` or ``AWS_BEARER_TOKEN_BEDROCK``) is sent as a
bearer token; otherwise requests are signed with AWS Signature Version 4 (:mod:`llmchat.auth.sigv4`)
using the usual AWS credentials (:mod:`llmchat.auth.aws`).

>>> region_of("https://bedrock-runtime.eu-west-1.amazonaws.com/model/m/converse-stream")
'eu-west-1'
"""

from __future__ import annotations

import re
from typing import Any

from llmchat.errors import ConfigurationError
from llmchat.providers import Provider

SERVICE = "bedrock"
_HOST = re.compile(r"^https?://bedrock-(?:runtime|mantle)(?:-fips)?\.([a-z0-9-]+)\.")


def region_of(url: str) -> str | None:
    """The region in a Bedrock endpoint URL, or None."""
    match = _HOST.match(url)
    return match.group(1) if match else None


def domain(region: str) -> str:
    """The AWS domain of a region's endpoints: the China regions have their own.

    >>> domain("eu-west-1"), domain("cn-north-1")
    ('amazonaws.com', 'amazonaws.com.cn')
    """
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


_ARN = re.compile(r"^arn:aws(?:-[a-z]+)*:bedrock:([a-z0-9-]*):")


def serves(model: str) -> bool:
    """Bedrock ARNs (``arn:aws:bedrock:REGION:ACCOUNT:inference-profile/...``, any AWS partition).

    >>> serves("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0")
    True
    >>> serves("us.amazon.nova-lite-v1:0"), serves("arn:aws:sagemaker:us-east-1:1:endpoint/x")
    (False, False)
    """
    return _ARN.match(model) is not None


def arn_region(model: str) -> str | None:
    """The region a Bedrock ARN names, or None.

    >>> arn_region("arn:aws-us-gov:bedrock:us-gov-west-1:1:application-inference-profile/a1")
    'us-gov-west-1'
    """
    match = _ARN.match(model)
    return (match.group(1) or None) if match else None


_REGION = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)+")


def region() -> str | None:
    """The configured region (setting, environment, profile); a ConfigurationError when it is no region name
    (it goes into the host name: ``us east 1`` or ``evil.example/x`` must not build a URL)."""
    from llmchat.auth import aws

    where = PROVIDER.setting("region") or aws.region()
    if where is not None and (not isinstance(where, str) or not _REGION.fullmatch(where)):
        raise ConfigurationError(f"the AWS region must be a region name such as 'us-east-1' (AWS_REGION, "
                                 f"bedrock_region), got {where!r}"[:200])
    return where


def locate(model: str, protocol: str, key: Any = None) -> str:
    where = region() or arn_region(model)
    if not where:
        raise ConfigurationError("no region for bedrock: set AWS_REGION, or call llmchat.configure("
                                 "bedrock_region=...), or pass base_url=...")
    if protocol not in ("converse", "chat_completions", "responses"):
        raise ConfigurationError(f"bedrock does not speak the {protocol} protocol here; use converse (the "
                                 f"default), chat_completions or responses, or pass base_url=...")
    base = f"https://bedrock-runtime.{where}.{domain(where)}"
    return base if protocol == "converse" else f"{base}/openai/v1"


def sign(key: Any, method: str, url: str, headers: dict[str, str], data: bytes) -> dict[str, str]:
    """No API key: a SigV4 signature over this exact request, with fresh AWS credentials."""
    if key:
        return {}
    from llmchat.auth import aws, sigv4
    from llmchat.config import remember

    where = region_of(url) or region() or "us-east-1"
    found = aws.credentials()
    remember(found.secret_key), remember(found.session_token)     # redacted if a server echoes them
    return sigv4.sign(method, url, data, found, where, SERVICE)


PROVIDER = Provider(
    name="bedrock",
    base_url="",
    protocol="converse",
    key_env="AWS_BEARER_TOKEN_BEDROCK",
    base_env="BEDROCK_API_BASE",
    key_optional=True,
    settings={"region": "AWS_REGION"},
    models=serves,
    locate=locate,
    sign=sign,
)
