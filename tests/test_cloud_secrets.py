"""Cloud credentials never ride on an error: not in its message, its context, nor its traceback's frames."""

from __future__ import annotations

import pytest
from test_hostile_transport import assert_carries_no_key

import llmchat
from llmchat.testing import Reply

KEY = "azure-key-SECRET-0123456789"


@pytest.mark.parametrize(("provider", "prefix"), [("azure", "/openai/v1"), ("bedrock", ""),
                                                  ("vertexai", "/v1/projects/p/locations/l/publishers/google")])
def test_an_error_after_a_signed_request_carries_no_key(server, provider, prefix):
    server.queue(Reply(status=401))
    chat = llmchat.chat("gemini-2.5-flash", provider=provider, base_url=server.root + prefix, api_key=KEY,
                        max_retries=0)
    with pytest.raises(llmchat.UnauthorizedError) as info:
        chat.ask("hi")
    assert len(server.requests) == 1
    assert_carries_no_key(info.value, KEY)
