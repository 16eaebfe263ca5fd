"""Google Gemini API: https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent"""

from llmchat.providers import Provider, key_header

PROVIDER = Provider(
    name="gemini",
    base_url="https://generativelanguage.googleapis.com/v1beta",
    protocol="gemini",
    key_env="GEMINI_API_KEY",
    base_env="GEMINI_API_BASE",
    auth=key_header("x-goog-api-key"),
    models=("gemini-", "gemma-"),
)
