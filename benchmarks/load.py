"""Load and soak: constant-arrival-rate traffic against the API, the knee, then a long hold.

A fake OpenAI-compatible upstream (``tests/fakes/upstream.py``, its own process) answers every
chat request after a fixed delay; ``assistant serve`` serves ``fake:gpt-fake`` through a
compatible endpoint pointing at it. This process is the load generator, an *open model*:
request start times are scheduled at fixed intervals (rate R: one every 1/R s) whatever the
server does, and each latency is measured from the *scheduled* time, so a stalled server
shows up as latency instead of silently slowing the generator down (no coordinated omission).
Half the requests are whole answers, half are streamed (the whole stream is read).

1. **Knee**: steps of rising rate (``--start-rate``, doubling; each ``--step-seconds``, with
   one midpoint step after the first failure in full mode) until a step fails: p99 over
   ``--p99-bound-ms``, any error, or fewer than 95% of the offered requests a second achieved.
   The knee is the highest rate that passed.
2. **Soak**: a fresh server, warmed up at 70% of the knee, then held there for
   ``--soak-seconds``. Memory is the server process' resident set (``VmRSS``) after the
   warm-up and at the end (sampled every 5 s in between).

Targets: zero errors during the soak, and resident memory growing by less than 10%.

Each step also records the CPU the server, the upstream and the generator used (percent of one
core, from ``/proc/PID/stat``): a step failing with the server near 100% is the server's limit;
with the generator and upstream together near 100% (they share CPU 1) it is the load side's.

CPU placement (2 cores): the server runs on CPU 0; this generator and the fake upstream on
CPU 1 (``os.sched_setaffinity``, inherited by each child at start). Other work on the
machine is not moved: the load average is written with the results.

    uv run python benchmarks/load.py [--quick] [--soak-seconds 120] [--upstream-ms 50]

``--quick`` is about a minute in all (short steps, 30 s soak). Writes
benchmarks/results/load.json and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from _results import write_results
from _servers import free_port, percentile, start, wait_for
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
MODEL = "fake:gpt-fake"
SERVER_CPU, LOAD_CPU = 0, 1
SOAK_FRACTION = 0.70
ACHIEVED_MIN = 0.95
TARGET_GROWTH_PCT = 10.0
MAX_IN_FLIGHT = 2_000
"""Requests in flight beyond this are not sent and count as errors (keeps memory bounded)."""
CLIENT_TIMEOUT_S = 15.0

console = Console()


# -- processes ----------------------------------------------------------------------------------


@contextmanager
def on_cpu(cpu: int) -> Iterator[None]:
    """Run the block (and so start its child processes) pinned to ``cpu``.

    A child inherits the CPU mask of the thread that starts it, so pinning this (main) thread
    around ``Popen`` places the child and every thread or process it makes later.
    """
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` (``VmRSS`` of ``/proc/PID/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def cpu_use(running: Stack, into: dict[str, Any]) -> Iterator[None]:
    """Put the CPU use of the server, the upstream and this generator during the block in
    ``into`` (percent of one core), to tell which side a failing step ran out of."""
    pids = {"server": running.server.pid, "upstream": running.upstream.pid}
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    own, wall = time.process_time(), time.monotonic()
    yield
    elapsed = time.monotonic() - wall
    for name, pid in pids.items():
        into[f"{name}_cpu_pct"] = round(100 * (cpu_seconds(pid) - before[name]) / elapsed)
    into["generator_cpu_pct"] = round(100 * (time.process_time() - own) / elapsed)


@dataclass
class Stack:
    """The fake upstream and the server under test."""

    upstream: subprocess.Popen[bytes]
    server: subprocess.Popen[bytes]
    url: str


@contextmanager
def stack(upstream_ms: float, workdir: Path) -> Iterator[Stack]:
    """A fake upstream (CPU 1) and ``assistant serve`` in front of it (CPU 0)."""
    upstream_port, server_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    with on_cpu(LOAD_CPU):
        upstream = start(
            [
                sys.executable,
                "-m",
                "tests.fakes.upstream",
                "--port",
                str(upstream_port),
                "--delay",
                str(upstream_ms / 1000),
            ],
            env,
            ROOT,
        )
    endpoint = {
        "base_url": f"http://127.0.0.1:{upstream_port}/v1",
        "models": ["gpt-fake"],
        "max_retries": 0,
        "timeout": 10,
    }
    server_env = {
        **env,
        "ASSISTANT_PROVIDERS__COMPATIBLE": json.dumps({"fake": endpoint}),
        "ASSISTANT_PROVIDERS__LOCAL__ENABLED": "false",
        "ASSISTANT_LOG__LEVEL": "WARNING",
    }
    workdir.mkdir(parents=True, exist_ok=True)
    with on_cpu(SERVER_CPU):
        server = start(
            [sys.executable, "-m", "assistant.cli", "serve", "--port", str(server_port)],
            server_env,
            workdir,
            log=workdir / "server.log",
        )
    try:
        wait_for(f"http://127.0.0.1:{upstream_port}/", upstream)
        wait_for(f"http://127.0.0.1:{server_port}/health", server)
        yield Stack(upstream, server, f"http://127.0.0.1:{server_port}/v1/chat/completions")
    finally:
        for process in (server, upstream):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


# -- the open-model generator -------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One scheduled request."""

    stream: bool
    latency_s: float
    """From the scheduled start to the last byte."""
    lag_s: float
    """How late the generator actually sent it (its own saturation, for diagnosis)."""
    error: str | None
    finished_at: float


