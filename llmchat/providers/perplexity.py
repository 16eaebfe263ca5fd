"""Perplexity (Sonar): https://docs.perplexity.ai/api-reference/chat-completions-post (OpenAI-compatible).

The API root has no ``/v1``: requests go to ``https://api.perplexity.ai/chat/completions``.
Quirks: every chunk repeats the search's ``citations`` (URLs) and ``search_results``
next to ``choices`` (and may carry the accumulated ``message`` beside ``delta``); only
``delta`` is read, so the content is unaffected, and the citations are not exposed
yet. The ``sonar-reasoning*`` models write their reasoning into the content
inside ``<think>...</think>``.
"""

from llmchat.providers import Provider

PROVIDER = Provider(
    name="perplexity",
    base_url="https://api.perplexity.ai",
    protocol="chat_completions",
    key_env="PERPLEXITY_API_KEY",
    base_env="PERPLEXITY_API_BASE",
    models=("sonar",),
)
