"""Notebooks: ``llmchat.notebook.live()`` and interrupts, through a real IPython kernel (ipykernel + jupyter_client),
and the example notebook executed with nbclient; all offline against the bundled loopback server."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import time

import pytest

import llmchat
from llmchat.markdown import chat_markdown, safe_markdown
from llmchat.notebook import live
from llmchat.testing import Reply

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _require(module: str):
    try:
        return __import__(module)
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"{module} is not installed (pip install -e '.[dev]')")


SETUP = """
import time, llmchat
from llmchat.notebook import live
from llmchat.testing import Call, Reply, Server
server = Server().start()
chat = llmchat.chat("gpt-4.1-mini", provider="openai", protocol="chat_completions",
                    base_url=server.url("chat_completions"), api_key="k")
"""


@pytest.fixture
def kernel():
    _require("ipykernel")
    from jupyter_client import KernelManager

    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(ROOT), env={**os.environ, "PYTHONWARNINGS": "ignore"})
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        run(client, SETUP)
        yield manager, client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def run(client, code: str, timeout: float = 60) -> list[dict]:
    """Execute ``code`` and return its IOPub messages; fails on an error unless the caller expects one."""
    messages: list[dict] = []
    reply = client.execute_interactive(code, output_hook=messages.append, timeout=timeout, allow_stdin=False)
    errors = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert reply["content"]["status"] == "ok", errors
    return messages


def of_type(messages: list[dict], kind: str) -> list[dict]:
    return [m for m in messages if m["msg_type"] == kind]


def printed(client, code: str) -> str:
    return "".join(m["content"]["text"] for m in of_type(run(client, code), "stream"))


@pytest.mark.parametrize(("model", "protocol"), [("gpt-4.1-mini", "chat_completions"),
                                               ("claude-haiku-4-5", "anthropic_messages"),
                                               ("gemini-2.5-flash", "gemini")])
def test_live_is_one_display_updated_a_bounded_number_of_times(kernel, model, protocol):
    _, client = kernel
    messages = run(client, f"""
server.queue(Reply(text=[f"word{{i}} " for i in range(400)], delay=0.004, input_tokens=9))
chat = llmchat.chat({model!r}, protocol={protocol!r}, base_url=server.url({protocol!r}), api_key="k")
started = time.monotonic()
reply = chat.ask("Tell me a story", on_chunk=live())
print(round(time.monotonic() - started, 3))
""")
    displays, updates = of_type(messages, "display_data"), of_type(messages, "update_display_data")
    assert len(displays) == 1
    assert not [m for m in of_type(messages, "stream") if "word" in m["content"]["text"]]   # no wall of fragments
    elapsed = float(of_type(messages, "stream")[-1]["content"]["text"])
    assert elapsed > 1.0
    assert 3 <= len(updates) <= elapsed / 0.1 + 3          # ~10 a second at most, plus the final ones
    display_id = displays[0]["content"]["transient"]["display_id"]
    assert all(m["content"]["transient"]["display_id"] == display_id for m in updates)
    answer = "".join(f"word{i} " for i in range(400))
    final = updates[-1]["content"]["data"]["text/markdown"]
    assert final == f"{answer}\n\n<sub>9 in · 400 out tokens</sub>"
    middle = updates[len(updates) // 2]["content"]["data"]["text/markdown"]
    assert answer.startswith(middle) and 0 < len(middle) < len(answer)        # it grew in place


def test_thinking_tools_and_the_chat_as_a_cell_value(kernel):
    _, client = kernel
    messages = run(client, """
@llmchat.tool
def weather(city: str) -> str:
    \"\"\"Current weather for a city.\"\"\"
    return f"15°C and sunny in {city}"
chat.with_tool(weather)
server.queue(Reply(thinking=["Look", " it up."], tool_calls=[Call("weather", {"city": "Berlin"})]),
             Reply(text=["Sunny", " in Berlin."]))
reply = chat.ask("Weather in Berlin?", on_chunk=live(chat))
""")
    final = of_type(messages, "update_display_data")[-1]["content"]["data"]["text/markdown"]
    assert final == ('<details><summary>Thinking</summary>\n\nLook it up.\n\n</details>\n\n'
                     '`→ weather({"city": "Berlin"})`\n\n`← 15°C and sunny in Berlin`\n\nSunny in Berlin.\n\n'
                     '<sub>20 in · 4 out tokens</sub>')
    value = of_type(run(client, "chat"), "execute_result")[0]["content"]["data"]
    assert value["text/markdown"].startswith("**llmchat.Chat** · gpt-4.1-mini (openai)\n\n**User:** Weather in Berlin?")
    assert "Sunny in Berlin." in value["text/markdown"] and value["text/plain"].startswith("<llmchat.Chat")


def test_interrupting_the_kernel_stops_the_answer_and_keeps_it(kernel):
    manager, client = kernel
    run(client, 'server.queue(Reply(text=[f"word{i} " for i in range(200)], delay=0.05))')
    msg_id = client.execute('reply = chat.ask("Write a long text", on_chunk=live())\nafter_ask = True')
    messages, interrupted_at = [], None
    while True:
        message = client.get_iopub_msg(timeout=30)
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(message)
        if interrupted_at is None and len(of_type(messages, "update_display_data")) >= 3:
            interrupted_at = time.monotonic()
            manager.interrupt_kernel()
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            break
    stopped_in = time.monotonic() - interrupted_at
    assert stopped_in < 3.0                                     # at once: not after the 10 s answer
    reply = client.get_shell_msg(timeout=10)
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
    [error] = of_type(messages, "error")
    assert len(error["content"]["traceback"]) == 1             # one line, not a traceback through urllib3
    assert error["content"]["traceback"][0].startswith("KeyboardInterrupt: the answer was interrupted after ")
    shown = of_type(messages, "update_display_data")[-1]["content"]["data"]["text/markdown"]

    out = printed(client, """
