"""The enterprise clouds: Azure OpenAI, Vertex AI, Amazon Bedrock and Cohere, one interface.

    .venv/bin/python examples/enterprise_clouds.py                  # offline, against llmchat.testing.Server
    .venv/bin/python examples/enterprise_clouds.py --live bedrock   # for real, with your usual credentials:
        azure:    AZURE_API_BASE, AZURE_API_KEY (or AZURE_AD_TOKEN), AZURE_MODEL (the deployment)
        vertexai: GOOGLE_CLOUD_PROJECT and Application Default Credentials (pip install 'llmchat[vertexai]')
        bedrock:  AWS_REGION and AWS credentials or AWS_BEARER_TOKEN_BEDROCK
        cohere:   COHERE_API_KEY
"""

import os
import sys

import llmchat
from llmchat.testing import Call, Reply, Server
from llmchat.testing.wire_openai import content_filter_body

MODELS = {"azure": os.environ.get("AZURE_MODEL", "gpt-4.1-mini"), "vertexai": "gemini-2.5-flash",
          "bedrock": "us.amazon.nova-2-lite-v1:0", "cohere": "command-a-03-2025"}


@llmchat.tool
def weather(city: str) -> str:
    """Current weather in a city."""
    return f"15°C and sunny in {city}."


def run(chat: llmchat.Chat) -> None:
    chat.with_tool(weather).on_tool_call(lambda call: print(f"\n  [Calling: {call.name}({call.arguments})]"))
    print(f"{chat.provider} ({chat.protocol}): ", end="")
    reply = chat.ask("What's the weather in Berlin?", on_chunk=lambda c: print(c.content or "", end="", flush=True))
    print(f"\n  [{reply.input_tokens} in, {reply.output_tokens} out, finish={reply.finish_reason}]")
    try:
        chat.ask("Something the content filter refuses")
    except llmchat.ContentFilterError as exc:     # Azure's 400 content_filter, or a filter ending with no answer
        print(f"  ContentFilterError: {str(exc)[:70]}...")
    except llmchat.Error as exc:
        print(f"  {type(exc).__name__}: {exc} (partial answer kept: {exc.partial!r})")


def offline() -> None:
    with Server() as server:
        bases = {"azure": server.root + "/openai/deployments/my-gpt",        # the deployment form
                 "vertexai": server.root + "/v1beta1/projects/demo/locations/global/publishers/google",
                 "bedrock": server.root, "cohere": server.root}
        for provider, model in MODELS.items():
            refusal = {"azure": Reply(status=400, body=content_filter_body()),
                       "vertexai": Reply(finish="SAFETY"), "bedrock": Reply(finish="guardrail_intervened"),
                       "cohere": Reply(text="Half an ans", error={"type": "api_error", "message": "internal error"})}
            refusal = refusal[provider]
            server.queue(Reply(tool_calls=[Call("weather", {"city": "Berlin"})]),
                         Reply(text=["It is ", "15°C and ", "sunny in Berlin."], delay=0.02), refusal)
            run(llmchat.chat(model, provider=provider, base_url=bases[provider], api_key="offline-key",
                             max_retries=0))


if __name__ == "__main__":
    if "--live" in sys.argv:
        name = sys.argv[-1] if sys.argv[-1] in MODELS else "cohere"
        run(llmchat.chat(os.environ.get(f"{name.upper()}_MODEL", MODELS[name]), provider=name))
    else:
        offline()
