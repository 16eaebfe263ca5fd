"""Amazon Bedrock: the event-stream decoder, the converse protocol, SigV4 and credentials, over real HTTP."""

from __future__ import annotations

import hashlib
import json
import logging
import struct
import sys
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import llmchat
from llmchat.auth import aws, sigv4
from llmchat.errors import error_class
from llmchat.eventstream import Decoder, encode, frames
from llmchat.protocols import converse
from llmchat.testing import Call, Reply

KEY = "bedrock-api-key-SECRET-0123456789"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
MODEL = "us.amazon.nova-2-lite-v1:0"


def message(kind, payload, **headers):
    return encode({":event-type": kind, ":content-type": "application/json", ":message-type": "event", **headers},
                  json.dumps(payload).encode())


STREAM = b"".join([
    message("messageStart", {"role": "assistant", "p": "abc"}),
    message("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Hm."}}}),
    message("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "sig=="}}}),
    message("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"text": "Héllo"}, "p": "abcdefgh"}),
    message("contentBlockStart", {"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "t1", "name": "w"}}}),
    message("contentBlockDelta", {"contentBlockIndex": 2, "delta": {"toolUse": {"input": "{\"city\": "}}}),
    message("contentBlockDelta", {"contentBlockIndex": 2, "delta": {"toolUse": {"input": "\"Berlin\"}"}}}),
    message("contentBlockStop", {"contentBlockIndex": 2}),
    message("messageStop", {"stopReason": "tool_use"}),
    message("metadata", {"usage": {"inputTokens": 12, "outputTokens": 7, "totalTokens": 19},
                         "metrics": {"latencyMs": 80}}),
])


def collect(chunks):
    out = llmchat.Message("assistant")
    for chunk in chunks:
        out.add(chunk)
    return out


# ---------------------------------------------------------------------------------------------- event stream

def test_decoder_gives_the_same_events_at_every_split_point():
    whole = list(frames([STREAM]))
    assert [name for name, _ in whole][:2] == ["messageStart", "contentBlockDelta"]
    for at in range(len(STREAM) + 1):
        assert list(frames([STREAM[:at], STREAM[at:]])) == whole
    assert list(frames([bytes([b]) for b in STREAM])) == whole


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=200))
def test_decoder_with_random_pieces(sizes):
    pieces, at = [], 0
    for size in sizes:
        pieces.append(STREAM[at:at + size])
        at += size
    pieces.append(STREAM[at:])
    assert list(frames(pieces)) == list(frames([STREAM]))


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=20).filter(lambda s: len(s.encode()) < 200),
                       st.one_of(st.text(max_size=50), st.binary(max_size=50), st.booleans(),
                                 st.integers(min_value=-2**31, max_value=2**31 - 1)), max_size=6),
       st.binary(max_size=300))
def test_encode_decode_round_trip(headers, payload):
    decoded = Decoder().feed(encode(headers, payload))
    assert len(decoded) == 1 and decoded[0].headers == headers and decoded[0].payload == payload


def test_every_header_type_is_read():
    head = b""
    values = [(b"t", 0, b""), (b"f", 1, b""), (b"i8", 2, struct.pack(">b", -5)), (b"i16", 3, struct.pack(">h", 300)),
              (b"i32", 4, struct.pack(">i", -70000)), (b"i64", 5, struct.pack(">q", 2**40)),
              (b"by", 6, struct.pack(">H", 2) + b"\x00\xff"), (b"s", 7, struct.pack(">H", 2) + b"ok"),
              (b"ts", 8, struct.pack(">q", 1700000000000)), (b"u", 9, bytes(range(16)))]
    for name, kind, value in values:
        head += bytes([len(name)]) + name + bytes([kind]) + value
    total = 12 + len(head) + 4
    prelude = struct.pack(">II", total, len(head))
    frame = prelude + struct.pack(">I", zlib.crc32(prelude)) + head
    frame += struct.pack(">I", zlib.crc32(frame))
    headers = Decoder().feed(frame)[0].headers
    assert headers["t"] is True and headers["f"] is False and headers["i8"] == -5 and headers["i16"] == 300
    assert headers["i32"] == -70000 and headers["i64"] == 2**40 and headers["by"] == b"\x00\xff"
    assert headers["s"] == "ok" and headers["ts"] == 1700000000000 and str(headers["u"]).startswith("00010203")


