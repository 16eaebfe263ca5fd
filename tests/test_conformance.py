"""llmchat on the streams recorded from real provider APIs (../shared/conformance, or $LLMCHAT_CONFORMANCE).

Each mode must pass every case: the same content, thinking, tool calls, usage and finish reason as
the provider's official SDK gets from the same bytes. Skipped where the corpus is not present.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = pathlib.Path(os.environ.get("LLMCHAT_CONFORMANCE") or ROOT.parent / "shared" / "conformance")
CHECK = CORPUS / "check.py"
SKIP = (f"needs the conformance corpus (real provider streams with what the official SDKs make of them), kept "
        f"outside this repository; none at {CORPUS}: set LLMCHAT_CONFORMANCE to its directory (README, Development)")


@pytest.mark.skipif(not CHECK.exists(), reason=SKIP)
@pytest.mark.parametrize("mode", ["events", "whole", "random", "close"])
def test_recorded_real_streams_match_the_official_sdks(mode, tmp_path):
    report = tmp_path / "result.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, str(CHECK), "--mode", mode, "--seeds", "1", "--json", str(report)],
                   cwd=CHECK.parent, env=env, capture_output=True, text=True, timeout=600, check=True)
    result = json.loads(report.read_text())
    failures = [f"{c['name']}: {c['differences'][:1]}" for c in result["cases"] if c["status"] == "fail"]
    assert result["total"] > 0 and not failures, "\n".join(failures)
    assert result["passed"] == result["total"]
