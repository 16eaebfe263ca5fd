"""Platform credentials for the cloud providers, each imported only when a request needs it.

- :mod:`llmchat.auth.google`: Google Application Default Credentials (``llmchat[vertexai]``);
- :mod:`llmchat.auth.sigv4`: AWS Signature Version 4, standard library only;
- :mod:`llmchat.auth.aws`: AWS credentials from the environment or the shared files.
"""
