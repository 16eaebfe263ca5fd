"""Every ```python block in README.md runs, so the documentation cannot drift from the code.

How a block runs
    Each block runs on its own, in a fresh interpreter, as a reader would paste it into a file.
    The README test's world is set up first: an ``llmchat.testing.Server`` on a free loopback port;
    for every provider whose wire format that server speaks, ``<PROVIDER>_API_BASE`` points at it
    and ``<PROVIDER>_API_KEY`` is a test key (not set for providers whose key is optional, so a
    block shows what happens without one). Providers whose wire format it does not speak point at
    a path of it that answers 404: such a block needs a prelude that sets up its own server. Real
    keys and base URLs from your environment are removed, so no block ever talks to a real
    provider. A request with nothing queued gets the default reply, the story
    ``"Once upon a time."`` (5 tokens in, 4 out). ``llmchat`` is imported already (the README
    imports it once, at the top). Tracebacks point at README.md's own lines. A block that needs
    another server (a web app, a database) starts it in its prelude, or in the block itself.

Markers: HTML comments (invisible on the rendered page) directly above a block, blank lines allowed
    ``<!-- prelude: CODE -->``
        Python run before the block, in its namespace: what the reader has from earlier sections
        (``chat = llmchat.chat(...)``) or what the block leaves to the reader (``fetch_weather``).
        ``readme_server`` is the README test's server, to queue replies
        (``readme_server.queue(Reply(...))``; import ``Reply``/``Call`` from ``llmchat.testing``).
        CODE may span lines.
    ``<!-- stdout: TEXT -->``
        The block must print exactly TEXT (trailing spaces and blank lines ignored).
    ``<!-- not-tested: REASON -->``
        The block is not run; REASON (required) says why, e.g. ``needs a browser``. It is shown
        as the skip reason. Prefer a prelude: a block not run is a block that can rot.

New blocks are picked up automatically. An untagged fence that looks like Python fails the test:
tag it ```python (or ```sh/```text when it is not Python).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import textwrap

import attrs
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MARKERS = ("prelude", "stdout", "not-tested")
FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
SECRETS = re.compile(r"(_API_KEY|_API_BASE|_ACCESS_KEY|_SECRET|_TOKEN|_CREDENTIALS)", re.I)

HARNESS = r"""
import json, os, sys
import llmchat
from llmchat import providers
from llmchat.testing import Reply, Server

spec = json.loads(sys.stdin.read())
server = Server().start()
server.default = Reply(text=["Once", " upon", " a", " time."], input_tokens=5, output_tokens=4)
for name in providers.names():
    provider = providers.get(name)
    try:
        base = server.url(provider.protocol)
    except ValueError:                # a wire format the bundled server does not speak: a prelude must
        base = server.root + "/no-such-protocol"      # set it up; never the real provider meanwhile
    if provider.base_env:
        os.environ[provider.base_env] = base
    if provider.key_env and not getattr(provider, "key_optional", False):
        os.environ[provider.key_env] = "readme-test-key"
namespace = {"__name__": "__main__", "readme_server": server, "llmchat": llmchat}
if spec["prelude"]:
    exec(compile(spec["prelude"], f"README.md prelude of line {spec['line']}", "exec"), namespace)
del namespace["readme_server"]       # the block itself sees only what it (or its prelude) defines
exec(compile("\n" * spec["line"] + spec["code"], "README.md", "exec"), namespace)
sys.stdout.flush()
server.stop()
"""


@attrs.frozen
class Block:
    line: int           # README line of the block's first code line (1-based)
    heading: str
    code: str
    prelude: str = ""
    stdout: str | None = None
    not_tested: str | None = None

    @property
    def id(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.heading.lower()).strip("-")
        return f"L{self.line}-{slug}"


def _marker(comment: str) -> tuple[str, str] | None:
    """(kind, text) of a ``<!-- kind: text -->`` comment, None for other comments."""
    body = comment.strip()[4:-3]
    kind, sep, rest = body.partition(":")
    if not sep or kind.strip() not in MARKERS:
        return None
    first, _, more = rest.partition("\n")
    text = (first.strip() + "\n" + textwrap.dedent(more)).strip("\n")
    return kind.strip(), text


def parse(text: str) -> tuple[list[Block], list[tuple[int, str]]]:
    """The README's python blocks, with their markers; and its untagged blocks, as (line, code)."""
    lines = text.splitlines()
    blocks: list[Block] = []
    untagged: list[tuple[int, str]] = []
    markers: dict[str, str] = {}
    heading = "top"
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = FENCE.match(line)
        if line.lstrip().startswith("<!--"):
            end = i
            while "-->" not in lines[end]:
                end += 1
            marker = _marker("\n".join(lines[i:end + 1]))
            if marker:
                markers[marker[0]] = marker[1]
            i = end + 1
            continue
        if fence:
            end = i + 1
            while not FENCE.match(lines[end]) or FENCE.match(lines[end]).group(1):
                end += 1
            code = "\n".join(lines[i + 1:end]) + "\n"
            if fence.group(1) == "python":
                blocks.append(Block(i + 2, heading, code, markers.get("prelude", ""), markers.get("stdout"),
                                    markers.get("not-tested")))
            elif not fence.group(1):
                untagged.append((i + 1, code))
            markers = {}
            i = end + 1
            continue
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if line.strip():
            markers = {}
        i += 1
    return blocks, untagged


