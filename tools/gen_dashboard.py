"""Write the Grafana dashboard ``deploy/grafana/dashboards/assistant.json`` from the panel list.

Run ``uv run python tools/gen_dashboard.py`` after changing a panel; ``tests/test_deploy.py``
checks the committed JSON is what this writes, and that every metric it queries exists.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "dashboards" / "assistant.json"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
RATE = "$__rate_interval"

CHAT = 'route="/v1/chat/completions"'

# (title, unit, kind, [(legend, PromQL)], description); kind: timeseries | stat
PANELS: list[tuple[str, str, str, list[tuple[str, str]], str]] = [
    ("Requests per second by route", "reqps", "timeseries", [
        ("{{route}} {{status}}",
         f"sum by (route, status) (rate(assistant_http_requests_total[{RATE}]))"),
    ], "Every answered HTTP request, by route template and status."),
    ("5xx ratio", "percentunit", "timeseries", [
        ("5xx",
         f'sum(rate(assistant_http_requests_total{{status=~"5.."}}[{RATE}]))'
         f" / sum(rate(assistant_http_requests_total[{RATE}]))"),
    ], "Share of requests answered with a server or upstream error."),
    ("Chat completion latency", "s", "timeseries", [
        (f"p{q}",
         f"histogram_quantile(0.{q}, sum by (le) "
         f"(rate(assistant_http_request_duration_seconds_bucket{{{CHAT}}}[{RATE}])))")
        for q in ("50", "95", "99")
    ], "Arrival to last byte, streams included."),
    ("Time to first token by provider", "s", "timeseries", [
        (f"{{{{provider}}}} p{q}",
         f"histogram_quantile(0.{q}, sum by (le, provider) "
         f"(rate(assistant_model_time_to_first_token_seconds_bucket[{RATE}])))")
        for q in ("50", "95")
    ], "Streamed model calls: start to first text or tool call."),
    ("Model calls by provider and outcome", "reqps", "timeseries", [
        ("{{provider}}:{{model}} {{outcome}}",
         f"sum by (provider, model, outcome) (rate(assistant_model_requests_total[{RATE}]))"),
    ], "Retries included; outcome is ok, cancelled or the error class."),
    ("Errors by provider", "reqps", "timeseries", [
        ("{{provider}} {{outcome}}",
         "sum by (provider, outcome) "
         f'(rate(assistant_model_requests_total{{outcome!~"ok|cancelled"}}[{RATE}]))'),
    ], "Failed model calls per second, by error class."),
    ("Tokens per second", "short", "timeseries", [
        ("{{provider}}:{{model}} {{kind}}",
         f"sum by (provider, model, kind) (rate(assistant_model_tokens_total[{RATE}]))"),
    ], "Prompt and completion tokens the providers reported."),
    ("Cache hit ratio", "percentunit", "stat", [
        ("hit ratio",
         f'sum(rate(assistant_cache_requests_total{{result="hit"}}[{RATE}]))'
         f" / sum(rate(assistant_cache_requests_total[{RATE}]))"),
    ], "Hits over lookups of the response cache."),
    ("Cache lookups", "reqps", "timeseries", [
        ("{{backend}} {{result}}",
         f"sum by (backend, result) (rate(assistant_cache_requests_total[{RATE}]))"),
    ], "Hits, misses and errors (backend down) per second."),
    ("Cache backend up", "none", "stat", [
        ("{{backend}}", "min by (backend) (assistant_cache_up)"),
    ], "1 when every instance reaches its cache backend."),
    ("Open circuit breakers", "none", "stat", [
        ("{{provider}}", "max by (provider) (assistant_breaker_open)"),
    ], "1 while a provider's breaker fails calls fast."),
    ("Fallbacks", "short", "timeseries", [
        ("{{chain}} gave up {{member}}",
         f"sum by (chain, member) (increase(assistant_fallbacks_total[{RATE}]))"),
    ], "Times a chain moved past a failing member."),
    ("Tool calls", "reqps", "timeseries", [
        ("{{tool}} {{outcome}}",
         f"sum by (tool, outcome) (rate(assistant_tool_calls_total[{RATE}]))"),
    ], "Tools the agents ran, by outcome."),
    ("Tool latency p95", "s", "timeseries", [
        ("{{tool}}",
         f"histogram_quantile(0.95, sum by (le, tool) "
         f"(rate(assistant_tool_call_duration_seconds_bucket[{RATE}])))"),
    ], "Seconds per tool call."),
    ("Embedded model queue", "short", "timeseries", [
        ("{{model}}", "sum by (model) (assistant_local_queue_depth)"),
        ("in flight (all requests)", "sum(assistant_http_requests_in_flight)"),
    ], "Jobs waiting for or running on each embedded model."),
    ("Eval cases", "short", "stat", [
        ("{{outcome}}", "sum by (outcome) (increase(assistant_eval_cases_total[$__range]))"),
    ], "Eval cases finished in the time range (runs sharing the metrics directory)."),
]  # fmt: skip


def panel(index: int, spec: tuple[str, str, str, list[tuple[str, str]], str]) -> dict[str, Any]:
    title, unit, kind, targets, description = spec
    width = 12 if kind == "timeseries" else 6
    return {
        "id": index + 1,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": width, "x": (index % 2) * 12, "y": (index // 2) * 8},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}}
        if kind == "timeseries"
        else {"reduceOptions": {"calcs": ["lastNotNull"]}},
        "targets": [
            {
                "refId": chr(ord("A") + n),
                "datasource": DATASOURCE,
                "expr": expr,
                "legendFormat": legend,
            }
            for n, (legend, expr) in enumerate(targets)
        ],
    }


def dashboard() -> dict[str, Any]:
    """The whole dashboard model."""
    return {
        "uid": "assistant-workbench",
        "title": "Assistant Workbench",
        "tags": ["assistant", "llm"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": [panel(i, spec) for i, spec in enumerate(PANELS)],
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(render())
    print(f"wrote {OUT.relative_to(Path.cwd()) if OUT.is_relative_to(Path.cwd()) else OUT}")


if __name__ == "__main__":
    main()
