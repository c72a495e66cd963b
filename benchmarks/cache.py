"""Cache hit vs miss through the API, with the memory and the Redis backend.

``assistant serve`` runs in its own process in front of a fake OpenAI-compatible upstream
(its own process too) that answers after a fixed delay (``--upstream-ms``, like a real
provider). This process sends deterministic requests: a miss asks the upstream, a hit is
served from the cache. Latency is measured by the client; the server-side time comes from the
server's access log (``duration_ms``, JSON logs), which is what the targets are about.

Targets: a hit under 2 ms at p50 server-side with the memory backend, under 3 ms with Redis on
loopback.

    uv run python benchmarks/cache.py [--requests 300] [--upstream-ms 50]

Needs ``redis-server`` (``make test-deps`` installs it). Writes benchmarks/results/cache.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _results import write_results
from _servers import free_port, percentile, start, wait_for
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
TARGETS_MS = {"memory": 2.0, "redis": 3.0}


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values, 0.5), 3),
        "p99_ms": round(percentile(values, 0.99), 3),
        "mean_ms": round(statistics.fmean(values), 3),
    }


def server_times(log: Path) -> dict[str, float]:
    """request id -> server-side duration (ms) from the JSON access log."""
    times = {}
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("logger") == "assistant.server.access" and "request_id" in record:
                times[record["request_id"]] = float(record["duration_ms"])
    return times


def measure(
    backend: str, requests: int, upstream_port: int, redis_url: str | None
) -> dict[str, Any]:
    port = free_port()
    log = Path(tempfile.mkdtemp()) / "server.log"
    endpoint = {
        "base_url": f"http://127.0.0.1:{upstream_port}/v1",
        "models": ["m"],
        "max_retries": 0,
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env |= {
        "ASSISTANT_PROVIDERS__COMPATIBLE": json.dumps({"fake": endpoint}),
        "ASSISTANT_PROVIDERS__LOCAL__ENABLED": "false",
        "ASSISTANT_LOG__JSON_FORMAT": "true",
        "ASSISTANT_CACHE__BACKEND": backend,
    }
    if redis_url:
        env["ASSISTANT_CACHE__REDIS_URL"] = redis_url
    server = start(
        [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port)], env, ROOT, log
    )
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    kinds: dict[str, list[tuple[float, str]]] = {"miss": [], "hit": []}
    try:
        wait_for(f"http://127.0.0.1:{port}/health", server)
        with httpx.Client(timeout=30) as client:
            for index in range(requests):
                question = {"role": "user", "content": f"question {index}"}
                body = {"model": "fake:m", "temperature": 0, "messages": [question]}
                for _ in range(2):  # the first asks the upstream, the second is a hit
                    started = time.perf_counter()
                    response = client.post(url, json=body)
                    elapsed = (time.perf_counter() - started) * 1000
                    kind = response.headers["x-cache"]
                    kinds[kind].append((elapsed, response.headers["x-request-id"]))
    finally:
        server.terminate()
        server.wait(timeout=20)
    on_server = server_times(log)
    result: dict[str, Any] = {}
    for kind, samples in kinds.items():
        client_ms = [ms for ms, _ in samples[5:]]  # the first few warm connections and imports
        server_ms = [on_server[rid] for _, rid in samples[5:] if rid in on_server]
        result[kind] = {
            "client": summary(client_ms),
            "server": summary(server_ms),
            "n": len(client_ms),
        }
    requests_per_s = 1000 / result["hit"]["client"]["mean_ms"]
    result["hit_requests_per_second"] = round(requests_per_s, 1)
    result["target_hit_p50_server_ms"] = TARGETS_MS[backend]
    result["met"] = result["hit"]["server"]["p50_ms"] < TARGETS_MS[backend]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests", type=int, default=300, help="Distinct questions (each asked twice)."
    )
    parser.add_argument("--upstream-ms", type=float, default=50.0, help="The upstream's delay.")
    args = parser.parse_args()
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("error: redis-server not found: `make test-deps` installs it")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    upstream_port, redis_port = free_port(), free_port()
    upstream = start(
        [sys.executable, "-m", "tests.fakes.upstream", "--port", str(upstream_port),
         "--delay", str(args.upstream_ms / 1000)],
        env,
        ROOT,
    )  # fmt: skip
    redis = start(
        [binary, "--port", str(redis_port), "--save", "", "--appendonly", "no"], env, ROOT
    )
    results: dict[str, Any] = {}
    try:
        wait_for(f"http://127.0.0.1:{upstream_port}/", upstream)
        for backend in ("memory", "redis"):
            redis_url = f"redis://127.0.0.1:{redis_port}/0" if backend == "redis" else None
            results[backend] = measure(backend, args.requests, upstream_port, redis_url)
    finally:
        for process in (upstream, redis):
            process.terminate()
            process.wait(timeout=20)

    table = Table(title=f"Cache hit vs miss (upstream delay {args.upstream_ms:g} ms)")
    for column in ("backend", "kind", "server p50", "server p99", "client p50", "client p99"):
        table.add_column(column, justify="right")
    for backend, result in results.items():
        for kind in ("miss", "hit"):
            row = result[kind]
            table.add_row(backend, kind, f"{row['server']['p50_ms']:.2f} ms",
                          f"{row['server']['p99_ms']:.2f} ms", f"{row['client']['p50_ms']:.2f} ms",
                          f"{row['client']['p99_ms']:.2f} ms")  # fmt: skip
    console = Console()
    console.print(table)
    for backend, result in results.items():
        console.print(
            f"{backend}: hits {result['hit_requests_per_second']:.0f} req/s (one client), "
            f"target p50 < {result['target_hit_p50_server_ms']:g} ms server-side met: {result['met']}"
        )
    write_results(
        ROOT / "benchmarks" / "results" / "cache.json",
        {"requests": args.requests, "upstream_ms": args.upstream_ms, "results": results},
    )


if __name__ == "__main__":
    main()