async def one(
    client: httpx.AsyncClient, url: str, index: int, stream: bool, scheduled: float
) -> Sample:
    """Send request ``index`` (scheduled at ``scheduled``, loop time) and time it."""
    loop = asyncio.get_running_loop()
    lag = loop.time() - scheduled
    body = {
        "model": MODEL,
        "stream": stream,
        "messages": [{"role": "user", "content": f"Say hello to visitor {index}."}],
    }
    error: str | None = None
    try:
        if stream:
            async with client.stream("POST", url, json=body) as response:
                text = b"".join([chunk async for chunk in response.aiter_bytes()])
                if response.status_code != 200 or not text.rstrip().endswith(b"[DONE]"):
                    error = f"stream {response.status_code}"
                elif b'"error"' in text:
                    error = "stream error frame"
        else:
            response = await client.post(url, json=body)
            if response.status_code != 200:
                error = f"status {response.status_code}"
            elif not response.json()["choices"][0]["message"]["content"]:
                error = "empty answer"
    except Exception as exc:  # any failure is an error of this request, counted, not raised
        error = type(exc).__name__
    now = loop.time()
    return Sample(stream, now - scheduled, lag, error, now)


async def constant_rate(
    url: str, rate: float, seconds: float, progress: Progress, label: str
) -> tuple[list[Sample], float]:
    """Offer ``rate`` requests a second for ``seconds``; every sample, and the wall time from
    the first scheduled start to the last answer."""
    total = max(1, round(rate * seconds))
    task = progress.add_task(label, total=total)
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)
    loop = asyncio.get_running_loop()
    samples: list[Sample] = []
    async with httpx.AsyncClient(limits=limits, timeout=CLIENT_TIMEOUT_S) as client:
        in_flight: set[asyncio.Task[Sample]] = set()

        def done(finished: asyncio.Task[Sample]) -> None:
            in_flight.discard(finished)
            samples.append(finished.result())
            progress.advance(task)

        begin = loop.time() + 0.05
        for index in range(total):  # bounded: one pass over the schedule
            scheduled = begin + index / rate
            wait = scheduled - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)  # pacing to the schedule, not synchronisation
            if len(in_flight) >= MAX_IN_FLIGHT:
                now = loop.time()
                samples.append(Sample(index % 2 == 1, now - scheduled, 0.0, "not sent", now))
                progress.advance(task)
                continue
            request = asyncio.create_task(one(client, url, index, index % 2 == 1, scheduled))
            in_flight.add(request)
            request.add_done_callback(done)
        if in_flight:
            await asyncio.wait(set(in_flight))
    progress.remove_task(task)
    elapsed = max(sample.finished_at for sample in samples) - begin
    return samples, elapsed


def summarise(rate: float, samples: list[Sample], elapsed: float) -> dict[str, Any]:
    """Figures of one step or soak."""
    latencies = [s.latency_s * 1000 for s in samples]
    errors = [s for s in samples if s.error]
    ok = len(samples) - len(errors)
    figures: dict[str, Any] = {
        "offered_rps": rate,
        "requests": len(samples),
        "achieved_rps": round(ok / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies), 1),
        "errors": len(errors),
        "error_kinds": sorted({str(s.error) for s in errors}),
        "send_lag_p99_ms": round(percentile([s.lag_s * 1000 for s in samples], 0.99), 1),
    }
    for kind, stream in (("whole", False), ("streamed", True)):
        part = [s.latency_s * 1000 for s in samples if s.stream is stream]
        if part:
            figures[kind] = {
                "p50_ms": round(percentile(part, 0.50), 1),
                "p99_ms": round(percentile(part, 0.99), 1),
            }
    return figures


