"""``docs/api.md``'s OpenAI compatibility table is true: each row's example is sent to a real
server over a real OpenAI-compatible upstream (the fake, on loopback), and what happens is
what the row says: supported and ignored parameters answer 200, passed-through ones reach the
upstream (under the field the notes name), ignored ones do not, rejected ones are a 400
naming the parameter."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.fixtures import gateway_over
from tests.fakes.upstream import FakeUpstream

ROOT = Path(__file__).resolve().parent.parent
STATUSES = {"supported", "passed through", "ignored", "rejected"}
BASE: dict[str, dict[str, Any]] = {
    "/v1/chat/completions": {
        "model": "fake:gpt-fake",
        "messages": [{"role": "user", "content": "Hi"}],
    },
    "/v1/embeddings": {"model": "fake:gpt-fake", "input": "hi"},
    "/v1/responses": {"model": "fake:gpt-fake", "input": "Hi"},
}
NEEDS: dict[tuple[str, str], dict[str, Any]] = {  # what a parameter is only valid with
    ("/v1/chat/completions", "top_logprobs"): {"logprobs": True},
    ("/v1/chat/completions", "tool_choice"): {
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    },
    ("/v1/responses", "tool_choice"): {"tools": [{"type": "function", "name": "f"}]},
}


@dataclass(frozen=True)
class Row:
    endpoint: str
    parameter: str
    example: Any
    status: str
    notes: str

    @property
    def upstream_field(self) -> str:
        found = re.search(r"as `(\w+)`", self.notes)
        return found.group(1) if found else self.parameter


def table_rows() -> list[Row]:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    block = text.split("<!-- openai-params:start -->")[1].split("<!-- openai-params:end -->")[0]
    rows = []
    for line in block.strip().splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        endpoint, parameter, example, status, notes = cells
        rows.append(
            Row(
                endpoint.strip("`"),
                parameter.strip("`"),
                json.loads(example.strip("`")),
                status,
                notes,
            )
        )
    return rows


ROWS = table_rows()


def test_the_table_covers_every_endpoint_and_names_known_statuses() -> None:
    assert {row.endpoint for row in ROWS} == set(BASE)
    assert {row.status for row in ROWS} <= STATUSES
    assert len(ROWS) >= 40


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream("compat-upstream").start() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with gateway_over(
        upstream, tmp_path_factory.mktemp("compat"), ["gpt-fake"], image_models=["gpt-fake"]
    ) as base_url:
        yield base_url


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.endpoint}:{r.parameter}" for r in ROWS])
def test_each_parameter_does_what_the_table_says(
    row: Row, gateway: str, upstream: FakeUpstream
) -> None:
    upstream.reset()
    needs = NEEDS.get((row.endpoint, row.parameter), {})
    body = {**BASE[row.endpoint], **needs, row.parameter: row.example}
    response = httpx.post(  # no-cache: every row reaches the upstream
        f"{gateway}{row.endpoint}", json=body, headers={"Cache-Control": "no-cache"}, timeout=60
    )
    if row.status == "rejected":
        assert response.status_code == 400, response.text
        assert (response.json()["error"]["param"] or "").startswith(row.parameter)
        assert not upstream.requests
        return
    assert response.status_code == 200, response.text
    (sent,) = [request.body for request in upstream.requests]
    if row.endpoint == "/v1/responses":
        # translated into a chat request: only the fields chat shares reach the upstream
        shared = {"model", "temperature", "top_p", "tools", "tool_choice", "stream"}
        assert row.parameter not in sent or row.parameter in shared
        return
    if row.status == "passed through":
        assert row.upstream_field in sent, sent
        if isinstance(row.example, int | float | str) and row.parameter != "model":
            assert sent[row.upstream_field] == row.example
    elif row.status == "ignored":
        assert row.parameter not in sent, sent
