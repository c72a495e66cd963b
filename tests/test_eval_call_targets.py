"""Targets offer a case's functions and record the calls made: a provider over real HTTP, the
embedded model's grammar-constrained tool path, an agent profile (a call to a case function
ends the turn unexecuted), and the ``eval import bfcl`` / ``eval run`` commands as a user runs
them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from assistant.agent import Assistant
from assistant.types import ModelCallRecord, ToolCallRecord
from evals import Case, build_scorer, load_dataset, resolve_target
from evals.calls.bfcl import CATEGORIES
from tests.bfcl_support import bfcl_wheel
from tests.conftest import clean_environ
from tests.fakes import FakeUpstream
from tests.fakes.behaviours import ToolCalls
from tests.fakes.fixtures import Build, endpoint
from tests.fakes.scripted import (
    ScriptedChatModel,
    ScriptedProvider,
    call_tools,
    reply,
    scripted_assistant,
    tool_call,
)
from tests.test_eval_cli import cli

ROOT = Path(__file__).resolve().parent.parent
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
CASE = Case.model_validate(
    {
        "id": "w",
        "input": "Weather in Paris and Rome?",
        "tools": [WEATHER],
        "expected_calls": [
            {"get_weather": {"city": ["Paris"]}},
            {"get_weather": {"city": ["Rome"]}},
        ],
    }
)


async def _score(name: str, case: Case, output: Any) -> Any:
    return await build_scorer(name).score(case, output)


@pytest.mark.usefixtures("no_proxies")
async def test_a_provider_gets_the_functions_and_its_calls_are_recorded_in_order(
    build: Build, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(
        ToolCalls((("get_weather", '{"city": "Rome"}'), ("get_weather", '{"city": "Paris"}')))
    )
    assistant = build(fake=endpoint(fake_upstream))
    output = await resolve_target("fake:m", assistant).run(CASE)
    assert output.error is None
    sent = fake_upstream.requests[0].body
    assert [tool["function"]["name"] for tool in sent["tools"]] == ["get_weather"]
    assert sent["tools"][0]["function"]["parameters"] == WEATHER["function"]["parameters"]
    (step,) = output.trajectory
    assert isinstance(step, ModelCallRecord) and step.tools_offered == ["get_weather"]
    assert [(c["name"], c["arguments"]) for c in step.tool_calls] == [
        ("get_weather", '{"city": "Rome"}'),
        ("get_weather", '{"city": "Paris"}'),
    ]
    assert output.output.splitlines() == [
        'get_weather({"city": "Rome"})',
        'get_weather({"city": "Paris"})',
    ]
    assert (await _score("call_match", CASE, output)).value == 1.0  # any order


@pytest.mark.usefixtures("no_proxies")
async def test_arguments_that_are_not_json_are_recorded_and_scored_wrong(
    build: Build, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(
        ToolCalls((("get_weather", '{"city": "Paris"}'), ("get_weather", '{"city": "Ro')))
    )
    output = await resolve_target("fake:m", build(fake=endpoint(fake_upstream))).run(CASE)
    assert output.error is None
    records = output.trajectory[0].tool_calls  # type: ignore[union-attr]
    broken = [record for record in records if record["args"] is None]
    assert len(broken) == 1 and broken[0]["arguments"] == '{"city": "Ro'
    score = await _score("call_match", CASE, output)
    assert score.value == 0.0 and "not" in (score.reason or "") and "JSON" in (score.reason or "")


async def test_a_case_without_functions_offers_none_and_records_no_trajectory() -> None:
    model = ScriptedChatModel(script=[reply("Sunny.")])
    assistant = scripted_assistant(ScriptedProvider("p", model))
    output = await resolve_target("p:m", assistant).run(Case(id="c", input="Weather?"))
    assert output.output == "Sunny." and output.trajectory == []
    assert model.bindings == []


def _agent(model: ScriptedChatModel) -> Assistant:
    return scripted_assistant(ScriptedProvider("p", model), profiles={"helper": {"model": "p:m"}})


async def test_an_agent_gets_the_functions_beside_its_own_and_a_call_ends_the_turn() -> None:
    model = ScriptedChatModel(
        script=[
            call_tools(tool_call("echo", {"text": "checking"})),
            call_tools(
                tool_call("get_weather", {"city": "Paris"}),
                tool_call("get_weather", {"city": "Rome"}),
            ),
            reply("never reached: the turn ended at the call"),
        ]
    )
    output = await resolve_target("helper", _agent(model)).run(CASE)
    assert output.error is None
    assert len(model.calls) == 2
    offered = set(model.offered[-1])
    assert {"get_weather", "echo", "current_time"} <= offered
    models = [step for step in output.trajectory if isinstance(step, ModelCallRecord)]
    assert "get_weather" in models[-1].tools_offered and "echo" in models[-1].tools_offered
    ran = [step.name for step in output.trajectory if isinstance(step, ToolCallRecord)]
    assert ran == ["echo"]  # its own tool ran; the case's function did not
    assert (await _score("call_match", CASE, output)).value == 1.0
    assert (await _score("no_call", CASE, output)).value == 0.0
    assert "get_weather" in output.output


async def test_an_agent_that_answers_in_text_made_no_call() -> None:
    model = ScriptedChatModel(script=[call_tools(tool_call("echo", {"text": "x"})), reply("Hm.")])
    case = Case.model_validate({"id": "i", "input": "Hi", "tools": [WEATHER], "expected_calls": []})
    output = await resolve_target("helper", _agent(model)).run(case)
    assert output.output == "Hm."
    assert (await _score("no_call", case, output)).value == 1.0
    assert (await _score("call_match", case, output)).value == 1.0


async def test_without_case_functions_the_agent_runs_as_before() -> None:
    model = ScriptedChatModel(script=[call_tools(tool_call("echo", {"text": "x"})), reply("done")])
    output = await resolve_target("helper", _agent(model)).run(Case(id="c", input="echo x"))
    assert output.output == "done" and output.tools_called == ["echo"]
    assert "get_weather" not in model.offered[-1]


@pytest.mark.slow
async def test_the_embedded_model_calls_through_its_grammar_path(
    local_assistant: Assistant,
) -> None:
    dataset = load_dataset(ROOT / "datasets" / "bfcl" / "multiple.jsonl").head(1)
    (case,) = list(dataset)
    output = await resolve_target("local:smollm2", local_assistant).run(case)
    assert output.error is None
    (step,) = output.trajectory
    assert isinstance(step, ModelCallRecord)
    assert step.tools_offered == [f["name"] for f in case.functions()]
    assert len(step.tool_calls) == 1  # the selection step picked one function, then filled it
    call = step.tool_calls[0]
    assert call["name"] in step.tools_offered and isinstance(call["args"], dict)
    assert set(call["args"]) <= set(
        next(f for f in case.functions() if f["name"] == call["name"])["parameters"]["properties"]
    )  # the fill grammar only allows declared parameters
    score = await _score("call_match", case, output)
    assert score.value in (0.0, 1.0) and score.reason


# -- the CLI ------------------------------------------------------------------------------------


def _cli(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return cli(*args, cwd=cwd, env={**clean_environ(), "COLUMNS": "200"}, timeout=timeout)


def test_import_bfcl_reproduces_the_bundled_datasets(tmp_path: Path) -> None:
    wheel = bfcl_wheel()
    result = _cli("import", "bfcl", "--wheel", str(wheel), "--out", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    bundled = sorted((ROOT / "datasets" / "bfcl").glob("*.jsonl"))
    assert [p.name for p in bundled] == sorted(p.name for p in tmp_path.glob("*.jsonl"))
    for path in bundled:
        assert (tmp_path / path.name).read_text() == path.read_text(), path.name
    counts = {path.stem: len(load_dataset(path)) for path in bundled}
    assert counts == {
        "simple_python": 400,
        "multiple": 200,
        "parallel": 200,
        "parallel_multiple": 200,
        "irrelevance": 240,
    }


@pytest.mark.parametrize(
    ("category", "message"),
    [
        ("multi_turn_base", "multi-turn"),
        ("simple_java", "Java"),
        ("simple_javascript", "JavaScript"),
        ("live_relevance", "any call at all"),
        ("no_such_thing", "unknown BFCL category"),
    ],
)
def test_import_refuses_what_it_cannot_express_in_one_line(
    tmp_path: Path, category: str, message: str
) -> None:
    result = _cli("import", "bfcl", "--wheel", str(bfcl_wheel()), "-c", category, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2
    assert not list(tmp_path.rglob("*.jsonl"))


def test_import_lists_the_categories_and_converts_a_live_one(tmp_path: Path) -> None:
    listed = _cli("import", "bfcl", "--list", cwd=tmp_path)
    assert listed.returncode == 0 and all(name in listed.stdout for name in CATEGORIES)
    result = _cli(
        "import",
        "bfcl",
        "--wheel",
        str(bfcl_wheel()),
        "-c",
        "live_simple",
        "-o",
        "out",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    cases = [json.loads(line) for line in (tmp_path / "out" / "live_simple.jsonl").open()]
    assert len(cases) == 258 and all(case["tags"] == ["bfcl", "live_simple"] for case in cases)


@pytest.mark.slow
def test_a_new_user_runs_bfcl_on_the_embedded_model_and_reads_why_cases_failed(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "runs.duckdb")
    dataset = str(ROOT / "datasets" / "bfcl" / "parallel.jsonl")
    run = _cli(
        "run",
        dataset,
        "--target",
        "local:smollm2",
        "--limit",
        "2",
        "--db",
        db,
        cwd=tmp_path,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    assert "parallel" in run.stderr and "2/2" in run.stderr  # the progress bar's last state
    show = _cli("show", "latest", "--db", db, cwd=tmp_path)
    assert show.returncode == 0, show.stderr
    # the embedded model makes one call where parallel cases expect several: each failed case
    # is explained in one line
    assert "parallel_0" in show.stdout and "expected 2 calls, got" in show.stdout
    assert "By tag" in show.stdout and "bfcl" in show.stdout


def test_show_prints_markup_like_text_as_text(tmp_path: Path) -> None:
    """Ids, answers and reasons are data: ``[/INST]`` or ``[bold]`` is printed, not parsed."""
    (tmp_path / "d.jsonl").write_text(
        '{"id": "[/INST] x", "input": "q", "expected": "a", "scorers": ["exact"]}\n'
    )
    (tmp_path / "markup_target.py").write_text(
        "def answer(case):\n    return '[/INST] the answer [bold]'\n"
    )
    db = str(tmp_path / "r.duckdb")
    run = _cli("run", "d.jsonl", "-t", "py:markup_target:answer", "--db", db, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    show = _cli("show", "latest", "--db", db, cwd=tmp_path)
    assert show.returncode == 0 and "Traceback" not in show.stderr, show.stderr
    assert "[/INST] x" in show.stdout and "[/INST] the answer [bold]" in show.stdout
    missing = _cli("run", "[bold]nope.jsonl", "-t", "x", cwd=tmp_path)
    assert missing.returncode != 0 and "[bold]nope.jsonl" in missing.stderr


@pytest.mark.usefixtures("no_proxies")
async def test_an_agents_cut_off_arguments_are_graded_as_written(
    fake_upstream: FakeUpstream,
) -> None:
    """LangChain completes cut-off JSON when it merges streamed chunks; the agent's trajectory
    keeps what the model wrote, so the call is wrong, as BFCL would grade it."""
    from assistant.agent import build_assistant
    from assistant.config import load_settings

    fake_upstream.script(ToolCalls((("get_weather", '{"city": "Paris"'),)))
    settings = load_settings(
        providers={"compatible": {"fake": endpoint(fake_upstream)}},
        profiles={"helper": {"model": "fake:m", "tools": []}},
    )
    assistant = build_assistant(settings)
    try:
        case = Case.model_validate(
            {"id": "p", "input": "Paris?", "tools": [WEATHER],
             "expected_calls": [{"get_weather": {"city": ["Paris"]}}]}
        )  # fmt: skip
        output = await resolve_target("helper", assistant).run(case)
    finally:
        await assistant.aclose()
    models = [step for step in output.trajectory if isinstance(step, ModelCallRecord)]
    (record,) = models[-1].tool_calls
    assert record["arguments"] == '{"city": "Paris"' and record["args"] is None
    assert (await _score("call_match", case, output)).value == 0.0
    assert (await _score("no_call", case, output)).value == 1.0  # BFCL: not a decodable call


async def test_an_own_tool_called_beside_a_case_function_is_not_graded() -> None:
    model = ScriptedChatModel(
        script=[
            call_tools(
                tool_call("echo", {"text": "x"}), tool_call("get_weather", {"city": "Paris"})
            )
        ]
    )
    case = Case.model_validate(
        {"id": "m", "input": "Paris?", "tools": [WEATHER],
         "expected_calls": [{"get_weather": {"city": ["Paris"]}}]}
    )  # fmt: skip
    output = await resolve_target("helper", _agent(model)).run(case)
    assert (await _score("call_match", case, output)).value == 1.0