def failure(step: dict[str, Any], p99_bound_ms: float) -> str | None:
    """Why a step is past the knee, or ``None``."""
    if step["errors"]:
        return f"{step['errors']} errors"
    if step["p99_ms"] > p99_bound_ms:
        return f"p99 {step['p99_ms']:.0f} ms > {p99_bound_ms:.0f} ms"
    if step["achieved_rps"] < ACHIEVED_MIN * step["offered_rps"]:
        return f"achieved {step['achieved_rps']:.0f} < 95% of offered"
    return None


# -- the phases ---------------------------------------------------------------------------------


def find_knee(args: argparse.Namespace, workdir: Path) -> tuple[float, list[dict[str, Any]]]:
    """Step the rate up until a step fails; the highest passing rate and every step."""
    steps: list[dict[str, Any]] = []
    passed = 0.0
    with stack(args.upstream_ms, workdir / "knee") as running, progress_bar() as progress:
        asyncio.run(constant_rate(running.url, 10, 2, progress, "warm-up"))
        rate = args.start_rate
        failed_at: float | None = None
        while rate <= args.max_rate:  # bounded: the rate doubles up to --max-rate
            cpu: dict[str, Any] = {}
            with cpu_use(running, cpu):
                samples, elapsed = asyncio.run(
                    constant_rate(running.url, rate, args.step_seconds, progress, f"{rate:g} req/s")
                )
            step = summarise(rate, samples, elapsed) | cpu
            step["failed"] = failure(step, args.p99_bound_ms)
            steps.append(step)
            if step["failed"]:
                failed_at = rate
                break
            passed = rate
            rate *= 2
        if failed_at is not None and passed and not args.quick:
            middle = (passed + failed_at) / 2
            cpu = {}
            with cpu_use(running, cpu):
                samples, elapsed = asyncio.run(
                    constant_rate(
                        running.url, middle, args.step_seconds, progress, f"{middle:g} req/s"
                    )
                )
            step = summarise(middle, samples, elapsed) | cpu
            step["failed"] = failure(step, args.p99_bound_ms)
            steps.append(step)
            if not step["failed"]:
                passed = middle
    return passed, steps


def soak(args: argparse.Namespace, rate: float, workdir: Path) -> dict[str, Any]:
    """A fresh server, warmed up at ``rate``, then held at it; figures and memory."""
    with stack(args.upstream_ms, workdir / "soak") as running, progress_bar() as progress:
        asyncio.run(constant_rate(running.url, rate, args.warmup_seconds, progress, "warm-up"))
        rss_start = rss_bytes(running.server.pid)
        rss_samples: list[int] = [rss_start]

        async def sample_memory(stop: asyncio.Event) -> None:
            while not stop.is_set():  # bounded by the soak: stop is set when it ends
                try:
                    await asyncio.wait_for(stop.wait(), timeout=5)
                except TimeoutError:
                    rss_samples.append(rss_bytes(running.server.pid))

        async def held() -> tuple[list[Sample], float]:
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample_memory(stop))
            try:
                return await constant_rate(
                    running.url, rate, args.soak_seconds, progress, f"soak {rate:g} req/s"
                )
            finally:
                stop.set()
                await sampler

        cpu: dict[str, Any] = {}
        with cpu_use(running, cpu):
            samples, elapsed = asyncio.run(held())
        rss_end = rss_bytes(running.server.pid)
        rss_samples.append(rss_end)
        alive = running.server.poll() is None
    figures = summarise(rate, samples, elapsed) | cpu
    figures.update(
        seconds=args.soak_seconds,
        server_alive=alive,
        rss_start_mb=round(rss_start / 2**20, 1),
        rss_end_mb=round(rss_end / 2**20, 1),
        rss_max_mb=round(max(rss_samples) / 2**20, 1),
        rss_growth_pct=round(100 * (rss_end - rss_start) / rss_start, 2),
        rss_samples_mb=[round(value / 2**20, 1) for value in rss_samples],
    )
    return figures