BLOCKS, UNTAGGED = parse(README.read_text(encoding="utf-8"))


def run_block(block: Block, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not SECRETS.search(k) and not k.startswith("LLMCHAT_")}
    env["PYTHONPATH"] = str(ROOT)
    spec = json.dumps({"line": block.line - 1, "code": block.code, "prelude": block.prelude})
    with tempfile.TemporaryDirectory() as cwd:      # files a block makes (llmchat.db) stay out of the checkout
        return subprocess.run([sys.executable, "-c", HARNESS], input=spec, capture_output=True, text=True,
                              timeout=timeout, cwd=cwd, env=env)


def _clean(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()).strip("\n")


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.id)
def test_readme_block_runs(block: Block) -> None:
    if block.not_tested is not None:
        pytest.skip(f"README.md line {block.line} is marked not-tested: {block.not_tested}")
    result = run_block(block)
    where = f"README.md line {block.line} ({block.heading})"
    assert result.returncode == 0, f"{where} failed:\n{result.stderr}\n--- stdout:\n{result.stdout}"
    assert "Traceback" not in result.stderr, f"{where}:\n{result.stderr}"
    if block.stdout is not None:
        assert _clean(result.stdout) == _clean(block.stdout), f"{where} printed:\n{result.stdout}"


def test_the_readme_has_python_blocks_and_every_skip_says_why() -> None:
    assert len(BLOCKS) >= 10
    for block in BLOCKS:
        assert block.not_tested is None or block.not_tested.strip(), f"line {block.line}: not-tested needs a reason"


def test_no_python_hides_in_an_untagged_block() -> None:
    looks_like_python = re.compile(r"^\s*(import |from \S+ import |def |class )|llmchat\.\w+\(", re.M)
    hidden = [line for line, code in UNTAGGED if looks_like_python.search(code)]
    assert not hidden, f"README.md lines {hidden}: tag Python blocks ```python so that they are tested"


def test_the_parser_reads_markers_and_skips_only_with_a_reason() -> None:
    text = textwrap.dedent('''\
        # Title
        <!-- prelude: x = 1 -->
        <!-- stdout:
        2
        -->

        ```python
        print(x + 1)
        ```
        Text between resets markers.
        <!-- prelude: y = 2 -->
        Some words.
        ```python
        print(3)
        ```
        <!-- not-tested: needs a browser -->
        ```python
        open_browser()
        ```
        ```
        pip install llmchat-stream
        ```
        ''')
    blocks, untagged = parse(text)
    assert [(b.line, b.prelude, b.stdout, b.not_tested) for b in blocks] == [
        (8, "x = 1", "2", None), (14, "", None, None), (18, "", None, "needs a browser")]
    assert untagged == [(20, "pip install llmchat-stream\n")]
    result = run_block(blocks[0])
    assert result.returncode == 0 and result.stdout == "2\n", result.stderr


def test_the_sigterm_recipe_keeps_the_partial_answer(server, tmp_path) -> None:
    """The cron recipe, as README shows it, killed with SIGTERM mid-answer by another process."""
    import select
    import signal

    (recipe,) = [b for b in BLOCKS if "signal.signal(signal.SIGTERM" in b.code]
    job = tmp_path / "job.py"
    job.write_text(recipe.code)
    from llmchat.testing import Reply

    server.queue(Reply(text=[f"word{i} " for i in range(200)], delay=0.05))
    env = {k: v for k, v in os.environ.items() if not SECRETS.search(k) and not k.startswith("LLMCHAT_")}
    env.update(PYTHONPATH=str(ROOT), ANTHROPIC_API_BASE=server.url("anthropic_messages"),
               ANTHROPIC_API_KEY="sk-test-cron")
    process = subprocess.Popen([sys.executable, str(job)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env, cwd=tmp_path)
    try:
        received = b""
        while received.count(b"word") < 5:
            ready, _, _ = select.select([process.stdout], [], [], 10)
            assert ready, f"no answer within 10 s: {received!r}"
            received += os.read(process.stdout.fileno(), 4096)
        process.send_signal(signal.SIGTERM)
        rest, errors = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    output = (received + rest).decode()
    assert process.returncode == 128 + signal.SIGTERM, errors.decode()
    assert "Traceback" not in errors.decode()
    streamed, _, summary = output.rpartition("\n[stopped by SIGTERM; kept ")
    assert summary.strip() == f"{len(streamed)} characters, incomplete]"
    assert streamed.startswith("word0 word1 word2 word3 word4 ") and len(streamed) < len("word100 ") * 100
    server.wait_for(1)
    assert server.requests[0].client_closed         # the connection was closed: the provider stops generating


def test_example_commands_use_the_interpreter_readme_sets_up() -> None:
    """README's setup installs llmchat into .venv; a bare ``python examples/...`` may not have it."""
    texts = {p.name: p.read_text(encoding="utf-8") for p in [README, *sorted((ROOT / "examples").glob("*.py"))]}
    bare = [name for name, text in texts.items() if re.search(r"(?<![/\w])python3? examples/", text)]
    assert not bare, f"say .venv/bin/python examples/... in {bare}"
    assert all(".venv/bin/python examples/" in text for name, text in texts.items() if name != "README.md")
