"""The ``llmchat`` command: one question, the answer streamed to stdout, an exit code a cron job can act on.

Loaded only when the command runs (``llmchat ...`` or ``python -m llmchat``); ``import llmchat`` never
imports it. Every failure maps to one exit code (see :data:`EXIT_CODES`)::

    >>> import llmchat
    >>> exit_code(llmchat.RateLimitError("slow down")), exit_code(llmchat.UnauthorizedError("bad key"))
    (75, 77)
    >>> exit_code(llmchat.ConfigurationError("no key")), exit_code(KeyboardInterrupt())
    (78, 130)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import Any, Callable, Sequence

__all__ = ["EXIT_CODES", "Terminated", "exit_code", "main", "run"]

EXIT_CODES = {
    0: "success",
    1: "any other llmchat error (a bad request, a broken tool call, ...)",
    2: "bad usage (unknown option, no prompt)",
    75: "worth retrying later: rate limit, overload, 5xx, timeout, broken connection, --chat busy (EX_TEMPFAIL)",
    77: "authentication or permission: a wrong, revoked or unpaid key (EX_NOPERM)",
    78: "configuration: missing API key, unknown model or provider (EX_CONFIG)",
    130: "interrupted (SIGINT, Ctrl-C)",
    141: "stdout was closed before the answer ended (| head)",
    143: "terminated (SIGTERM, as sent by timeout(1) and schedulers)",
}

EPILOG = """\
The prompt is the argument, or stdin when there is none (or it is "-").
API keys come from the environment: OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, ...
The default model from LLMCHAT_DEFAULT_MODEL.

exit codes:
{codes}
What was streamed before a failure stays on stdout (with --json: "status": "incomplete").

commands:
  llmchat demo     an offline tour against a bundled loopback server (no key needed)
                   (llmchat -- demo asks the model "demo")
