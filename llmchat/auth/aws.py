"""AWS credentials and region, found as the AWS tools find them, without botocore when it can be helped.

In order: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (and ``AWS_SESSION_TOKEN``); the
profile ``AWS_PROFILE`` (else ``default``) in the shared credentials file (``AWS_SHARED_CREDENTIALS_FILE``,
else ``~/.aws/credentials``) or config file (``AWS_CONFIG_FILE``, else ``~/.aws/config``); then, when
botocore is installed (``pip install 'llmchat[bedrock]'``), its full chain (SSO, assumed roles,
instance and container roles, ``credential_process``), refreshed by botocore.

>>> import os
>>> from_environment({"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s"})
Credentials(access_key='AKID')
"""

from __future__ import annotations

import configparser
import os
import threading
from typing import Any, Mapping

from llmchat.auth.sigv4 import Credentials
from llmchat.errors import ConfigurationError, ConnectionError

__all__ = ["credentials", "forget", "from_environment", "from_files", "region"]

# What selects botocore's credentials: they are kept per combination (see _botocore).
_WHERE = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")
_lock = threading.Lock()
_found: dict[tuple[str | None, ...], Any] = {}


def from_environment(env: Mapping[str, str] = os.environ) -> Credentials | None:
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return Credentials(key, secret, env.get("AWS_SESSION_TOKEN") or None)
    return None


def _profile(env: Mapping[str, str]) -> str:
    return env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"


def _read(path: str) -> configparser.RawConfigParser:
    """The file parsed; a fault is raised anew outside the ``except`` (its context would hold the file's secrets)."""
    parser = configparser.RawConfigParser()
    failure = None
    try:
        parser.read(os.path.expanduser(path), encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        failure = ConfigurationError(f"cannot read the AWS file {path}: {type(exc).__name__}")
    if failure is not None:
        del parser      # what it read so far (the secrets) must not stay in this frame of the traceback
        raise failure
    return parser


def _section(env: Mapping[str, str], kind: str) -> dict[str, str]:
    profile = _profile(env)
    if kind == "credentials":
        parser = _read(env.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials")
        name = profile
    else:
        parser = _read(env.get("AWS_CONFIG_FILE") or "~/.aws/config")
        name = profile if profile == "default" else f"profile {profile}"
    return dict(parser.items(name)) if parser.has_section(name) else {}


def from_files(env: Mapping[str, str] = os.environ) -> Credentials | None:
    """The profile's static keys, from the shared credentials file or the config file."""
    for kind in ("credentials", "config"):
        section = _section(env, kind)
        if section.get("aws_access_key_id") and section.get("aws_secret_access_key"):
            return Credentials(section["aws_access_key_id"], section["aws_secret_access_key"],
                               section.get("aws_session_token") or None)
    return None


def _botocore() -> Credentials | None:
    """botocore's full chain, found once per profile and kept: botocore refreshes temporary credentials
    (SSO, assumed roles, ``credential_process``) when they are close to expiry, not on every request.
    Its failures typed (a profile not found, a role that cannot be assumed...)."""
    try:
        import botocore.exceptions
        import botocore.session
    except ImportError:
        return None
    where = tuple(os.environ.get(name) for name in _WHERE)
    failure: Exception | None = None
    try:
        with _lock:
            found: Any = _found.get(where) or botocore.session.get_session().get_credentials()
            if found is not None:
                _found[where] = found
            frozen = found.get_frozen_credentials() if found is not None else None
    except botocore.exceptions.BotoCoreError as exc:
        why = f"AWS credentials (botocore): {type(exc).__name__}: {exc}"[:400]
        is_network = isinstance(exc, (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError))
        failure = ConnectionError(why) if is_network else ConfigurationError(why)
    if failure is not None:
        raise failure
    return Credentials(frozen.access_key, frozen.secret_key, frozen.token) if frozen is not None else None


def forget() -> None:
    """Drop the credentials botocore found (they are looked up again on the next request)."""
    with _lock:
        _found.clear()


def credentials(env: Mapping[str, str] = os.environ) -> Credentials:
    """The first credentials found (see the module docstring); a ConfigurationError naming the ways otherwise."""
    found = from_environment(env) or from_files(env) or _botocore()
    if found is None:
        raise ConfigurationError(
            "no AWS credentials for bedrock: pass api_key=<Bedrock API key> or set AWS_BEARER_TOKEN_BEDROCK, "
            "or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in ~/.aws/credentials "
            "(AWS_PROFILE); for SSO and roles, pip install 'llmchat[bedrock]'")
    return found


def region(env: Mapping[str, str] = os.environ) -> str | None:
    """``AWS_REGION``, ``AWS_DEFAULT_REGION``, else the profile's region in the config file."""
    return env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or _section(env, "config").get("region")