def test_any_flipped_byte_is_a_stream_error():
    frame = message("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hi"}})
    for at in range(len(frame)):
        broken = bytearray(frame)
        broken[at] ^= 0x01
        with pytest.raises(llmchat.StreamError):
            list(frames([bytes(broken)]))


@pytest.mark.parametrize(("total", "headers_length"), [(8, 0), (20, 10), (12 + 16 * 1024 * 1024 + 100, 0),
                                                       (200 * 1024, 129 * 1024)])
def test_absurd_lengths_fail_at_once(total, headers_length):
    prelude = struct.pack(">II", total, headers_length)
    with pytest.raises(llmchat.StreamError, match="length|limit"):
        Decoder().feed(prelude + struct.pack(">I", zlib.crc32(prelude)))


def test_a_body_cut_mid_frame_and_bad_headers_are_stream_errors():
    with pytest.raises(llmchat.StreamError, match="ended inside"):
        list(frames([STREAM[:-5]]))
    duplicate = b"\x01a\x07\x00\x01x" * 2
    prelude = struct.pack(">II", 12 + len(duplicate) + 4, len(duplicate))
    frame = prelude + struct.pack(">I", zlib.crc32(prelude)) + duplicate
    with pytest.raises(llmchat.StreamError, match="duplicate"):
        Decoder().feed(frame + struct.pack(">I", zlib.crc32(frame)))
    with pytest.raises(llmchat.StreamError, match="UTF-8"):
        list(frames([encode({":event-type": "x", ":message-type": "event"}, b"\xff\xfe")]))


# ---------------------------------------------------------------------------------------------- converse parser

def test_converse_text_reasoning_tool_use_stop_and_usage():
    reply = collect(converse.parse(frames([STREAM])))
    assert reply.content == "Héllo" and reply.thinking == "Hm." and reply.thinking_signature == "sig=="
    assert reply.tool_calls["t1"].arguments == '{"city": "Berlin"}' and reply.tool_calls["t1"].name == "w"
    assert (reply.finish_reason, reply.input_tokens, reply.output_tokens) == ("tool_use", 12, 7)


def test_converse_skips_server_tools_and_tolerates_a_missing_metadata():
    events = [("contentBlockStart", '{"contentBlockIndex":0,"start":{"toolUse":{"toolUseId":"s",'
                                    '"name":"nova_grounding","type":"server_tool_use"}}}'),
              ("contentBlockDelta", '{"contentBlockIndex":0,"delta":{"toolUse":{"input":"{}"}}}'),
              ("contentBlockDelta", '{"contentBlockIndex":1,"delta":{"citation":{"title":"x"}}}'),
              ("messageStop", '{"stopReason":"end_turn"}')]
    reply = collect(converse.parse(events))
    assert reply.tool_calls == {} and reply.finish_reason == "end_turn"
    with pytest.raises(llmchat.StreamError, match="messageStop"):
        list(converse.parse(events[:2]))


@pytest.mark.parametrize(("exception", "cls"), [
    ("throttlingException", llmchat.RateLimitError),
    ("serviceUnavailableException", llmchat.ServiceUnavailableError),
    ("modelStreamErrorException", llmchat.ServerError),
    ("internalServerException", llmchat.ServerError),
    ("validationException", llmchat.BadRequestError),
])
def test_exception_frames_are_typed(exception, cls):
    frame = encode({":exception-type": exception, ":content-type": "application/json", ":message-type": "exception"},
                   b'{"message":"Too many tokens, please wait before trying again."}')
    with pytest.raises(cls) as info:
        list(converse.parse(frames([message("messageStart", {"role": "assistant"}), frame])))
    assert not isinstance(info.value, llmchat.ContextLengthExceededError) or cls is llmchat.BadRequestError