last = chat.messages[-1]
server.wait_for(1)
print(last.status, type(last.error).__name__, server.requests[0].client_closed, "after_ask" in dir())
print(len(last.content))
print(last.content)
""").splitlines()
    assert out[0] == "incomplete KeyboardInterrupt True False"     # the rest of the cell did not run
    partial = out[2]
    assert partial.startswith("word0 word1 ") and len(partial.split()) < 200
    assert shown == f"{partial}\n\n*[incomplete]*"           # the partial answer stays visible, marked
    assert f"after {out[1]} characters" in error["content"]["traceback"][0]


def test_the_example_notebook_runs_offline():
    _require("ipykernel")
    nbformat = _require("nbformat")
    from nbclient import NotebookClient

    notebook = nbformat.read(ROOT / "examples" / "notebook.ipynb", as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "examples")}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    markdown = [o.data["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {})]
    assert "Once upon a time, a **tiny** parser met a `stream`.\n\n<sub>12 in · 12 out tokens</sub>" in markdown[0]
    assert "`← 15°C and sunny in Berlin`" in markdown[1]
    assert markdown[2].startswith("**llmchat.Chat** · claude-haiku-4-5 (anthropic)")


def test_importing_llmchat_never_imports_ipython():
    code = ("import sys, llmchat, llmchat.notebook; llmchat.chat('gpt-4.1-mini', api_key='k')._repr_markdown_(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('IPython', 'ipywidgets', 'ipykernel')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_outside_a_kernel_live_writes_plain_text(server, make_chat, capsys):
    server.reply("Hel", "lo")
    make_chat("chat_completions").ask("Hi", on_chunk=live())
    assert capsys.readouterr().out == "Hello"


def test_model_html_is_shown_inert_but_code_is_kept():
    text = "<script>alert(1)</script> `a<b`\n```html\n<div>kept</div>\n```\n<img src=x onerror=alert(1)>"
    assert safe_markdown(text) == ("&lt;script>alert(1)&lt;/script> `a<b`\n```html\n<div>kept</div>\n```\n"
                                   "&lt;img src=x onerror=alert(1)>")


def test_an_incomplete_answer_is_marked_in_the_conversation(server, make_chat):
    server.queue(Reply(text=["Once", " upon", " a"], error={"type": "overloaded_error", "message": "busy"},
                       error_after=2))
    chat = make_chat("chat_completions")
    with pytest.raises(llmchat.OverloadedError):
        chat.ask("Story?")
    shown = chat_markdown(chat)
    assert shown.endswith("**Assistant** · gpt-4.1-mini:\n\nOnce upon\n\n*[incomplete: OverloadedError]*")
    assert chat.messages[-1]._repr_markdown_() == "Once upon\n\n*[incomplete: OverloadedError]*"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="PEP 678 notes are Python 3.11+")
def test_an_interrupt_in_a_script_carries_a_note(server):
    script = f"""
import llmchat
chat = llmchat.chat("gpt-4.1-mini", provider="openai", protocol="chat_completions",
                    base_url={server.url("chat_completions")!r}, api_key="k")
def stop(chunk):
    if chat.messages[-1].content == "a b":
        raise KeyboardInterrupt
chat.ask("Hi", on_chunk=stop)
"""
    server.reply("a", " b", " c")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert result.stderr.rstrip().endswith(
        "KeyboardInterrupt\nthe answer was interrupted after 3 characters; "
        "the partial answer is in chat.messages[-1] (status 'incomplete')")


def test_live_with_the_chat_marks_an_answer_that_ended_early(server, make_chat, capsys):
    server.queue(Reply(text=["Once", " upon", " a"], error={"type": "rate_limit_error", "message": "slow"},
                       error_after=2))
    chat = make_chat("anthropic_messages")
    show = live(chat)
    with pytest.raises(llmchat.RateLimitError):
        chat.ask("Story?", on_chunk=show)
    assert show.markdown() == "Once upon\n\n*[incomplete: RateLimitError]*"
    assert capsys.readouterr().out == "Once upon"       # outside a kernel: plain text
    assert show._on_event not in chat._listeners          # it let go of the chat when the answer ended
