"""``python -m llmchat``: the ``llmchat`` command (see :mod:`llmchat.cli`)."""

if __name__ == "__main__":
    from llmchat.cli import run

    run()
