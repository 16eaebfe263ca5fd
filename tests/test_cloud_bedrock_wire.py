"""Bedrock on the wire: broken frames mid-answer over real HTTP keep the partial answer; clock skew explained."""

from __future__ import annotations

import json
import struct
import zlib

import pytest

import llmchat
from llmchat.eventstream import encode
from llmchat.protocols import converse
from llmchat.testing import Reply

KEY = "bedrock-api-key-SECRET-0123456789"
EVENTSTREAM = "application/vnd.amazon.eventstream"


def message(kind, payload):
    return encode({":event-type": kind, ":content-type": "application/json", ":message-type": "event"},
                  json.dumps(payload).encode())


START = message("messageStart", {"role": "assistant"}) + b"".join(
    message("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}}) for piece in ("Hel", "lo"))


def huge_prelude(total):
    prelude = struct.pack(">II", total, 0)
    return prelude + struct.pack(">I", zlib.crc32(prelude))


def bad_crc():
    frame = bytearray(message("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "!"}}))
    frame[-1] ^= 0xFF
    return bytes(frame)


@pytest.mark.parametrize(("tail", "match"), [(huge_prelude(2**32 - 1), "limit"), (huge_prelude(8), "impossible"),
                                             (bad_crc(), "checksum"), (b"\x00\x00\x00\x10", "ended inside")],
                         ids=["huge", "impossible", "crc", "cut"])
def test_a_broken_frame_after_text_is_a_stream_error_keeping_the_partial(server, tail, match):
    server.queue(Reply(raw=START + tail, content_type=EVENTSTREAM))
    chat = llmchat.chat("m", provider="bedrock", base_url=server.root, api_key=KEY, max_retries=0)
    seen = []
    with pytest.raises(llmchat.StreamError, match=match) as info:
        chat.ask("hi", on_chunk=lambda chunk: seen.append(chunk.content))
    assert info.value.partial == "Hello" and seen == ["Hel", "lo"]
    assert chat.messages[-1].content == "Hello" and chat.messages[-1].status == "incomplete"


@pytest.mark.parametrize("text", [
    "Signature expired: 20250102T030405Z is now earlier than 20250102T031000Z (20250102T032505Z - 5 min.)",
    "Signature not yet current: 20250102T040405Z is still later than 20250102T033505Z (20250102T032505Z + 5 min.)"])
def test_clock_skew_is_a_forbidden_error_that_names_the_clock(server, monkeypatch, text):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-secret")
    server.queue(Reply(status=403, body={"message": text},
                       headers={"X-Amzn-Errortype": "InvalidSignatureException:http://internal.amazon.com/"}))
    chat = llmchat.chat("m", provider="bedrock", base_url=server.root, max_retries=0)
    with pytest.raises(llmchat.ForbiddenError, match="clock") as info:
        chat.ask("hi")
    assert text in str(info.value) and "x-amz-date" in server.requests[0].headers


def test_the_clock_hint_is_only_for_signature_times():
    assert converse.error('{"message": "The security token included in the request is invalid."}') == (
        None, "The security token included in the request is invalid.")


def test_botocore_credentials_are_found_once_and_reused_until_they_expire(server, tmp_path, monkeypatch):
    """A credential_process (like an SSO or assumed role) runs once, not once per request."""
    import datetime
    import sys

    pytest.importorskip("botocore")
    from llmchat.auth import aws

    runs = tmp_path / "runs"
    expiry = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).isoformat()
    script = tmp_path / "creds.py"
    script.write_text(f"import json; open({str(runs)!r}, 'a').write('x')\n"
                      f"print(json.dumps({{'Version': 1, 'AccessKeyId': 'AKIDPROCESS', 'SecretAccessKey': 'process-"
                      f"secret', 'SessionToken': 'process-token', 'Expiration': {expiry!r}}}))")
    (tmp_path / "aws-config").write_text(f"[profile proc]\nregion = us-east-2\n"
                                         f"credential_process = {sys.executable} {script}\n")
    monkeypatch.setenv("AWS_PROFILE", "proc")
    aws.forget()
    chat = llmchat.chat("m", provider="bedrock", base_url=server.root, max_retries=0)
    for text in ("one", "two", "three"):
        server.reply(text)
        assert chat.ask("hi").content == text
    assert runs.read_text() == "x" and len(server.requests) == 3
    assert all("Credential=AKIDPROCESS/" in r.headers["authorization"] for r in server.requests)
    monkeypatch.setenv("AWS_PROFILE", "other")      # another profile: looked up anew
    with pytest.raises(llmchat.ConfigurationError, match="other"):
        chat.ask("hi")