def cpu_cell(figures: dict[str, Any]) -> str:
    """``server/upstream/generator`` CPU percentages of a step (the ``s/u/g`` column)."""
    names = ("server", "upstream", "generator")
    return "/".join(str(figures.get(f"{name}_cpu_pct", "?")) for name in names)


def progress_bar() -> Progress:
    """A progress bar per phase: requests answered of those scheduled."""
    return Progress(
        TextColumn("{task.description:>18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


# -- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="About a minute: short steps and soak."
    )
    parser.add_argument("--upstream-ms", type=float, default=50, help="Fake upstream latency.")
    parser.add_argument("--start-rate", type=float, default=None, help="First step, req/s.")
    parser.add_argument("--max-rate", type=float, default=2560, help="Highest step tried.")
    parser.add_argument("--step-seconds", type=float, default=None, help="Length of each step.")
    parser.add_argument("--p99-bound-ms", type=float, default=500, help="p99 that ends the knee.")
    parser.add_argument("--soak-seconds", type=float, default=None, help="Length of the soak.")
    parser.add_argument("--warmup-seconds", type=float, default=None, help="Before the soak.")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks/results/load.json")
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("needs 2 CPUs (server on CPU 0, generator and upstream on CPU 1)")
    quick = args.quick
    args.start_rate = args.start_rate or (20 if quick else 10)
    args.step_seconds = args.step_seconds or (3 if quick else 10)
    args.soak_seconds = args.soak_seconds or (30 if quick else 120)
    args.warmup_seconds = args.warmup_seconds or (4 if quick else 10)
    workdir = ROOT / "benchmarks" / "results" / "load.tmp"

    started = time.monotonic()
    knee, steps = find_knee(args, workdir)
    if knee <= 0:
        raise SystemExit(f"the first step ({args.start_rate:g} req/s) already failed: {steps}")
    soak_rate = round(SOAK_FRACTION * knee, 1)
    held = soak(args, soak_rate, workdir)
    verdict = {
        "target": f"zero errors and RSS growth < {TARGET_GROWTH_PCT:g}% over the soak",
        "errors_ok": held["errors"] == 0 and held["server_alive"],
        "memory_ok": held["rss_growth_pct"] < TARGET_GROWTH_PCT,
    }
    verdict["met"] = verdict["errors_ok"] and verdict["memory_ok"]

    table = Table(title=f"Load: {MODEL} through assistant serve, upstream {args.upstream_ms:g} ms")
    columns = ("phase", "offered/s", "achieved/s", "p50 ms", "p99 ms", "errors",
               "CPU % s/u/g", "verdict")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right" if column != "phase" else "left")
    for step in steps:
        table.add_row(
            "step",
            f"{step['offered_rps']:g}",
            f"{step['achieved_rps']:g}",
            f"{step['p50_ms']:.1f}",
            f"{step['p99_ms']:.1f}",
            str(step["errors"]),
            cpu_cell(step),
            step["failed"] or "pass",
        )
    table.add_row(
        f"soak {args.soak_seconds:g} s",
        f"{soak_rate:g}",
        f"{held['achieved_rps']:g}",
        f"{held['p50_ms']:.1f}",
        f"{held['p99_ms']:.1f}",
        str(held["errors"]),
        cpu_cell(held),
        f"RSS {held['rss_start_mb']:g} -> {held['rss_end_mb']:g} MB "
        f"({held['rss_growth_pct']:+.1f}%)",
    )
    console.print(table)
    console.print(f"knee {knee:g} req/s; soak at {soak_rate:g} req/s; target met: {verdict['met']}")
    write_results(
        args.output,
        {
            "mode": "quick" if quick else "full",
            "settings": {
                "model": MODEL,
                "upstream_ms": args.upstream_ms,
                "step_seconds": args.step_seconds,
                "p99_bound_ms": args.p99_bound_ms,
                "soak_fraction": SOAK_FRACTION,
                "soak_seconds": args.soak_seconds,
                "warmup_seconds": args.warmup_seconds,
                "mix": "alternating whole and streamed",
                "cpus": {"server": SERVER_CPU, "generator_and_upstream": LOAD_CPU},
            },
            "steps": steps,
            "knee_rps": knee,
            "soak": held,
            "verdict": verdict,
            "wall_seconds": round(time.monotonic() - started, 1),
        },
    )


if __name__ == "__main__":
    main()
