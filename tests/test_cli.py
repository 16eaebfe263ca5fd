"""The ``llmchat`` command, run as the real installed console script against the bundled loopback server."""

from __future__ import annotations

import json
import os
import pathlib
import select
import signal
import subprocess
import sys
import time

import pytest

from llmchat.testing import Reply

BIN = pathlib.Path(sys.executable).parent / "llmchat"
KEY = "sk-test-SECRET-0123456789"
STORY = ["Once", " upon", " a", " time,", " a", " tiny", " parser", " met", " a", " stream", "."]


@pytest.fixture(scope="module")
def llmchat_bin():
    if not BIN.exists():
        pytest.fail(f"the console script is not installed at {BIN}: pip install -e . first")
    return str(BIN)


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("LLMCHAT_")}
    return {**base, "OPENAI_API_KEY": KEY, "PYTHONUNBUFFERED": "0", **extra}


def target(server) -> list[str]:
    return ["-m", "gpt-4.1-mini", "--provider", "openai", "--protocol", "chat_completions",
            "--base-url", server.url("chat_completions"), "--retries", "0"]


def run(llmchat_bin, *args: str, stdin: str | None = None, environ: dict | None = None, timeout: float = 30):
    return subprocess.run([llmchat_bin, *args], input=stdin, capture_output=True, text=True, timeout=timeout,
                          env=environ or env(), stdin=None if stdin is not None else subprocess.DEVNULL)