"""


class Terminated(BaseException):
    """SIGTERM arrived: raised like ``KeyboardInterrupt`` so the stream closes and the partial answer is kept.

    >>> issubclass(Terminated, Exception)
    False
    """


def exit_code(exc: BaseException) -> int:
    """The exit code for an exception that ended a run (see :data:`EXIT_CODES`)."""
    import llmchat

    for kinds, code in (
        ((KeyboardInterrupt,), 130), ((Terminated,), 143), ((BrokenPipeError,), 141),
        ((llmchat.ConfigurationError, llmchat.NotFoundError), 78),
        ((llmchat.UnauthorizedError, llmchat.ForbiddenError, llmchat.PaymentRequiredError), 77),
        ((llmchat.RateLimitError, llmchat.ServerError, llmchat.ConnectionError, llmchat.TimeoutError,
          llmchat.StreamError, llmchat.ChatBusyError), 75),     # busy: --chat answered elsewhere
    ):
        if isinstance(exc, kinds):
            return code
    return 1


def parser() -> argparse.ArgumentParser:
    codes = "\n".join(f"  {code:>3}  {text}" for code, text in EXIT_CODES.items())
    p = argparse.ArgumentParser(
        prog="llmchat", description="Ask a model; the answer streams to stdout.",
        epilog=EPILOG.format(codes=codes), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("prompt", nargs="?", help="the prompt (default: read stdin)")
    p.add_argument("-m", "--model", help="model id, e.g. claude-haiku-4-5 (default: LLMCHAT_DEFAULT_MODEL)")
    p.add_argument("-s", "--system", help="system instructions")
    p.add_argument("--provider", help="provider name (default: inferred from the model)")
    p.add_argument("--protocol", help="wire protocol (default: the provider's own)")
    p.add_argument("--base-url", help="API root of the provider or of any compatible server")
    p.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                   help="extra request field (VALUE parsed as JSON when it is JSON); repeatable")
    p.add_argument("--retries", type=int, metavar="N", help="retries while nothing was streamed yet (default 3)")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="seconds of silence before giving up (default 300)")
    p.add_argument("--json", action="store_true", help="print the final message as one JSON object")
    p.add_argument("--no-stream", action="store_true", help="print the answer once, at the end")
    p.add_argument("--chat", metavar="NAME", help="continue the conversation NAME kept in the store (LLMCHAT_STORE)")
    p.add_argument("--store", metavar="URL", help="where --chat conversations are kept (default: LLMCHAT_STORE, "
                                                  "else sqlite:///llmchat.db)")
    p.add_argument("--version", action="version", version=f"llmchat {_version()}")
    return p


def _version() -> str:
    from llmchat import __version__

    return __version__


def _options(pairs: list[str], p: argparse.ArgumentParser) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            p.error(f"-o takes KEY=VALUE, not {pair!r}")
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


def _prompt(args: argparse.Namespace, p: argparse.ArgumentParser) -> str:
    if args.prompt is not None and args.prompt != "-":
        text = args.prompt
    elif sys.stdin is None or sys.stdin.isatty():
        p.error("no prompt: give it as an argument or on stdin")
    else:
        stdin = getattr(sys.stdin, "buffer", None)
        text = stdin.read().decode(sys.stdin.encoding or "utf-8", "replace") if stdin else sys.stdin.read()
    if not text.strip():
        p.error("the prompt is empty")
    return text


class Output:
    """Where the answer goes: streamed (flushed per chunk) or held for the end (``--no-stream``, ``--json``)."""

    def __init__(self, stream: bool) -> None:
        self.stream, self.out, self.last = stream, sys.stdout, ""
        self.chat: Any = None       # set once the chat exists: its last message is the answer, complete or not

    def __call__(self, chunk: Any) -> None:
        if self.stream and chunk.content:
            self.last = chunk.content[-1]       # first: a signal may land right after the write
            self.out.write(chunk.content)
            self.out.flush()

    def finish(self, message: Any, as_json: bool, extra: dict[str, Any]) -> None:
        """Write what is still owed: the held text and a final newline, or the JSON document."""
        if as_json:
            data = message.to_dict() if message is not None else {"status": "incomplete", "content": None}
            self.out.write(json.dumps({**data, **extra}, ensure_ascii=False) + "\n")
        else:
            if not self.stream and message is not None and message.content:
                self.out.write(message.content)
                self.last = message.content[-1]
            if self.last and self.last != "\n":
                self.out.write("\n")
        self.out.flush()


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def _answer(args: argparse.Namespace, prompt: str, params: dict[str, Any], output: Output) -> Any:
    """Ask, streaming into ``output``; returns the chat (the last message is the answer, complete or not)."""
    import llmchat

    kwargs = {"provider": args.provider, "protocol": args.protocol, "base_url": args.base_url}
    if args.retries is not None:
        kwargs["max_retries"] = args.retries
    if args.timeout is not None:
        kwargs["request_timeout"] = args.timeout
    chat = _open_chat(args, kwargs) if args.chat else llmchat.chat(args.model, **kwargs)
    output.chat = chat
    if params:
        chat.with_params(**params)
    if args.system:
        chat.with_instructions(args.system)
    chat.ask(prompt, on_chunk=output)
    return chat


def _open_chat(args: argparse.Namespace, kwargs: dict[str, Any]) -> Any:
    """The stored chat called ``args.chat``, created on its first run (a name is kept beside the store's chats)."""
    import llmchat

    store = llmchat.store(args.store)
    with store.backend.tx() as q:
        q(_NAMES_TABLE, ())
        found = q("SELECT chat_id FROM llmchat_chat_names WHERE name = ?", (args.chat,))
    if found:
        chat = store.load_chat(found[0][0])
        chat._options.update((k, v) for k, v in kwargs.items() if k in ("max_retries", "request_timeout"))
        if args.model and args.model != chat.model:
            chat.with_model(args.model, provider=args.provider)
        if args.system and [m.content for m in chat.messages if m.role == "system"] == [args.system]:
            args.system = None      # the same instructions as before: nothing to change
        return chat
    chat = store.create_chat(args.model, **{k: v for k, v in kwargs.items() if v is not None})
    with store.backend.tx() as q:
        q("INSERT INTO llmchat_chat_names (name, chat_id) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
          (args.chat, chat.id))
        winner = q("SELECT chat_id FROM llmchat_chat_names WHERE name = ?", (args.chat,))[0][0]
    return chat if winner == chat.id else store.load_chat(winner)     # another run named it first


_NAMES_TABLE = "CREATE TABLE IF NOT EXISTS llmchat_chat_names (name TEXT PRIMARY KEY, chat_id TEXT NOT NULL)"


def _last_answer(output: Output) -> Any:
    chat = output.chat
    if chat is None or not chat.messages or chat.messages[-1].role != "assistant":
        return None
    return chat.messages[-1]


def _report(exc: BaseException, code: int, output: Output) -> None:
    if code == 141:
        return      # the reader left: nothing to say, and nowhere it would be read
    if code in (130, 143):
        answer = _last_answer(output)
        kept = f"; the partial answer ({len(answer.content or '')} characters) was kept" if answer else ""
        text = f"interrupted ({'SIGINT' if code == 130 else 'SIGTERM'}){kept}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    sys.stderr.write(f"llmchat: {text} (exit {code})\n")
    sys.stderr.flush()


def _silence_stdout() -> None:
    """stdout is a closed pipe: point it at /dev/null so the interpreter's final flush stays quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["demo"]:
        from llmchat import demo

        demo.main()
        return 0
    p = parser()
    args = p.parse_args(argv)
    prompt, params = _prompt(args, p), _options(args.option, p)
    output = Output(stream=not (args.json or args.no_stream))
    previous = _install(signal.SIGTERM, _on_sigterm)
    try:
        _answer(args, prompt, params, output)
        code, failure = 0, None
    except (Exception, KeyboardInterrupt, Terminated) as exc:
        code, failure = exit_code(exc), exc
        if code == 1 and not _is_llmchat_error(exc):
            raise
    finally:
        _install(signal.SIGTERM, previous)
    return _conclude(args, output, code, failure)


def _conclude(args: argparse.Namespace, output: Output, code: int, failure: BaseException | None) -> int:
    try:
        if code != 141:
            extra: dict[str, Any] = {"exit_code": code, **({"chat": args.chat} if args.chat else {})}
            if failure is not None and args.json:
                extra["error"] = {"type": type(failure).__name__, "message": str(failure)}
            output.finish(_last_answer(output), args.json, extra)
    except BrokenPipeError as exc:
        code, failure = 141, exc
    if code == 141:
        _silence_stdout()
    if failure is not None:
        _report(failure, code, output)
    return code


def _is_llmchat_error(exc: BaseException) -> bool:
    import llmchat

    return isinstance(exc, llmchat.Error)


def _install(signum: int, handler: Callable[..., Any] | int | None) -> Any:
    try:
        return signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
    except ValueError:      # not the main thread: leave signals alone
        return None


def run() -> None:
    """The console script's entry point."""
    sys.exit(main())