def test_error_frames_and_the_mapping_fixes():
    frame = encode({":message-type": "error", ":error-code": "internalServerException",
                    ":error-message": "boom"}, b"")
    with pytest.raises(llmchat.ServerError, match="boom"):
        list(converse.parse(frames([frame])))
    assert error_class(None, "throttlingException", "Too many tokens, please wait") is llmchat.RateLimitError
    assert error_class(400, None, "Input Tokens Exceeded: Number of input tokens exceeds maximum length") \
        is llmchat.ContextLengthExceededError
    assert error_class(424, "modelStreamErrorException") is llmchat.ServerError
    assert error_class(498) is llmchat.UnauthorizedError


# ---------------------------------------------------------------------------------------------- SigV4

SUITE = sigv4.Credentials("AKIDEXAMPLE", SECRET)


@pytest.mark.parametrize(("method", "url", "signature"), [   # the AWS SigV4 test suite
    ("GET", "https://example.amazonaws.com/", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    ("GET", "https://example.amazonaws.com/?Param2=value2&Param1=value1",
     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
    ("POST", "https://example.amazonaws.com/", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
])
def test_sigv4_reproduces_the_aws_test_suite(method, url, signature):
    value = sigv4.authorization(method, url, {"x-amz-date": "20150830T123600Z"}, sigv4.EMPTY_SHA256, SUITE,
                                "us-east-1", "service")
    assert value == (f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                     f"SignedHeaders=host;x-amz-date, Signature={signature}")


def test_sigv4_reproduces_the_documented_iam_example():
    value = sigv4.authorization("GET", "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
                                {"content-type": "application/x-www-form-urlencoded; charset=utf-8",
                                 "x-amz-date": "20150830T123600Z"}, sigv4.EMPTY_SHA256, SUITE, "us-east-1", "iam")
    assert value.endswith("SignedHeaders=content-type;host;x-amz-date, "
                          "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")


def test_sigv4_encodes_bedrock_model_ids_once_more():
    import datetime

    when = datetime.datetime(2025, 1, 2, 3, 4, 5)
    assert sigv4.canonical_path("/model/us.amazon.nova-2-lite-v1:0/converse-stream") == \
        "/model/us.amazon.nova-2-lite-v1%3A0/converse-stream"
    assert sigv4.canonical_path("/model/arn:aws:bedrock:r:1:inference-profile%2Fus.x/converse-stream") == \
        "/model/arn%3Aaws%3Abedrock%3Ar%3A1%3Ainference-profile%252Fus.x/converse-stream"
    assert converse.path(llmchat.protocols.Request("arn:a/b", [])) == "/model/arn:a%2Fb/converse-stream"
    token = sigv4.sign("POST", "https://h/", b"", sigv4.Credentials("A", "s", "session"), "r", "s", when)
    assert token["x-amz-security-token"] == "session" and "x-amz-security-token" in token["Authorization"]
    shown = repr(sigv4.Credentials("A", "secret", "tok"))
    assert "secret" not in shown and "tok" not in shown


def test_signed_request_over_http_verifies_on_the_server(server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token-SECRET")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    server.reply("signed")
    chat = llmchat.chat("arn:aws:bedrock:eu-west-1:1:inference-profile/eu.x", provider="bedrock",
                        base_url=server.root, max_retries=0)
    assert chat.ask("hi").content == "signed"
    request = server.requests[-1]
    assert request.path == "/model/arn:aws:bedrock:eu-west-1:1:inference-profile%2Feu.x/converse-stream"
    sent = json.dumps(request.body, ensure_ascii=False).encode()
    assert request.headers["x-amz-content-sha256"] == hashlib.sha256(sent).hexdigest()
    signed = {name: request.headers[name] for name in ("host", "x-amz-date", "x-amz-content-sha256",
                                                       "x-amz-security-token")}
    expected = sigv4.authorization("POST", server.root + request.path, signed, signed["x-amz-content-sha256"],
                                   sigv4.Credentials("AKIDEXAMPLE", SECRET), "eu-west-1", "bedrock")
    assert request.headers["authorization"] == expected


# ---------------------------------------------------------------------------------------------- credentials

def test_credentials_from_the_shared_file_and_profile(tmp_path, monkeypatch):
    path = tmp_path / "aws-credentials"
    path.write_text("[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s1\n"
                    "[work]\naws_access_key_id = AKIDWORK\naws_secret_access_key = s2\naws_session_token = t2\n")
    (tmp_path / "aws-config").write_text("[profile work]\nregion = ap-south-1\n")
    assert aws.credentials().access_key == "AKIDDEFAULT"
    monkeypatch.setenv("AWS_PROFILE", "work")
    found = aws.credentials()
    assert (found.access_key, found.secret_key, found.session_token) == ("AKIDWORK", "s2", "t2")
    assert aws.region() == "ap-south-1"
    assert llmchat.chat(MODEL, provider="bedrock")._base_url == "https://bedrock-runtime.ap-south-1.amazonaws.com"


def test_no_credentials_and_no_region_are_configuration_errors(server):
    with pytest.raises(llmchat.ConfigurationError, match="AWS_REGION"):
        llmchat.chat(MODEL, provider="bedrock")
    chat = llmchat.chat(MODEL, provider="bedrock", base_url=server.root, max_retries=0)
    with pytest.raises(llmchat.ConfigurationError, match="AWS_BEARER_TOKEN_BEDROCK"):
        chat.ask("hi")
    assert server.requests == []


def test_bearer_key_from_env_wins_over_aws_keys(server, monkeypatch):
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", KEY)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    chat = llmchat.chat(MODEL, provider="bedrock")
    assert chat._base_url == "https://bedrock-runtime.us-east-1.amazonaws.com"
    chat = llmchat.chat(MODEL, provider="bedrock", base_url=server.root, max_retries=0)
    server.reply("ok")
    chat.ask("hi")
    assert server.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    assert "x-amz-date" not in server.requests[-1].headers


# ---------------------------------------------------------------------------------------------- ARNs

ARNS = ["arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-haiku-4-5-20251001-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0",
        "arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/a1b2c3",
        "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/xyz",
        "arn:aws-us-gov:bedrock:us-gov-west-1:123456789012:imported-model/m1",
        "arn:aws-cn:bedrock:cn-north-1:123456789012:inference-profile/apac.amazon.nova-lite-v1:0"]
HOSTS = ["bedrock-runtime.eu-west-1.amazonaws.com", "bedrock-runtime.us-east-1.amazonaws.com",
         "bedrock-runtime.us-west-2.amazonaws.com", "bedrock-runtime.us-east-1.amazonaws.com",
         "bedrock-runtime.us-gov-west-1.amazonaws.com", "bedrock-runtime.cn-north-1.amazonaws.com.cn"]


@pytest.mark.parametrize(("arn", "host"), list(zip(ARNS, HOSTS)))
def test_a_bedrock_arn_is_inferred_as_bedrock_never_openrouter(arn, host):
    from llmchat.providers import openrouter

    assert llmchat.providers.for_model(arn).name == "bedrock" and not openrouter.serves(arn)
    chat = llmchat.chat(arn, api_key=KEY)
    assert (chat.provider, chat.protocol) == ("bedrock", "converse")
    assert chat._base_url == f"https://{host}"   # the ARN's region (none is set), in its partition's domain


def test_a_configured_region_wins_over_the_arns(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    assert llmchat.chat(ARNS[0], api_key=KEY)._base_url == "https://bedrock-runtime.ap-south-1.amazonaws.com"


def test_an_arn_of_another_service_is_not_guessed():
    arn = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/my-llm"
    with pytest.raises(llmchat.ConfigurationError, match="provider="):
        llmchat.chat(arn, api_key=KEY)


def test_an_inferred_arn_chat_goes_to_converse_over_http(server):
    server.queue(Reply(text=["Hi ", "there"]), Reply(text="Again."))
    chat = llmchat.chat(ARNS[0], base_url=server.root, api_key=KEY, max_retries=0)
    assert chat.ask("hi").content == "Hi there"
    request = server.requests[-1]
    assert (request.protocol, request.headers["authorization"]) == ("converse", f"Bearer {KEY}")
    assert request.path == "/model/" + ARNS[0].replace("/", "%2F") + "/converse-stream"
    assert chat.with_model(ARNS[2]).ask("more").content == "Again." and chat.provider == "bedrock"
    assert server.requests[-1].path.startswith("/model/arn:aws:bedrock:us-west-2:")


# ---------------------------------------------------------------------------------------------- over HTTP

def make(server, **options):
    options.setdefault("max_retries", 0)
    return llmchat.chat(MODEL, provider="bedrock", base_url=server.root, api_key=KEY, **options)


def test_streams_split_anywhere_over_http(server):
    server.queue(Reply(text=["Hel", "lo ", "wörld"], thinking=["Hm"], split=7, split_seed=3))
    pieces = []
    reply = make(server).ask("hi", on_chunk=lambda c: pieces.append(c.content or ""))
    assert reply.content == "Hello wörld" == "".join(pieces) and reply.thinking == "Hm"
    request = server.requests[-1]
    assert request.headers["accept"] == "application/vnd.amazon.eventstream"
    assert request.headers["authorization"] == f"Bearer {KEY}" and "model" not in request.body


def test_tool_loop_with_parallel_calls_and_reasoning_sent_back(server):
    server.queue(Reply(thinking=["Two tools."], tool_calls=[Call("weather", {"city": "Berlin"}), Call("clock")]),
                 Reply(text="Sunny at noon."))

    @llmchat.tool
    def weather(city: str) -> str:
        """Weather in a city."""
        return f"sunny in {city}"

    @llmchat.tool
    def clock() -> str:
        """The time."""
        return ""

    chat = make(server).with_tools(weather, clock)
    assert chat.ask("Weather and time?").content == "Sunny at noon."
    body = server.requests[-1].body
    assistant, results = body["messages"][1], body["messages"][2]
    assert assistant["content"][0] == {"reasoningContent": {"reasoningText": {"text": "Two tools.",
                                                                              "signature": "c2lnbmF0dXJl"}}}
    assert [b["toolUse"]["input"] for b in assistant["content"][1:]] == [{"city": "Berlin"}, {}]
    assert [r["toolResult"]["content"][0]["text"] for r in results["content"]] == ["sunny in Berlin", "(no output)"]
    assert body["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]["properties"]["city"]
    assert [m.role for m in chat.messages] == ["user", "assistant", "tool", "tool", "assistant"]


@pytest.mark.parametrize(("reply", "cls"), [
    (Reply(status=400, body={"message": "Input Tokens Exceeded: Number of input tokens exceeds maximum length"},
           headers={"X-Amzn-Errortype": "ValidationException:http://internal.amazon.com/"}),
     llmchat.ContextLengthExceededError),
    (Reply(status=403, body={"message": "The security token included in the request is invalid."},
           headers={"X-Amzn-Errortype": "UnrecognizedClientException:http://internal.amazon.com/"}),
     llmchat.ForbiddenError),
    (Reply(status=429), llmchat.RateLimitError),
    (Reply(status=424, body={"message": "Model error"}), llmchat.ServerError),
    (Reply(text=["Once"], error={"type": "rate_limit_error", "message": "Too many tokens, please wait."}),
     llmchat.RateLimitError),
    (Reply(text=["Once"], error={"type": "api_error"}), llmchat.ServerError),
    (Reply(text=["Once"], cut_after=1), llmchat.ConnectionError),
    (Reply(raw=STREAM[:-3]), llmchat.StreamError),
])
def test_error_shapes_are_typed_and_keep_the_partial_answer(server, reply, cls):
    server.queue(reply)
    chat = make(server)
    with pytest.raises(cls) as info:
        chat.ask("hi")
    assert type(info.value) is cls or (cls is llmchat.ServerError and isinstance(info.value, cls))
    if reply.text:
        assert info.value.partial == "Once" and chat.messages[-1].status == "incomplete"
    assert KEY not in str(info.value) and KEY not in repr(chat)


def test_guardrail_stop_after_content_returns_and_is_content_filtered(server):
    server.queue(Reply(text=["Partial"], finish="guardrail_intervened"), Reply(finish="content_filtered"))
    chat = make(server)
    reply = chat.ask("hi")
    assert reply.content == "Partial" and reply.content_filtered and reply.complete
    with pytest.raises(llmchat.ContentFilterError):
        chat.ask("again")


def test_openai_compatible_endpoint_when_asked(server, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    chat = llmchat.chat("openai.gpt-oss-120b-1:0", provider="bedrock", protocol="chat_completions", api_key=KEY)
    assert chat._base_url == "https://bedrock-runtime.us-west-2.amazonaws.com/openai/v1"
    server.reply("compatible")
    chat = llmchat.chat("openai.gpt-oss-120b-1:0", provider="bedrock", protocol="chat_completions",
                        base_url=server.url("chat_completions"), api_key=KEY)
    assert chat.ask("hi").content == "compatible"
    assert server.requests[-1].headers["authorization"] == f"Bearer {KEY}"


def test_keys_never_logged(server, caplog, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token-SECRET")
    server.queue(Reply(text="a"), Reply(text="b"))
    with caplog.at_level(logging.DEBUG, logger="llmchat"):
        make(server).ask("hi")
        llmchat.chat(MODEL, provider="bedrock", base_url=server.root, max_retries=0).ask("hi")
    text = caplog.text
    assert "converse-stream" in text
    for secret in (KEY, SECRET, "session-token-SECRET", "Signature="):
        assert secret not in text


def test_the_test_servers_http_errors_name_the_aws_type(server):
    server.queue(Reply(status=400), Reply(status=403))
    chat = make(server)
    with pytest.raises(llmchat.BadRequestError, match="ValidationException"):
        chat.ask("hi")
    with pytest.raises(llmchat.ForbiddenError, match="AccessDeniedException"):
        chat.ask("hi")


def test_credential_process_profiles_through_botocore(server, tmp_path, monkeypatch):
    pytest.importorskip("botocore")
    script = tmp_path / "creds.py"
    script.write_text("import json; print(json.dumps({'Version': 1, 'AccessKeyId': 'AKIDPROCESS', "
                      "'SecretAccessKey': 'process-secret', 'SessionToken': 'process-token'}))")
    (tmp_path / "aws-config").write_text(f"[profile proc]\nregion = us-east-2\n"
                                         f"credential_process = {sys.executable} {script}\n")
    monkeypatch.setenv("AWS_PROFILE", "proc")
    found = aws.credentials()
    assert (found.access_key, found.secret_key, found.session_token) == ("AKIDPROCESS", "process-secret",
                                                                         "process-token")
    server.reply("ok")
    chat = llmchat.chat(MODEL, provider="bedrock", base_url=server.root, max_retries=0)
    assert chat.ask("hi").content == "ok"
    request = server.requests[-1]
    assert "Credential=AKIDPROCESS/" in request.headers["authorization"]
    assert request.headers["x-amz-security-token"] == "process-token"
    assert "/us-east-2/bedrock/" in request.headers["authorization"]


def test_a_protocol_bedrock_does_not_serve_is_a_configuration_error(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with pytest.raises(llmchat.ConfigurationError, match="converse"):
        llmchat.chat(MODEL, provider="bedrock", protocol="gemini", api_key=KEY)


def test_max_event_size_bounds_a_frame_payload(server):
    server.queue(Reply(text=["x" * 5000]))
    chat = make(server, max_event_size=1000)
    with pytest.raises(llmchat.StreamError, match="max_event_size"):
        chat.ask("hi")
