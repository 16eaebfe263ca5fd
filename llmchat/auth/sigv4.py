"""AWS Signature Version 4 (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html),
standard library only: no import cost, no dependency.

It reproduces the AWS SigV4 test suite (``get-vanilla``: GET https://example.amazonaws.com/ at
20150830T123600Z, service ``service``):

>>> authorization("GET", "https://example.amazonaws.com/", {"x-amz-date": "20150830T123600Z"}, EMPTY_SHA256,
...               Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), "us-east-1", "service")
... # doctest: +NORMALIZE_WHITESPACE
'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date,
 Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import attrs

__all__ = ["Credentials", "authorization", "canonical_path", "sign"]

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_DEFAULT_PORTS = {"http": 80, "https": 443}


@attrs.frozen
class Credentials:
    """An AWS access key pair (and session token); the secret parts never show in a repr.

    >>> Credentials("AKIDEXAMPLE", "secret", "token")
    Credentials(access_key='AKIDEXAMPLE')
    """

    access_key: str
    secret_key: str = attrs.field(repr=False)
    session_token: str | None = attrs.field(default=None, repr=False)


def _host(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def canonical_path(path: str) -> str:
    """The path as signed: the path as sent, each segment encoded once more (all services but S3).

    >>> canonical_path("/model/us.x-v1:0/converse-stream"), canonical_path("/model/arn%2Fx/converse-stream")
    ('/model/us.x-v1%3A0/converse-stream', '/model/arn%252Fx/converse-stream')
    """
    return quote(path or "/", safe="/~")


def _canonical_query(query: str) -> str:
    pairs = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~"))
                   for k, v in parse_qsl(query, keep_blank_values=True))
    return "&".join(f"{k}={v}" for k, v in pairs)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def authorization(method: str, url: str, headers: dict[str, str], payload_hash: str, credentials: Credentials,
                  region: str, service: str) -> str:
    """The ``Authorization`` header value signing ``headers`` (``host`` added from the URL;
    ``x-amz-date`` required) of this request. The path is signed as sent, each segment encoded
    once more (``:`` as ``%3A``, an escaped ``%2F`` as ``%252F``), as AWS does for all but S3."""
    parts = urlsplit(url)
    signed = {name.lower(): " ".join(str(value).split()) for name, value in headers.items()}
    signed.setdefault("host", _host(url))
    amz_date = signed["x-amz-date"]
    names = sorted(signed)
    canonical = "\n".join([
        method.upper(), canonical_path(parts.path), _canonical_query(parts.query),
        "".join(f"{name}:{signed[name]}\n" for name in names), ";".join(names), payload_hash])
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(f"AWS4{credentials.secret_key}".encode(), amz_date[:8])
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={';'.join(names)}, Signature={signature}")


def sign(method: str, url: str, body: bytes, credentials: Credentials, region: str, service: str,
         now: Any = None) -> dict[str, str]:
    """The headers that sign this request: ``x-amz-date``, ``x-amz-content-sha256``,
    ``x-amz-security-token`` (session credentials) and ``Authorization`` (host and those signed).

    >>> h = sign("POST", "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse-stream", b"{}",
    ...          Credentials("AKID", "s"), "us-east-1", "bedrock", datetime.datetime(2025, 1, 2, 3, 4, 5))
    >>> h["x-amz-date"], h["Authorization"].split(", ")[1]
    ('20250102T030405Z', 'SignedHeaders=host;x-amz-content-sha256;x-amz-date')
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    out = {"x-amz-date": now.strftime("%Y%m%dT%H%M%SZ"), "x-amz-content-sha256": hashlib.sha256(body).hexdigest()}
    if credentials.session_token:
        out["x-amz-security-token"] = credentials.session_token
    out["Authorization"] = authorization(method, url, out, out["x-amz-content-sha256"], credentials, region, service)
    return out
