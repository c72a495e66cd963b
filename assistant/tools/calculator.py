"""The built-in ``calculator`` tool: arithmetic, evaluated safely in a worker process.

The language, its limits and how results are written are in
:mod:`assistant.tools.calculator_eval`: an AST whitelist, never ``eval``, with every
operation's size checked before it runs. This module adds the process that makes a runaway
evaluation harmless anyway.

Process model:

- A few persistent worker processes (at most :data:`MAX_WORKERS`), started by the first call
  that needs one, from multiprocessing's ``forkserver`` context (``spawn`` where there is
  none), never ``fork``: the parent runs llama.cpp threads. A persistent worker answers in
  about 0.15 ms (0.7 ms through the tool); a process per call would cost about 80 ms each
  (``benchmarks/calculator.py``). The first call of a process pays one start, about 60-80 ms.
- A worker runs ``calculator_eval.py`` as a script (``runpy.run_path``), not as a module of the
  ``assistant`` package: importing the package's ``tools`` would load LangChain into every
  worker (0.7 s each); the script needs the standard library only (a worker holds ~15 MB).
- As always with ``spawn``/``forkserver``, a new worker re-imports the parent's ``__main__``
  module: a script using the calculator must guard its entry point with
  ``if __name__ == "__main__":`` (the worker reports this if it fails to start), and heavy
  top-level imports there slow each worker start, though never a call.
- A call takes an idle worker (or starts one, or waits up to the time limit for one), sends the
  expression down a pipe and waits up to the time limit for the answer. Past the limit the
  worker is killed (SIGKILL), reaped and dropped: the caller gets "calculator timed out after
  2s" and the next call gets a fresh worker. Each call has a worker to itself, so concurrent
  calls never see each other's answers, and a runaway one stalls only itself.
- The blocking pipe I/O runs in a thread pool of this module, so the event loop never waits on
  it; nothing is bound to one event loop (``tool.invoke`` runs its own, in another thread).
- Workers are daemonic, killed after a timeout, and killed at interpreter exit (``atexit``).

Errors: a bad expression raises ``ValueError`` with a one-line reason ("division by zero",
"unknown name 'foo' (known: ...)", "syntax error at position 3: ..."); a timeout, a dead worker
or a full pool raise :class:`~assistant.errors.ToolError`. The framework turns both into text
for the model. The tool's framework timeout is the setting plus :data:`FRAMEWORK_GRACE`, a
backstop that the worker's own limit should always beat.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import functools
import multiprocessing
import os
import runpy
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool

from assistant.config import Settings
from assistant.errors import ToolError
from assistant.tools import calculator_eval
from assistant.tools.calculator_eval import MAX_LENGTH
from assistant.tools.framework import make_tool

DEFAULT_TIMEOUT = 2.0
"""Seconds one evaluation may take when no setting says otherwise."""
FRAMEWORK_GRACE = 10.0
"""Seconds the framework's timeout adds to the evaluation's. The evaluation limit is enforced
by the worker (from when it starts evaluating); this backstop also covers starting a worker
and waiting for a free one, which a loaded 2-core machine can stretch past a second."""
MAX_WORKERS = max(2, min(4, os.cpu_count() or 2))
"""Most worker processes at once (2 to 4, by CPU count); more concurrent calls wait their turn.