def start(llmchat_bin, *args: str) -> subprocess.Popen:
    return subprocess.Popen([llmchat_bin, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env())


def read_some(stream, timeout: float = 10.0) -> bytes:
    ready, _, _ = select.select([stream], [], [], timeout)
    assert ready, "no output within the timeout"
    return os.read(stream.fileno(), 65536)


# ------------------------------------------------------------------ success


def test_streams_the_answer_and_exits_0(llmchat_bin, server):
    server.reply(*STORY)
    result = run(llmchat_bin, "Tell me a story", *target(server), "-s", "Be brief", "-o", "max_tokens=50",
                 "-o", "user=cron")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Once upon a time, a tiny parser met a stream.\n"
    assert result.stderr == ""
    body = server.wait_for(1)[0].body
    assert body["messages"] == [{"role": "system", "content": "Be brief"},
                                {"role": "user", "content": "Tell me a story"}]
    assert body["max_tokens"] == 50 and body["user"] == "cron" and body["stream"] is True
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_the_prompt_comes_from_stdin(llmchat_bin, server):
    server.reply("A short summary.")
    result = run(llmchat_bin, *target(server), "-s", "Summarize", stdin="line one\nline two\n")
    assert (result.returncode, result.stdout) == (0, "A short summary.\n"), result.stderr
    messages = server.wait_for(1)[0].body["messages"]
    assert messages[-1] == {"role": "user", "content": "line one\nline two\n"}


def test_python_dash_m_runs_the_same_command(server):
    server.reply("Hi", " there")
    result = subprocess.run([sys.executable, "-m", "llmchat", "Hello", *target(server)], capture_output=True,
                            text=True, timeout=30, env=env(), stdin=subprocess.DEVNULL)
    assert (result.returncode, result.stdout) == (0, "Hi there\n"), result.stderr


def test_json_prints_the_final_message(llmchat_bin, server):
    server.reply("Hel", "lo", input_tokens=7, output_tokens=2)
    result = run(llmchat_bin, "Hi", *target(server), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["content"] == "Hello" and data["status"] == "complete" and data["role"] == "assistant"
    assert (data["input_tokens"], data["output_tokens"], data["exit_code"]) == (7, 2, 0)


def test_no_stream_prints_once_at_the_end(llmchat_bin, server):
    server.reply("Hel", "lo\n")
    result = run(llmchat_bin, "Hi", *target(server), "--no-stream")
    assert (result.returncode, result.stdout) == (0, "Hello\n"), result.stderr


def test_version_and_help_document_the_exit_codes(llmchat_bin):
    import llmchat

    assert run(llmchat_bin, "--version").stdout.strip() == f"llmchat {llmchat.__version__}"
    helped = run(llmchat_bin, "--help")
    assert helped.returncode == 0
    for code in ("0", "1", "2", "75", "77", "78", "130", "141", "143"):
        assert f"\n  {code:>3}  " in helped.stdout


def test_demo_runs_offline(llmchat_bin):
    result = run(llmchat_bin, "demo", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Once upon a time, a tiny parser met a stream." in result.stdout and "RateLimitError" in result.stdout


# ------------------------------------------------------------------ exit codes


@pytest.mark.parametrize("args", [["--no-such-option"], ["-o", "novalue"], []], ids=["option", "-o", "no prompt"])
def test_bad_usage_exits_2(llmchat_bin, server, args):
    result = run(llmchat_bin, *args, *target(server))
    assert result.returncode == 2
    assert result.stdout == "" and "usage: llmchat" in result.stderr
    assert server.requests == []


@pytest.mark.parametrize("reply", [Reply(status=429), Reply(status=503), Reply(status=529),
                                   Reply(text=STORY, cut_after=3)], ids=["429", "503", "529", "cut"])
def test_what_is_worth_retrying_exits_75(llmchat_bin, server, reply):
    server.queue(reply)
    result = run(llmchat_bin, "Hi", *target(server))
    assert result.returncode == 75, result.stderr
    assert result.stderr.startswith("llmchat: ") and result.stderr.endswith("(exit 75)\n")
    assert "Traceback" not in result.stderr and KEY not in result.stderr


def test_a_timeout_exits_75(llmchat_bin, server):
    server.queue(Reply(text=STORY, stall_after=2, stall=10))
    result = run(llmchat_bin, "Hi", *target(server), "--timeout", "0.5")
    assert result.returncode == 75, result.stderr
    assert result.stdout == "Once upon\n" and "TimeoutError" in result.stderr


def test_a_failure_keeps_what_was_streamed_on_stdout(llmchat_bin, server):
    server.queue(Reply(text=STORY, error={"type": "overloaded_error", "message": "Overloaded"}, error_after=4))
    result = run(llmchat_bin, "Hi", *target(server))
    assert result.returncode == 75
    assert result.stdout == "Once upon a time,\n"
    assert result.stderr == "llmchat: OverloadedError: overloaded_error: Overloaded (exit 75)\n"


def test_json_after_a_failure_is_incomplete_with_the_partial(llmchat_bin, server):
    server.queue(Reply(text=STORY, error={"type": "rate_limit_error", "message": "slow down"}, error_after=2))
    result = run(llmchat_bin, "Hi", *target(server), "--json")
    assert result.returncode == 75
    data = json.loads(result.stdout)
    assert data["status"] == "incomplete" and data["content"] == "Once upon" and data["exit_code"] == 75
    assert data["error"]["type"] == "RateLimitError"


@pytest.mark.parametrize("status", [401, 403, 402])
def test_authentication_and_permission_exit_77(llmchat_bin, server, status):
    server.queue(Reply(status=status))
    result = run(llmchat_bin, "Hi", *target(server))
    assert result.returncode == 77 and result.stdout == ""
    assert KEY not in result.stderr


def test_missing_key_exits_78_before_any_request(llmchat_bin, server):
    environ = env()
    del environ["OPENAI_API_KEY"]
    result = run(llmchat_bin, "Hi", *target(server), environ=environ)
    assert result.returncode == 78 and "OPENAI_API_KEY" in result.stderr
    assert server.requests == []


def test_unknown_model_exits_78(llmchat_bin, server):
    assert run(llmchat_bin, "Hi", "-m", "no-such-model").returncode == 78
    server.queue(Reply(status=404))
    assert run(llmchat_bin, "Hi", *target(server)).returncode == 78


def test_other_llmchat_errors_exit_1(llmchat_bin, server):
    server.queue(Reply(status=400))
    result = run(llmchat_bin, "Hi", *target(server))
    assert result.returncode == 1 and "BadRequestError" in result.stderr and "Traceback" not in result.stderr


# ------------------------------------------------------------------ pipes and signals


def slow(server, delay: float = 0.3) -> None:
    server.queue(Reply(text=STORY, delay=delay))


def test_chunks_reach_a_pipe_before_the_process_ends(llmchat_bin, server):
    slow(server)
    process = start(llmchat_bin, "Hi", *target(server))
    try:
        first = read_some(process.stdout)
        assert process.poll() is None, "the first chunk came only when the process ended"
        assert first.startswith(b"Once") and len(first) < len(" ".join(STORY))
        rest = process.stdout.read()
        assert process.wait(30) == 0
        assert (first + rest).decode() == "Once upon a time, a tiny parser met a stream.\n"
    finally:
        process.kill()


@pytest.mark.parametrize(("signum", "code", "name"), [(signal.SIGINT, 130, "SIGINT"),
                                                       (signal.SIGTERM, 143, "SIGTERM")])
def test_a_signal_mid_answer_keeps_the_partial(llmchat_bin, server, signum, code, name):
    slow(server)
    process = start(llmchat_bin, "Hi", *target(server))
    try:
        seen = read_some(process.stdout)
        process.send_signal(signum)
        out, err = process.communicate(timeout=10)
        assert process.returncode == code
        partial = (seen + out).decode()
        assert partial.startswith("Once") and partial.endswith("\n") and "stream." not in partial
        assert err.decode().startswith(f"llmchat: interrupted ({name}); the partial answer")
        assert b"Traceback" not in err
        server.wait_for(1)
        assert server.requests[0].client_closed       # the provider connection was closed at once
    finally:
        process.kill()


def test_json_after_sigterm_is_incomplete(llmchat_bin, server):
    slow(server)
    process = start(llmchat_bin, "Hi", *target(server), "--json")
    try:
        time.sleep(1.0)     # a few chunks in (nothing shows on stdout with --json until the end)
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=10)
        assert process.returncode == 143
        data = json.loads(out)
        assert data["status"] == "incomplete" and data["content"].startswith("Once") and data["exit_code"] == 143
    finally:
        process.kill()


def test_a_closed_stdout_cancels_quietly_with_141(llmchat_bin, server):
    slow(server, delay=0.2)
    process = start(llmchat_bin, "Hi", *target(server))
    try:
        read_some(process.stdout)
        process.stdout.close()      # as `| head -c 4` does once it has enough
        assert process.wait(10) == 141
        assert process.stderr.read() == b""
        server.wait_for(1)
        assert server.requests[0].client_closed
    finally:
        process.kill()


def test_head_in_a_shell_pipeline(llmchat_bin, server):
    slow(server, delay=0.1)
    cmd = f"{llmchat_bin} Hi {' '.join(target(server))} | head -c 4; echo \" ${{PIPESTATUS[0]}}\""
    result = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=30, env=env())
    assert result.stdout == "Once 141\n" and result.stderr == ""


def test_import_llmchat_does_not_load_the_cli():
    code = "import sys, llmchat; print('llmchat.cli' in sys.modules, 'argparse' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# ------------------------------------------------------------------ conversations across runs


def test_chat_name_continues_a_stored_conversation_across_runs(llmchat_bin, server, tmp_path):
    store = f"sqlite:///{tmp_path / 'chats.db'}"
    server.reply("Sunny", ", 21°C.")
    first = run(llmchat_bin, "Weather report for today?", *target(server), "-s", "Be brief", "--chat", "daily",
                "--store", store)
    assert (first.returncode, first.stdout) == (0, "Sunny, 21°C.\n"), first.stderr
    server.reply("Two degrees warmer than yesterday.")
    second = run(llmchat_bin, "Compared with yesterday?", *target(server), "-s", "Be brief", "--chat", "daily",
                 environ=env(LLMCHAT_STORE=store))
    assert (second.returncode, second.stdout) == (0, "Two degrees warmer than yesterday.\n"), second.stderr
    assert server.wait_for(2)[1].body["messages"] == [
        {"role": "system", "content": "Be brief"}, {"role": "user", "content": "Weather report for today?"},
        {"role": "assistant", "content": "Sunny, 21°C."}, {"role": "user", "content": "Compared with yesterday?"}]
    server.reply("Hello.")
    other = run(llmchat_bin, "Hi", *target(server), "--chat", "another", "--store", store)
    assert other.returncode == 0
    assert server.wait_for(3)[2].body["messages"] == [{"role": "user", "content": "Hi"}]


def test_an_interrupted_run_is_kept_incomplete_and_not_sent_again(llmchat_bin, server, tmp_path):
    store = f"sqlite:///{tmp_path / 'chats.db'}"
    slow(server)
    process = start(llmchat_bin, "Story?", *target(server), "--chat", "story", "--store", store)
    try:
        read_some(process.stdout)
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 143
    finally:
        process.kill()
    server.reply("Done.")
    again = run(llmchat_bin, "Again, short", *target(server), "--chat", "story", "--store", store, "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["content"] == "Done."
    assert json.loads(again.stdout)["chat"] == "story"
    assert [m["role"] for m in server.wait_for(2)[1].body["messages"]] == ["user", "user"]


def test_stdin_that_is_not_utf8_is_still_a_prompt(llmchat_bin, server):
    server.reply("ok")
    result = subprocess.run([llmchat_bin, *target(server)], input=b"caf\xe9 notes\n", capture_output=True,
                            timeout=30, env={**env(), "PYTHONIOENCODING": "utf-8"})
    assert (result.returncode, result.stdout) == (0, b"ok\n"), result.stderr
    assert server.wait_for(1)[0].body["messages"][-1]["content"] == "caf\ufffd notes\n"


def test_a_chat_busy_in_another_run_exits_75(llmchat_bin, server, tmp_path):
    store = f"sqlite:///{tmp_path / 'chats.db'}"
    server.reply("First.")
    assert run(llmchat_bin, "Hi", *target(server), "--chat", "job", "--store", store).returncode == 0
    slow(server)
    process = start(llmchat_bin, "Story?", *target(server), "--chat", "job", "--store", store)
    try:
        read_some(process.stdout)          # the first run holds the chat while it streams
        second = run(llmchat_bin, "Hello?", *target(server), "--chat", "job", "--store", store)
        assert second.returncode == 75 and "ChatBusyError" in second.stderr
        assert process.wait(30) == 0
    finally:
        process.kill()


def test_no_stream_still_prints_the_partial_after_a_failure(llmchat_bin, server):
    server.queue(Reply(text=STORY, cut_after=3))
    result = run(llmchat_bin, "Hi", *target(server), "--no-stream")
    assert (result.returncode, result.stdout) == (75, "Once upon a\n")
