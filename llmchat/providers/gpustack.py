"""GPUStack, self-hosted: its OpenAI-compatible API (https://docs.gpustack.ai/latest/user-guide/openai-compatible-apis/).

Point ``GPUSTACK_API_BASE`` (or ``llmchat.configure(gpustack_api_base=...)``) at your
server's ``/v1`` root. A key (one created in the GPUStack UI) is sent when you set
``GPUSTACK_API_KEY``, ``configure(gpustack_api_key=...)`` or ``api_key=``; without one the
request goes out without ``Authorization``, and a server that wants a key answers with
``UnauthorizedError``. It serves whatever models you deployed, so name it:
``llmchat.chat("qwen3", provider="gpustack")``.

>>> PROVIDER.key_optional, PROVIDER.auth_headers("")
(True, {})
"""

from llmchat.providers import Provider

PROVIDER = Provider(
    name="gpustack",
    base_url="http://localhost/v1",
    protocol="chat_completions",
    key_env="GPUSTACK_API_KEY",
    base_env="GPUSTACK_API_BASE",
    key_optional=True,
)