Two at least, so one runaway evaluation never holds up the others; a few at most, since idle
workers stay alive (about 15 MB each, more if the parent's ``__main__`` imports much).
"""
EXAMPLE = {"expression": "17 * 23 + 4"}

_WORKER_SCRIPT = str(Path(calculator_eval.__file__).resolve())
_REAP_TIMEOUT = 1.0
_START_TIMEOUT = 10.0
_Request = tuple[str, Any]


def _context() -> BaseContext:
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method)


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, context: BaseContext) -> None:
        parent_end, child_end = context.Pipe(duplex=True)
        self.process = context.Process(  # type: ignore[attr-defined]
            target=runpy.run_path,
            args=(_WORKER_SCRIPT,),
            kwargs={"init_globals": {"CONNECTION": child_end}, "run_name": "__calculator_worker__"},
            name="calculator-worker",
            daemon=True,
        )
        try:
            self.process.start()
        except BaseException:
            parent_end.close()
            raise
        finally:
            child_end.close()
        self.connection: Connection = parent_end

    def wait_ready(self, timeout: float) -> None:
        """Wait for the worker's first message, so start-up never counts as evaluation time."""
        try:
            if self.connection.poll(timeout) and self.connection.recv()[0] == "ready":
                return
            problem = f"not ready after {timeout:g}s"
        except (OSError, EOFError):
            self.process.join(_REAP_TIMEOUT)
            problem = f"exited with code {self.process.exitcode}"
        raise ToolError(
            f"calculator worker process did not start ({problem}); a script that uses the "
            "calculator must guard its entry point with `if __name__ == '__main__':`"
        )

    def ask(self, request: _Request, timeout: float) -> tuple[str, str] | None:
        """The worker's answer, or ``None`` when none came within ``timeout`` seconds."""
        self.connection.send(request)
        if not self.connection.poll(timeout):
            return None
        status, text = self.connection.recv()
        return str(status), str(text)

    def alive(self) -> bool:
        """Whether the process still runs (an idle one can die, e.g. to the OOM killer)."""
        return bool(self.process.is_alive())

    def stop(self) -> None:
        """Kill the process, reap it, and release its pipe and handles."""
        self.connection.close()
        self.process.kill()
        self.process.join(_REAP_TIMEOUT)
        if self.process.exitcode is not None:
            self.process.close()


class _WorkerPool:
    """Persistent workers, one call each at a time; thread-safe and not tied to any loop."""

    def __init__(self, max_workers: int) -> None:
        self._context = _context()
        self._max = max_workers
        self._idle: list[_Worker] = []
        self._size = 0  # idle, busy and starting workers
        self._closed = False
        self._cond = threading.Condition()

    def _acquire(self, timeout: float) -> _Worker:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if self._closed:
                    raise ToolError("calculator is shut down")
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive():
                        return worker
                    self._size -= 1
                    worker.stop()  # already dead: reaping it is immediate
                if self._size < self._max:
                    self._size += 1
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ToolError(
                        f"calculator is busy (all {self._max} workers in use); try again"
                    )
                self._cond.wait(remaining)
        try:
            worker = _Worker(self._context)
        except Exception as exc:
            self._forget()
            raise ToolError(f"calculator could not start its worker process: {exc}") from exc
        try:
            worker.wait_ready(_START_TIMEOUT)
        except BaseException:
            self._discard(worker)
            raise
        return worker

    def _forget(self) -> None:
        with self._cond:
            self._size -= 1
            self._cond.notify()

    def _release(self, worker: _Worker) -> None:
        with self._cond:
            if not self._closed:
                self._idle.append(worker)
                self._cond.notify()
                return
        worker.stop()
        self._forget()

    def _discard(self, worker: _Worker) -> None:
        worker.stop()
        self._forget()

    def run(self, request: _Request, timeout: float) -> tuple[str, str]:
        """Send ``request`` to a worker; kill the worker if it has not answered in time.

        A worker found dead (killed from outside while idle, say) is replaced and the request
        sent once more; a second death is reported.
        """
        for attempt in (1, 2):
            worker = self._acquire(timeout)
            try:
                answer = worker.ask(request, timeout)
            except (OSError, EOFError):
                self._discard(worker)
                if attempt == 1:
                    continue
                raise ToolError("calculator worker process died while evaluating") from None
            except BaseException:
                self._discard(worker)
                raise
            if answer is None:
                self._discard(worker)
                raise ToolError(f"calculator timed out after {timeout:g}s")
            self._release(worker)
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    def size(self) -> int:
        """Worker processes alive or starting now."""
        with self._cond:
            return self._size

    def close(self) -> None:
        """Kill the idle workers now, and each busy one as soon as its call ends."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for worker in idle:
            self._discard(worker)


_lock = threading.Lock()
_pool: _WorkerPool | None = None
_threads: concurrent.futures.ThreadPoolExecutor | None = None


def _worker_pool() -> _WorkerPool:
    """The process's worker pool, created on first use and closed at exit."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = _WorkerPool(MAX_WORKERS)
            atexit.register(_pool.close)
        return _pool


def _thread_pool() -> concurrent.futures.ThreadPoolExecutor:
    """Threads that wait on workers; separate from the loop's default executor on purpose."""
    global _threads
    with _lock:
        if _threads is None:
            _threads = concurrent.futures.ThreadPoolExecutor(
                max_workers=MAX_WORKERS * 4, thread_name_prefix="calculator"
            )
        return _threads


def shutdown() -> None:
    """Kill every worker process now; the next call starts afresh."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        atexit.unregister(pool.close)
        pool.close()


def _run(request: _Request, timeout: float) -> str:
    status, text = _worker_pool().run(request, timeout)
    if status != "ok":
        raise ValueError(text)
    return text


async def _arun(request: _Request, time_limit: float) -> str:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_thread_pool(), _run, request, time_limit)


def _eval_request(expression: str) -> _Request:
    if not isinstance(expression, str):
        raise ValueError("the expression must be text, e.g. '2 + 2'")
    if len(expression) > MAX_LENGTH:  # refused here too, so it is never sent
        raise ValueError(f"expression too long ({len(expression)} characters; max {MAX_LENGTH})")
    return "eval", expression


def evaluate(expression: str, time_limit: float = DEFAULT_TIMEOUT) -> str:
    """Evaluate ``expression`` in a worker process, blocking for about ``time_limit`` s at most.

    Raises ``ValueError`` for a bad expression and :class:`~assistant.errors.ToolError` when
    the evaluation timed out or the worker failed.
    """
    return _run(_eval_request(expression), time_limit)


async def aevaluate(expression: str, time_limit: float = DEFAULT_TIMEOUT) -> str:
    """:func:`evaluate` without blocking the event loop (the waiting happens in a thread)."""
    return await _arun(_eval_request(expression), time_limit)


async def _evaluate_slowly_for_tests(seconds: float, time_limit: float = DEFAULT_TIMEOUT) -> str:
    """Keep a worker busy for ``seconds`` as a runaway evaluation would (tests only)."""
    return await _arun(("spin", seconds), time_limit)


async def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression, e.g. '17 * 23 + 4' or 'sqrt(2) ** 3'.

    Use + - * / // % ** and parentheses (^ also means power); constants pi and e; functions
    such as sqrt, root(x, n), ln, log(x, base), sin (radians), factorial, round(x, ndigits),
    min, max, gcd, comb. Integers are exact; decimals have 15 significant digits.

    Args:
        expression: Numbers, operators and functions only, e.g. '2^10 / (3 + 5)'.
    """
    return await aevaluate(expression)


def _calculator_with_timeout(timeout: float) -> Callable[[str], Awaitable[str]]:
    """:func:`calculator` with the configured time limit, same name, docs and signature."""

    @functools.wraps(calculator)
    async def bound(expression: str) -> str:
        return await aevaluate(expression, timeout)

    return bound


def create_tools(settings: Settings) -> Iterable[BaseTool]:
    """Entry point of the built-in ``calculator`` tool."""
    timeout = settings.tools.calculator.timeout
    return [
        make_tool(
            _calculator_with_timeout(timeout),
            timeout=timeout + FRAMEWORK_GRACE,
            example=EXAMPLE,
        )
    ]
