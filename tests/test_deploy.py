"""The deployment files: Prometheus config and alert rules pass promtool (rule unit tests
included), the Grafana dashboard is generated and queries only metrics that exist, compose and
the Dockerfile refer to files that exist, and a real Prometheus scrapes a real server and runs
every dashboard query."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.metrics_core import Metric

from assistant.metrics import Metrics
from tests.conftest import clean_environ, free_port, serving

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "assistant.json"
PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")

# PromQL words that look like metric names but are functions, keywords or label names
_NOT_METRICS = {"by", "without", "on", "ignoring", "group_left", "group_right", "le", "bool"}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None, "promtool is missing: run `make test-deps`"
    return subprocess.run([PROMTOOL, *args], cwd=DEPLOY, capture_output=True, text=True, timeout=60)


def test_prometheus_config_and_alert_rules_pass_promtool() -> None:
    config = promtool("check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr
    rules = promtool("check", "rules", "alerts.yml")
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "8 rules found" in rules.stdout


def test_the_alerts_fire_when_they_should() -> None:
    tested = promtool("test", "rules", "alerts.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_dashboard_is_what_the_generator_writes() -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import gen_dashboard
    finally:
        sys.path.remove(str(ROOT / "tools"))
    assert DASHBOARD.read_text() == gen_dashboard.render(), "run tools/gen_dashboard.py"


def dashboard_queries() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in board["panels"] for target in panel["targets"]]


def panel_query(title: str) -> str:
    board = json.loads(DASHBOARD.read_text())
    (panel,) = [panel for panel in board["panels"] if panel["title"] == title]
    expr: str = panel["targets"][0]["expr"]
    return expr


def alert_queries() -> list[str]:
    rules = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def queried_metrics(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers before ``{``, ``[`` or ``)``."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}", "{}", without_strings)
    without_labels = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", without_labels
    )
    names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?=[{\[)])", without_labels))
    return names - _NOT_METRICS - {"$__rate_interval", "$__range"}


def exposed_names() -> set[str]:
    """Every sample name the workbench's instruments can expose."""
    names = {"up"}
    for family in Metrics().registry.collect():
        metric: Metric = family
        if metric.type == "counter":
            names |= {f"{metric.name}_total", f"{metric.name}_created"}
        elif metric.type == "histogram":
            names |= {f"{metric.name}_{s}" for s in ("bucket", "count", "sum", "created")}
        else:
            names.add(metric.name)
    return names


def test_every_metric_the_dashboard_and_alerts_query_exists() -> None:
    queries = dashboard_queries() + alert_queries()
    used = set().union(*(queried_metrics(q) for q in queries))
    assert {"assistant_cache_up", "assistant_breaker_open", "up"} <= used  # the parser works
    assert used - exposed_names() == set()
    assert len(dashboard_queries()) >= 15


def test_the_dashboard_covers_what_operators_look_at() -> None:
    titles = {panel["title"] for panel in json.loads(DASHBOARD.read_text())["panels"]}
    for wanted in ("Requests per second", "latency", "Tokens", "Cache hit ratio",
                   "Errors by provider", "Tool calls"):  # fmt: skip
        assert any(wanted.lower() in title.lower() for title in titles), wanted


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def test_compose_runs_the_whole_stack_from_files_that_exist() -> None:
    services = compose()["services"]
    assert set(services) == {"api", "redis", "prometheus", "grafana", "openwebui"}
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
    build = services["api"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()
    env = services["api"]["environment"]
    assert env["ASSISTANT_CACHE__BACKEND"] == "redis"
    for setting in ("CACHE__REDIS_URL", "SERVER__REDIS_URL", "SESSIONS__REDIS_URL"):
        assert env[f"ASSISTANT_{setting}"].startswith("redis://redis:6379/")
    assert services["openwebui"]["environment"]["OPENAI_API_BASE_URL"] == "http://api:8000/v1"
    scrape = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())["scrape_configs"][0]
    assert scrape["static_configs"][0]["targets"] == ["api:8000"]


def test_the_dockerfile_copies_what_exists_and_serves() -> None:
    text = (ROOT / "Dockerfile").read_text()
    for line in text.splitlines():
        if line.startswith("COPY") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
    assert 'CMD ["assistant", "serve"]' in text and "uv sync --locked" in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "assistant" not in ignored and ".venv" in ignored


@pytest.fixture
def prometheus_scraping(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A served API and a real Prometheus scraping it every second with the alert rules;
    yields both base URLs."""
    assert PROMETHEUS is not None, "prometheus is missing: run `make test-deps`"
    with serving(tmp_path, clean_environ()) as (api, _):
        port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(DEPLOY / "alerts.yml")],
            "scrape_configs": [
                {"job_name": "assistant", "static_configs": [{"targets": [api[len("http://") :]]}]}
            ],
        }
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        with (tmp_path / "prometheus.log").open("wb") as log:
            process = subprocess.Popen(
                [PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}",
                 f"--storage.tsdb.path={tmp_path / 'data'}",
                 f"--web.listen-address=127.0.0.1:{port}"],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                yield api, f"http://127.0.0.1:{port}"
            finally:
                process.terminate()
                process.wait(timeout=20)


def query(prometheus: str, expr: str) -> dict[str, Any]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10)
    body: dict[str, Any] = answer.json()
    return body


def wait_for(prometheus: str, expr: str, failure: str) -> None:
    """Poll Prometheus until ``expr`` has a result (bounded: a scrape is every second)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if query(prometheus, expr)["data"]["result"]:
                return
        except (httpx.TransportError, ValueError, KeyError):
            pass  # not listening yet
        assert time.monotonic() < deadline, failure
        time.sleep(0.25)


@pytest.mark.slow
def test_a_real_prometheus_scrapes_the_api_and_runs_every_query(
    prometheus_scraping: tuple[str, str],
) -> None:
    api, prometheus = prometheus_scraping
    # Rates need a counter's series seen before it grows: one request of each kind first,
    # then a scrape, then the traffic the queries are checked on.
    ask = {"model": "local:smollm2", "max_tokens": 4, "temperature": 0, "stream": True,
           "messages": [{"role": "user", "content": "Hi"}]}  # fmt: skip
    with httpx.Client(base_url=api, timeout=60) as client:
        assert client.get("/v1/models").status_code == 200
        assert client.post("/v1/chat/completions", json=ask).headers["x-cache"] == "miss"
        wait_for(
            prometheus,
            'assistant_cache_requests_total{result="miss"}',
            "Prometheus never scraped the API",
        )
        for _ in range(3):
            assert client.get("/v1/models").status_code == 200
        assert client.post("/v1/chat/completions", json=ask).headers["x-cache"] == "hit"
        assert client.post("/v1/chat/completions", json=ask).headers["x-cache"] == "hit"
    wait_for(
        prometheus,
        'sum(increase(assistant_http_requests_total{route="/v1/models"}[1m])) > 0',
        "Prometheus never saw the traffic",
    )

    for expr in dashboard_queries() + alert_queries():
        concrete = expr.replace("$__rate_interval", "1m").replace("$__range", "5m")
        answer = query(prometheus, concrete)
        assert answer["status"] == "success", (expr, answer)
    hit_ratio = panel_query("Cache hit ratio").replace("$__rate_interval", "1m")
    assert query(prometheus, hit_ratio)["data"]["result"], "the hit ratio should have a value"
    rules = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    assert [r["health"] for g in rules for r in g["rules"]] == ["ok"] * 8
