"""The examples and the demo run offline, against the bundled server, and show what they promise."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_offline(path):
    result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert "Traceback" not in result.stderr


def test_demo_shows_streaming_tools_and_a_recovered_partial_answer():
    result = subprocess.run([sys.executable, "-m", "llmchat.demo"], capture_output=True, text=True, timeout=60,
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Once upon a time, a tiny parser met a stream." in out
    assert "[Calling: weather({'city': 'Berlin'})]" in out and "15°C and sunny in Berlin." in out
    assert "RateLimitError" in out and "e.partial = 'Once upon a time, a'" in out
    assert "The conversation: ['user', 'assistant', 'user', 'assistant', 'tool', 'assistant', 'user', 'assistant']" \
        in out
