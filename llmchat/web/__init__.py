"""Building blocks of the web helpers (:mod:`llmchat.sse`); no web framework is imported here."""
