"""GPUStack, self-hosted: its OpenAI-compatible API (https://docs.gpustack.ai/latest/user-guide/openai-compatible-apis/).

Point ``GPUSTACK_API_BASE`` (or ``llmchat.configure(gpustack_api_base=...)``) at your
server's ``/v1`` root; the key is one created in the GPUStack UI. It serves whatever
models you deployed, so name it: ``llmchat.chat("qwen3", provider="gpustack")``.
"""

from llmchat.providers import Provider

PROVIDER = Provider(
    name="gpustack",
    base_url="http://localhost/v1",
    protocol="chat_completions",
    key_env="GPUSTACK_API_KEY",
    base_env="GPUSTACK_API_BASE",
)
