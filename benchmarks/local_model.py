"""Tokens per second of ``local:smollm2``: llama-cpp-python directly vs the streaming API.

Same prompt, same settings (greedy, fixed ``max_tokens``, same thread count), several rounds,
alternating the two paths so drift on the machine hits both alike. The API path is a real
``assistant serve`` under uvicorn on loopback, read by an httpx streaming client.

Decode speed is completion tokens / (last token - first token); time to first token (TTFT)
is from sending the request to the first content delta, measured separately over many short
(2-token) generations per path, since one round's TTFT varies by tens of ms on a busy 2-core
machine. Both texts are tokenized by the same tokenizer, so token counts match.

Targets (issue 2): the API keeps >= 95% of the direct tokens/s and adds < 5 ms to TTFT.

    uv run python benchmarks/local_model.py [--rounds 5] [--max-tokens 128] [--ttft-rounds 30]

Writes benchmarks/results/local_model.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from _results import write_results
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.providers.llama_engine import bundled_model_path  # noqa: E402
from tests.conftest import clean_environ, free_port, wait_until_healthy  # noqa: E402

PROMPT = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Explain in a few paragraphs how a bicycle works."},
]
N_CTX = 2048
RESULTS = ROOT / "benchmarks" / "results" / "local_model.json"


def direct_round(llama: Any, max_tokens: int) -> dict[str, float]:
    """One streamed generation through ``Llama.create_chat_completion``."""
    started = time.perf_counter()
    first = last = 0.0
    pieces: list[str] = []
    for chunk in llama.create_chat_completion(
        messages=PROMPT, max_tokens=max_tokens, temperature=0.0, stream=True
    ):
        text = chunk["choices"][0]["delta"].get("content")
        if text:
            now = time.perf_counter()
            first = first or now
            last = now
            pieces.append(text)
    return _measure(llama, started, first, last, "".join(pieces))


def api_round(client: httpx.Client, llama: Any, max_tokens: int) -> dict[str, float]:
    """One streamed generation through ``POST /v1/chat/completions``."""
    body = {
        "model": "local:smollm2",
        "messages": PROMPT,
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "stream": True,
    }
    started = time.perf_counter()
    first = last = 0.0
    pieces: list[str] = []
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            choices = json.loads(line[6:]).get("choices") or [{}]
            text = choices[0].get("delta", {}).get("content")
            if text:
                now = time.perf_counter()
                first = first or now
                last = now
                pieces.append(text)
    return _measure(llama, started, first, last, "".join(pieces))


def _measure(llama: Any, started: float, first: float, last: float, text: str) -> dict[str, float]:
    tokens = len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))
    decode_s = max(last - first, 1e-9)
    return {
        "tokens": tokens,
        "ttft_ms": (first - started) * 1000,
        "tokens_per_s": (tokens - 1) / decode_s,
        "total_s": last - started,
    }


def _summary(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {
        "tokens_per_s": statistics.median(r["tokens_per_s"] for r in rounds),
        "ttft_ms": statistics.median(r["ttft_ms"] for r in rounds),
        "tokens": statistics.median(r["tokens"] for r in rounds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument(
        "--ttft-rounds",
        type=int,
        default=30,
        help="Short (2-token) generations per path for time to first token, which is noisy.",
    )
    args = parser.parse_args()
    console = Console()

    from llama_cpp import Llama

    threads = os.cpu_count() or 1
    llama = Llama(
        model_path=str(bundled_model_path()), n_ctx=N_CTX, n_threads=threads, verbose=False
    )

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port)],
        env={**clean_environ(), "ASSISTANT_LOG__LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    direct: list[dict[str, float]] = []
    api: list[dict[str, float]] = []
    direct_ttft: list[float] = []
    api_ttft: list[float] = []
    try:
        wait_until_healthy(base_url, server)
        with httpx.Client(base_url=base_url, timeout=120) as client:
            api_round(client, llama, 8)  # warm-up: the server loads its model
            direct_round(llama, 8)
            with console.status("measuring") as status:
                for index in range(args.rounds):
                    status.update(f"round {index + 1}/{args.rounds}: direct")
                    direct.append(direct_round(llama, args.max_tokens))
                    status.update(f"round {index + 1}/{args.rounds}: API")
                    api.append(api_round(client, llama, args.max_tokens))
                for index in range(args.ttft_rounds):
                    status.update(f"time to first token {index + 1}/{args.ttft_rounds}")
                    direct_ttft.append(direct_round(llama, 2)["ttft_ms"])
                    api_ttft.append(api_round(client, llama, 2)["ttft_ms"])
    finally:
        server.terminate()
        server.wait(timeout=10)

    d, a = _summary(direct), _summary(api)
    # TTFT from the many short generations (medians): one long round per path is too noisy
    d["ttft_ms"], a["ttft_ms"] = statistics.median(direct_ttft), statistics.median(api_ttft)
    ratio = a["tokens_per_s"] / d["tokens_per_s"]
    ttft_added = a["ttft_ms"] - d["ttft_ms"]
    table = Table(
        title=f"local:smollm2, medians of {args.rounds} rounds of {args.max_tokens} tokens "
        f"(TTFT: {args.ttft_rounds} rounds of 2)"
    )
    for column in ("path", "tokens/s", "TTFT ms", "tokens"):
        table.add_column(column, justify="right")
    table.add_row(
        "llama-cpp-python", f"{d['tokens_per_s']:.1f}", f"{d['ttft_ms']:.1f}", f"{d['tokens']:.0f}"
    )
    table.add_row(
        "API (stream)", f"{a['tokens_per_s']:.1f}", f"{a['ttft_ms']:.1f}", f"{a['tokens']:.0f}"
    )
    console.print(table)
    verdict_tps = "meets" if ratio >= 0.95 else "MISSES"
    verdict_ttft = "meets" if ttft_added < 5 else "MISSES"
    console.print(f"API keeps {ratio:.1%} of direct tokens/s ({verdict_tps} the 95% target)")
    console.print(f"API adds {ttft_added:.1f} ms to TTFT ({verdict_ttft} the < 5 ms target)")

    write_results(
        RESULTS,
        {
            "settings": {
                "rounds": args.rounds,
                "ttft_rounds": args.ttft_rounds,
                "max_tokens": args.max_tokens,
                "n_ctx": N_CTX,
                "temperature": 0,
            },
            "direct": {"median": d, "rounds": direct, "ttft_ms": direct_ttft},
            "api": {"median": a, "rounds": api, "ttft_ms": api_ttft},
            "api_tokens_per_s_ratio": ratio,
            "api_ttft_added_ms": ttft_added,
            "targets": {"tokens_per_s_ratio": 0.95, "ttft_added_ms": 5},
        },
    )
    console.print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
