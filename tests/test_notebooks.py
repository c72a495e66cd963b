"""The notebooks: each marimo notebook executed headless (as ``app.run()`` and as a script) with
its key outputs checked, their helper functions on known inputs, and a check that notebooks
use only the public API. The Jupyter quickstart runs under nbmake (``notebooks/`` is a test
path, see ``pyproject.toml``).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import assistant
import evals
from assistant import Settings
from assistant.types import ModelCallRecord, ToolCallRecord, Usage
from evals import TargetOutput
from tests.conftest import clean_environ

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
MARIMO_NOTEBOOKS = ["prompt_lab", "tool_lab", "provider_arena", "eval_explorer"]
PUBLIC = {"assistant": set(assistant.__all__), "evals": set(evals.__all__)}


def run_notebook(name: str, **defs: Any) -> dict[str, Any]:
    """Execute a marimo notebook headless (script mode) and return its definitions."""
    module = __import__(f"notebooks.{name}", fromlist=["app"])
    _, definitions = module.app.run(defs=defs or None)
    return dict(definitions)


# -- each notebook, executed on the embedded model ---------------------------------------------


@pytest.mark.slow
def test_prompt_lab_compares_two_variants_and_keeps_one_as_a_profile() -> None:
    defs = run_notebook("prompt_lab")
    tries = defs["tries"]
    assert set(tries) == {"A", "B"}
    for out in tries.values():
        assert out.error is None and out.output.strip()
        assert out.usage.completion_tokens > 0 and 0 < (out.ttft_s or 0) <= out.latency_s
    history = pd.DataFrame(defs["history"])
    assert list(history["variant"]) == ["A", "B"]
    assert history["target"].eq("local:smollm2").all() and history["max_tokens"].eq(64).all()
    parsed = Settings.model_validate(tomllib.loads(defs["snippet"]))
    profile = parsed.profiles["my_profile"]
    assert profile.system_prompt.startswith("You are a helpful assistant")
    assert profile.model == "local:smollm2" and profile.max_tokens == 64


@pytest.mark.slow
def test_tool_lab_calls_a_tool_from_its_form_and_draws_the_agent_timeline() -> None:
    defs = run_notebook("tool_lab")
    assert {"calculator", "current_time", "echo"} <= set(defs["tools_table"]["tool"])
    assert defs["picked"].name == "calculator"
    assert defs["tool_arguments"] == {"expression": "17 * 23 + 4"}  # the tool's example
    assert (defs["tool_result"], defs["tool_failed"]) == ("395", False)
    timeline = defs["timeline"]
    assert len(timeline) == len(defs["agent_output"].trajectory) >= 1
    assert timeline["kind"].iloc[0] == "model"
    assert (timeline["end s"] >= timeline["start s"]).all()
    # one BFCL case, graded, with the expected and made calls side by side
    assert defs["fc_case"].id == "simple_python_0"
    (score,) = defs["fc_scores"]
    assert score.name == "call_match" and score.value in (0.0, 1.0) and score.reason
    rows = defs["fc_rows"]
    assert set(rows["param"]) >= {"base", "height"}  # the expected call's parameters
    assert rows["ok"].all() == (score.value == 1.0)


@pytest.mark.slow
def test_provider_arena_asks_every_contender_and_runs_a_mini_eval(tmp_path: Path) -> None:
    db = tmp_path / "arena.duckdb"
    defs = run_notebook("provider_arena", db_path=db)
    models = defs["models"]
    openai_row = models[models["model"] == "openai:gpt-4o-mini"].iloc[0]
    assert not openai_row["available"]
    assert "ASSISTANT_PROVIDERS__OPENAI__API_KEY" in openai_row["to enable"]
    answers = defs["answer_table"]
    assert set(answers["target"]) == {"assistant", "local:smollm2"}
    assert (answers["latency s"] > 0).all() and (answers["cost $"] == 0).all()
    board = defs["board"]
    assert set(board["target"]) == {"assistant", "local:smollm2"}
    assert board[board["scorer"] == "(overall)"]["n_cases"].tolist() == [3, 3]
    assert db.is_file() and defs["summary"].status == "completed"


@pytest.mark.slow
def test_eval_explorer_launches_a_run_and_compares_its_targets(tmp_path: Path) -> None:
    db = tmp_path / "explore.duckdb"
    defs = run_notebook("eval_explorer", db_path=db)
    assert len(defs["runs"]) == 1 and defs["runs"]["status"].iloc[0] == "completed"
    board = defs["board"]
    assert set(board["target"]) == {"assistant", "local:smollm2"}
    assert ((board["ci_low"] <= board["mean"]) & (board["mean"] <= board["ci_high"])).all()
    costs = defs["costs"]
    assert set(costs.columns) >= {"mean", "latency_p50_s", "cost_per_case"}
    diff = defs["diff"]
    assert len(diff) == 3 and diff["prompt"].str.len().gt(0).all()
    assert defs["verdict"] is not None and defs["verdict"].n == 3


@pytest.mark.slow
def test_a_notebook_runs_as_a_plain_script(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(NOTEBOOKS / "tool_lab.py")],
        cwd=tmp_path,
        env=clean_environ(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


# -- helper functions on known inputs ---------------------------------------------------------


def test_tool_forms_round_trip_every_built_in_tool_example() -> None:
    from assistant import build_assistant
    from notebooks.tool_lab import arguments_from, form_for

    built = build_assistant(Settings())
    try:
        for info in built.tools.info():
            form = form_for(info.parameters, info.example)
            assert set(form.value) == set(info.parameters.get("properties", {}))
            assert arguments_from(info.parameters, form.value) == (info.example or {}), info.name
    finally:
        built.close()


def test_form_values_become_typed_arguments() -> None:
    from notebooks.tool_lab import arguments_from

    schema = {
        "properties": {
            "n": {"type": "integer"},
            "items": {"type": "array"},
            "note": {"type": "string"},
        },
        "required": ["n"],
    }
    assert arguments_from(schema, {"n": 3.0, "items": "[1, 2]", "note": ""}) == {
        "n": 3,
        "items": [1, 2],
    }
    with pytest.raises(json.JSONDecodeError):
        arguments_from(schema, {"n": 1, "items": "[1,"})


def test_timeline_lays_steps_end_to_end() -> None:
    from notebooks.tool_lab import timeline_frame

    out = TargetOutput(
        output="42",
        latency_s=0.6,
        trajectory=[
            ModelCallRecord(
                "local:m", 0.2, Usage(10, 5), tool_calls=[{"name": "calculator", "args": {}}]
            ),
            ToolCallRecord("calculator", {"expression": "6*7"}, "c1", "42", 0.1),
            ModelCallRecord("local:m", 0.3, Usage(20, 2), text="42"),
        ],
    )
    frame = timeline_frame(out)
    assert frame["kind"].tolist() == ["model", "tool", "model"]
    assert frame["start s"].tolist() == [0.0, 0.2, 0.3]
    assert frame["end s"].tolist() == [0.2, 0.3, 0.6]
    assert frame["tokens"].tolist() == [15, 0, 22]
    assert frame["detail"].iloc[0] == "calls calculator" and "42" in frame["detail"].iloc[1]
    assert timeline_frame(TargetOutput(output="", latency_s=0)).empty


def test_case_diff_and_tag_filter() -> None:
    from notebooks.eval_explorer import case_diff, with_tags

    frame = pd.DataFrame(
        [
            {"run_id": "r", "target": t, "case_id": c, "prompt": f"q {c}", "output": f"{t} {c}",
             "value": v, "latency_s": 1.0, "tags": tags}
            for t, c, v, tags in [
                ("a", "c1", 1.0, ["x"]), ("b", "c1", 0.0, ["x"]),
                ("a", "c2", 0.0, []), ("b", "c2", 1.0, []),
            ]
        ]
    )  # fmt: skip
    diff = case_diff(frame, {"target": "a"}, {"target": "b"})
    assert diff["case_id"].tolist() == ["c1", "c2"]  # biggest drop first
    assert diff["B - A"].tolist() == [-1.0, 1.0]
    assert diff["output A"].tolist() == ["a c1", "a c2"]
    assert set(with_tags(frame, ["x"])["case_id"]) == {"c1"}
    assert len(with_tags(frame, [])) == 4


# -- only the public API -----------------------------------------------------------------------


def notebook_sources() -> dict[str, str]:
    sources = {path.name: path.read_text() for path in NOTEBOOKS.glob("*.py")}
    for path in NOTEBOOKS.glob("*.ipynb"):
        cells = json.loads(path.read_text())["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        # top-level await is valid in a notebook cell: wrap each cell to parse it
        sources[path.name] = "\n".join(
            "async def _cell():\n" + "\n".join("    " + line for line in cell.splitlines())
            for cell in code
        )
    return sources


def test_every_notebook_is_checked() -> None:
    names = set(notebook_sources())
    assert {f"{n}.py" for n in MARIMO_NOTEBOOKS} | {"quickstart.ipynb"} <= names


@pytest.mark.parametrize("name", sorted(notebook_sources()))
def test_notebooks_import_only_the_public_api(name: str) -> None:
    tree = ast.parse(notebook_sources()[name])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                assert alias.name.split(".")[0] not in PUBLIC or "." not in alias.name, (
                    f"{name}: import {alias.name} reaches past the public API"
                )
        elif isinstance(node, ast.ImportFrom) and node.module:
            root = node.module.split(".")[0]
            if root in PUBLIC:
                assert node.module == root, f"{name}: from {node.module} is not public API"
                for alias in node.names:
                    assert alias.name in PUBLIC[root], f"{name}: {root}.{alias.name} is private"
