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
from typing import Any, Mapping

from llmchat.auth.sigv4 import Credentials
from llmchat.errors import ConfigurationError

__all__ = ["credentials", "from_environment", "from_files", "region"]


def from_environment(env: Mapping[str, str] = os.environ) -> Credentials | None:
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return Credentials(key, secret, env.get("AWS_SESSION_TOKEN") or None)
    return None


def _profile(env: Mapping[str, str]) -> str:
    return env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"


def _read(path: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    try:
        parser.read(os.path.expanduser(path), encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read the AWS file {path}: {type(exc).__name__}") from None
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
    try:
        import botocore.session
    except ImportError:
        return None
    found: Any = botocore.session.get_session().get_credentials()
    if found is None:
        return None
    frozen = found.get_frozen_credentials()     # refreshed by botocore when temporary
    return Credentials(frozen.access_key, frozen.secret_key, frozen.token)


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
