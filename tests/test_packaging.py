"""The sdist and the wheel build without a warning and carry what they should.

Builds a copy of the checkout with ``python -m build --no-isolation`` (``build`` and
``setuptools>=77`` come with the ``dev`` extra), so no network is needed. About 5 seconds.
"""

from __future__ import annotations

import email
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
NAME = "llmchat-stream"
IGNORE = shutil.ignore_patterns(".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".hypothesis",
                                ".pytest_cache", ".ruff_cache")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if os.environ.get("CI") != "true":
        pytest.importorskip("build", reason="needs the dev extra: pip install -e '.[dev]'")
    source = tmp_path_factory.mktemp("src") / "llmchat"
    shutil.copytree(ROOT, source, ignore=IGNORE)
    out = source.parent / "dist"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}   # else: "byte-compiling
    result = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel",  # is disabled"
                             "--outdir", str(out), str(source)], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return result.stdout + result.stderr, sdist, wheel


def test_the_build_is_warning_free(built):
    log, _, _ = built
    warning = re.compile(r"(?i:^\s*warning\b)|[A-Z]\w*Warning\b|(?i:deprecated)")
    warnings = [line for line in log.splitlines() if warning.search(line)]
    assert not warnings, "\n".join(warnings)


def test_the_sdist_has_the_license_docs_examples_tests_and_benchmark(built):
    _, sdist, _ = built
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    wanted = {"LICENSE", "README.md", "CHANGELOG.md", "setup.cfg", "setup.py", "pyproject.toml", "llmchat/py.typed",
              "tests/test_examples.py", "tests/conftest.py", "benchmarks/stream_cpu.py"}
    wanted |= {f"examples/{p.name}" for p in (ROOT / "examples").glob("*.py")}
    assert wanted <= names, sorted(wanted - names)
    assert not [n for n in names if n.startswith((".venv", ".ci/", ".git")) or "__pycache__" in n]


def test_the_wheel_metadata_names_this_project_with_an_spdx_license(built):
    _, _, wheel = built
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = email.message_from_bytes(archive.read(metadata))
    assert meta["Name"] == NAME
    assert meta["License-Expression"] == "MIT" and meta["License-File"] == "LICENSE"
    assert not [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    assert meta["Author"] and meta.get_all("Project-URL")
    core = sorted(r.split(">")[0].split(";")[0] for r in meta.get_all("Requires-Dist") if "extra ==" not in r)
    assert core == ["attrs", "requests", "sseclient-py"]
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "llmchat/testing/server.py" in names and "llmchat/py.typed" in names
    assert not [n for n in names if n.startswith(("tests/", "examples/", "benchmarks/"))]
