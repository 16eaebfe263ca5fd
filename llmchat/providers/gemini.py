"""Google Gemini API: https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent"""

from llmchat.providers import Provider


def _auth(key: str) -> dict[str, str]:
    return {"x-goog-api-key": key}


PROVIDER = Provider(
    name="gemini",
    base_url="https://generativelanguage.googleapis.com/v1beta",
    protocol="gemini",
    key_env="GEMINI_API_KEY",
    base_env="GEMINI_API_BASE",
    auth=_auth,
    models=("gemini-", "gemma-"),
)
