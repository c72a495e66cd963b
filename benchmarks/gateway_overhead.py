"""Latency the API server adds in front of an OpenAI-compatible upstream, on loopback.

A fake upstream (``tests/fakes/upstream.py``) and ``assistant serve`` run in their own
processes; this process sends the same chat requests straight to the upstream ("direct") and
through the server ("gateway"), alternating A/B in small blocks so drift hits both arms alike,
non-streaming and streaming (the whole stream is read), one at a time and 16 at once. The
added latency is the gateway's percentile minus the direct one.

Targets (2 cores): under 2 ms added at p50 and under 10 ms at p99, at concurrency 16.

    uv run python benchmarks/gateway_overhead.py [--requests 400] [--blocks 8]

Writes benchmarks/results/gateway_overhead.json and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from _results import write_results
from _servers import free_port, percentile, start, wait_for
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
MODEL = "fake:gpt-fake"
BODY = {"model": MODEL, "messages": [{"role": "user", "content": "Say hello."}]}
TARGET_P50_MS, TARGET_P99_MS = 2.0, 10.0


async def one(client: httpx.AsyncClient, url: str, stream: bool) -> float:
    body = {**BODY, "stream": stream}
    started = time.perf_counter()
    if stream:
        async with client.stream("POST", url, json=body) as response:
            async for _ in response.aiter_bytes():
                pass
            assert response.status_code == 200
    else:
        response = await client.post(url, json=body)
        assert response.status_code == 200, response.text
    return (time.perf_counter() - started) * 1000


async def block(
    url: str, n: int, concurrency: int, stream: bool, client: httpx.AsyncClient
) -> list[float]:
    gate = asyncio.Semaphore(concurrency)

    async def timed() -> float:
        async with gate:
            return await one(client, url, stream)

    return list(await asyncio.gather(*(timed() for _ in range(n))))


async def measure(
    direct: str, gateway: str, requests: int, blocks: int, concurrency: int, stream: bool
) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    samples: dict[str, list[float]] = {"direct": [], "gateway": []}
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        for url in (direct, gateway):  # warm-up: connections, imports, first-call caches
            await block(url, 2 * concurrency, concurrency, stream, client)
        per_block = max(1, requests // blocks)
        for index in range(blocks):
            order = [("direct", direct), ("gateway", gateway)]
            for arm, url in order if index % 2 == 0 else order[::-1]:
                samples[arm] += await block(url, per_block, concurrency, stream, client)
    result: dict[str, Any] = {}
    for arm, values in samples.items():
        result[arm] = {
            "p50_ms": round(percentile(values, 0.50), 3),
            "p99_ms": round(percentile(values, 0.99), 3),
            "mean_ms": round(statistics.fmean(values), 3),
            "n": len(values),
        }
    result["added_p50_ms"] = round(result["gateway"]["p50_ms"] - result["direct"]["p50_ms"], 3)
    result["added_p99_ms"] = round(result["gateway"]["p99_ms"] - result["direct"]["p99_ms"], 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="Requests per arm and case.")
    parser.add_argument("--blocks", type=int, default=8, help="A/B blocks per case.")
    args = parser.parse_args()

    upstream_port, gateway_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    upstream = start(
        [sys.executable, "-m", "tests.fakes.upstream", "--port", str(upstream_port)], env, ROOT
    )
    endpoint = {
        "base_url": f"http://127.0.0.1:{upstream_port}/v1",
        "models": ["gpt-fake"],
        "max_retries": 0,
    }
    gateway_env = {
        **env,
        "ASSISTANT_PROVIDERS__COMPATIBLE": json.dumps({"fake": endpoint}),
        "ASSISTANT_PROVIDERS__LOCAL__ENABLED": "false",
        "ASSISTANT_LOG__LEVEL": "WARNING",
    }
    gateway = start(
        [sys.executable, "-m", "assistant.cli", "serve", "--port", str(gateway_port)],
        gateway_env,
        ROOT,
    )
    direct_url = f"http://127.0.0.1:{upstream_port}/v1/chat/completions"
    gateway_url = f"http://127.0.0.1:{gateway_port}/v1/chat/completions"
    cases: list[dict[str, Any]] = []
    try:
        wait_for(f"http://127.0.0.1:{upstream_port}/", upstream)
        wait_for(f"http://127.0.0.1:{gateway_port}/health", gateway)
        for concurrency in (1, 16):
            for stream in (False, True):
                result = asyncio.run(
                    measure(
                        direct_url, gateway_url, args.requests, args.blocks, concurrency, stream
                    )
                )
                cases.append({"concurrency": concurrency, "stream": stream, **result})
    finally:
        for process in (gateway, upstream):
            process.terminate()
            process.wait(timeout=20)

    table = Table(title="Latency added by the gateway (ms)")
    for column in ("concurrency", "stream", "direct p50", "gateway p50", "added p50",
                   "direct p99", "gateway p99", "added p99"):  # fmt: skip
        table.add_column(column, justify="right")
    for case in cases:
        table.add_row(
            str(case["concurrency"]),
            "yes" if case["stream"] else "no",
            f"{case['direct']['p50_ms']:.2f}",
            f"{case['gateway']['p50_ms']:.2f}",
            f"{case['added_p50_ms']:.2f}",
            f"{case['direct']['p99_ms']:.2f}",
            f"{case['gateway']['p99_ms']:.2f}",
            f"{case['added_p99_ms']:.2f}",
        )
    Console().print(table)
    at16 = [case for case in cases if case["concurrency"] == 16]
    verdict = {
        "target_added_p50_ms": TARGET_P50_MS,
        "target_added_p99_ms": TARGET_P99_MS,
        "met": all(
            c["added_p50_ms"] < TARGET_P50_MS and c["added_p99_ms"] < TARGET_P99_MS for c in at16
        ),
    }
    Console().print(f"targets at concurrency 16 met: {verdict['met']}")
    write_results(
        ROOT / "benchmarks" / "results" / "gateway_overhead.json",
        {"requests_per_arm": args.requests, "cases": cases, "verdict": verdict},
    )


if __name__ == "__main__":
    main()
