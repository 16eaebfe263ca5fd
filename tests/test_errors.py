"""Typed errors from HTTP statuses and from error events inside a 200 stream, keeping the partial answer."""

from __future__ import annotations

import builtins
import pickle

import pytest

import llmchat
from llmchat.errors import error_class, make_error
from llmchat.testing import Reply

BY_STATUS = [
    (400, llmchat.BadRequestError), (401, llmchat.UnauthorizedError), (402, llmchat.PaymentRequiredError),
    (403, llmchat.ForbiddenError), (404, llmchat.NotFoundError), (429, llmchat.RateLimitError),
    (500, llmchat.ServerError), (502, llmchat.ServiceUnavailableError), (503, llmchat.ServiceUnavailableError),
    (504, llmchat.ServiceUnavailableError), (529, llmchat.OverloadedError),
]
BY_EVENT = [
    ("rate_limit_error", llmchat.RateLimitError), ("overloaded_error", llmchat.OverloadedError),
    ("api_error", llmchat.ServerError), ("invalid_request_error", llmchat.BadRequestError),
    ("authentication_error", llmchat.UnauthorizedError), ("permission_error", llmchat.ForbiddenError),
]


@pytest.mark.parametrize(("status", "cls"), BY_STATUS)
def test_http_status_gives_its_class_with_the_providers_message(server, make_chat, protocol, status, cls):
    server.queue(Reply(status=status, body=None))
    chat = make_chat(protocol)
    with pytest.raises(cls) as info:
        chat.ask("hi")
    error = info.value
    assert type(error) is cls and error.status_code == status
    assert str(status) in str(error) and len(str(error)) > len(f"(HTTP {status})")
    assert error.partial == "" and error.partial_message is chat.messages[-1]
    assert chat.messages[-1].status == "incomplete" and chat.messages[-1].error is error


@pytest.mark.parametrize(("kind", "cls"), BY_EVENT)
def test_in_stream_error_event_is_classified_by_its_body(server, make_chat, protocol, kind, cls):
    server.queue(Reply(text=["Once", " upon", " a time"], error={"type": kind, "message": f"boom {kind}"},
                       error_after=2))
    chat = make_chat(protocol)
    seen = []
    with pytest.raises(cls) as info:
        chat.ask("story", on_chunk=lambda c: seen.append(c.content or ""))
    error = info.value
    assert isinstance(error, llmchat.Error)
    assert error.partial == "Once upon" == "".join(seen)
    assert error.partial_message is chat.messages[-1]
    assert chat.messages[-1].content == "Once upon" and chat.messages[-1].status == "incomplete"


def test_provider_message_is_in_the_error_text(server, make_chat):
    server.queue(Reply(status=429, body={"error": {"message": "You exceeded your current quota", "type": "requests",
                                                   "code": "rate_limit_exceeded"}}))
    with pytest.raises(llmchat.RateLimitError, match="You exceeded your current quota"):
        make_chat("chat_completions").ask("hi")


def test_html_error_body_gives_a_readable_message(server, make_chat):
    server.queue(Reply(status=502, body="<html><body><h1>502 Bad Gateway</h1>nginx</body></html>",
                       content_type="text/html"))
    with pytest.raises(llmchat.ServiceUnavailableError, match="502 Bad Gateway nginx"):
        make_chat("anthropic_messages").ask("hi")


def test_context_length_errors_are_their_own_class(server, make_chat):
    server.queue(Reply(status=400, body={"type": "error", "error": {
        "type": "invalid_request_error", "message": "prompt is too long: 210000 tokens > 200000 maximum"}}))
    with pytest.raises(llmchat.ContextLengthExceededError) as info:
        make_chat("anthropic_messages").ask("hi")
    assert isinstance(info.value, llmchat.BadRequestError) and isinstance(info.value, ValueError)


def test_incomplete_message_is_not_sent_back_and_complete_retries_the_turn(server, make_chat, protocol):
    server.queue(Reply(text=["PARTIAL-42", "tial"], error={"type": "overloaded_error", "message": "Overloaded"},
                       error_after=1),
                 Reply(text=["full answer"]))
    chat = make_chat(protocol)
    with pytest.raises(llmchat.OverloadedError):
        chat.ask("q")
    assert [(m.role, m.status) for m in chat.messages] == [("user", "complete"), ("assistant", "incomplete")]
    reply = chat.complete()
    assert reply.content == "full answer"
    assert [(m.role, m.content) for m in chat.messages] == [("user", "q"), ("assistant", "full answer")]
    second = server.wait_for(2)[1].body
    assert "PARTIAL-42" not in str(second)


def test_next_ask_after_a_failure_skips_the_incomplete_message(server, make_chat):
    server.queue(Reply(text=["half"], cut_after=1), Reply(text="fine"))
    chat = make_chat("chat_completions")
    with pytest.raises(llmchat.ConnectionError):
        chat.ask("first")
    chat.ask("second")
    sent = [(m["role"], m["content"]) for m in server.wait_for(2)[1].body["messages"]]
    assert sent == [("user", "first"), ("user", "second")]


def test_error_tree_inherits_the_builtins_people_catch():
    assert issubclass(llmchat.TimeoutError, builtins.TimeoutError)
    assert issubclass(llmchat.ConnectionError, builtins.ConnectionError)
    assert issubclass(llmchat.ConfigurationError, ValueError)
    assert issubclass(llmchat.ToolCallParseError, ValueError)
    for cls in (llmchat.RateLimitError, llmchat.TimeoutError, llmchat.StreamError, llmchat.CancelledError):
        assert issubclass(cls, llmchat.Error)


def test_every_error_lives_in_the_one_tree_and_its_drawing():
    import importlib
    import pkgutil

    import llmchat.errors

    for info in pkgutil.walk_packages(llmchat.__path__, "llmchat."):
        if info.name not in ("llmchat.__main__",):
            importlib.import_module(info.name)     # every module, so every error class is defined
    seen, todo = set(), [llmchat.Error]
    while todo:
        cls = todo.pop()
        seen.add(cls)
        todo += [sub for sub in cls.__subclasses__() if sub not in seen]
    ours = {cls for cls in seen if cls.__module__.startswith("llmchat")}
    assert {cls.__module__ for cls in ours} == {"llmchat.errors"}
    assert {cls.__name__ for cls in ours} <= set(llmchat.errors.__all__) <= set(dir(llmchat)) | {
        "error_class", "make_error"}
    drawn = llmchat.errors.__doc__.split("::")[1].split("One mapping")[0]
    assert all(f" {cls.__name__} " in drawn for cls in ours), [c.__name__ for c in ours if c.__name__ not in drawn]
    assert issubclass(llmchat.ChatNotFoundError, LookupError) and issubclass(llmchat.ToolArgumentError, ValueError)


def test_one_mapping_serves_statuses_and_body_types():
    assert error_class(429) is error_class(200, "rate_limit_error") is error_class(None, "RESOURCE_EXHAUSTED")
    assert error_class(None, "server_is_overloaded") is llmchat.OverloadedError
    assert error_class(418) is llmchat.APIError and error_class(599) is llmchat.ServerError
    assert error_class(None, "invalid_request_error", "This model's maximum context length is 128000 tokens") \
        is llmchat.ContextLengthExceededError


def test_errors_survive_pickling_with_their_partial():
    error = make_error(429, "rate_limit_error", "slow down", partial="abc", retry_after=2.0)
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), str(again), again.partial, again.status_code, again.retry_after) == \
        (llmchat.RateLimitError, str(error), "abc", 429, 2.0)
