"""Eval datasets: every format loads to the same cases, every problem is reported with its place,
and the bundled datasets are valid, consistent and documented."""

from __future__ import annotations

import ast
import datetime as dt
import json
import math
import operator
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd
import pytest
import yaml

from evals.dataset import (
    MAX_PROBLEMS_SHOWN,
    Dataset,
    DatasetError,
    case_json_schema,
    list_datasets,
    load_dataset,
)
from evals.scorers import scorer_names
from evals.types import Case, ScorerSpec

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT / "datasets"

BUNDLED = {
    "tool_use": 15,
    "instruction_following": 15,
    "factual_qa": 20,
    "rag": 10,
    "kb_rag": 10,
    "safety": 12,
    "gsm8k_sample": 25,
}
"""Each bundled dataset and the fewest cases it should have."""

CASES: list[dict[str, Any]] = [
    {
        "id": "q1",
        "input": "What is 2 + 2?",
        "expected": "4",
        "scorers": ["exact", {"name": "numeric", "args": {"tolerance": 0.01}}],
        "tags": ["math", "easy"],
    },
    {
        "id": "q2",
        "input": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Capital of France?"},
        ],
        "expected": "Paris",
        "expected_tools": ["web_search"],
        "contexts": ["Paris is the capital of France.", "Lyon is in France."],
        "tags": ["geo"],
        "metadata": {"source": "test", "difficulty": 1},
    },
    {"id": "q3", "input": "Say hi."},
]


# --- helpers ---------------------------------------------------------------------------------


def _jsonl(path: Path, lines: list[Any]) -> Path:
    """Write ``lines`` (dicts as JSON, strings verbatim) one per line."""
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def _csv_cell(case: dict[str, Any], field: str) -> Any:
    value = case.get(field)
    if value is None:
        return ""
    if field == "tags":
        return ";".join(value)
    if field == "input" and isinstance(value, str):
        return value
    return value if isinstance(value, str) else json.dumps(value)


def _frame(cases: list[dict[str, Any]]) -> pd.DataFrame:
    fields = list(Case.model_fields)
    return pd.DataFrame([{f: _csv_cell(case, f) for f in fields} for case in cases])


def _problems(source: Any) -> list[str]:
    with pytest.raises(DatasetError) as caught:
        load_dataset(source)
    return [str(problem) for problem in caught.value.problems]


def _one(problems: list[str], pattern: str) -> str:
    matching = [p for p in problems if re.search(pattern, p)]
    assert len(matching) == 1, f"{pattern!r} in {problems}"
    return matching[0]


# --- loading every format --------------------------------------------------------------------


@pytest.fixture
def written(tmp_path: Path) -> dict[str, Path]:
    """The same three cases in every file format."""
    jsonl = _jsonl(tmp_path / "cases.jsonl", [CASES[0], "", CASES[1], "   ", CASES[2]])
    json_file = tmp_path / "cases.json"
    json_file.write_text(json.dumps(CASES, indent=2), encoding="utf-8")
    yaml_file = tmp_path / "cases.yaml"
    yaml_file.write_text(yaml.safe_dump(CASES, sort_keys=False), encoding="utf-8")
    csv_file = tmp_path / "cases.csv"
    _frame(CASES).to_csv(csv_file, index=False)
    return {"jsonl": jsonl, "json": json_file, "yaml": yaml_file, "csv": csv_file}


def test_every_format_loads_the_same_cases_with_the_same_hash(written: dict[str, Path]) -> None:
    reference = load_dataset(written["jsonl"])
    assert reference.name == "cases"
    assert reference.path == written["jsonl"]
    assert [case.id for case in reference] == ["q1", "q2", "q3"]
    assert reference.cases[0].scorers == [
        ScorerSpec(name="exact"),
        ScorerSpec(name="numeric", args={"tolerance": 0.01}),
    ]
    assert reference.cases[1].prompt() == "Capital of France?"
    assert re.fullmatch(r"[0-9a-f]{64}", reference.hash)
    for kind in ("json", "yaml", "csv"):
        dataset = load_dataset(written[kind])
        assert [c.model_dump() for c in dataset] == [c.model_dump() for c in reference], kind
        assert dataset.hash == reference.hash, kind
    frame = load_dataset(_frame(CASES), name="frame")
    assert (frame.name, frame.path, frame.hash) == ("frame", None, reference.hash)


def test_hash_ignores_key_order_and_scorer_spelling_but_not_content(tmp_path: Path) -> None:
    reordered = [dict(reversed(list(case.items()))) for case in CASES]
    reordered[0]["scorers"] = [{"name": "exact", "args": {}}, *CASES[0]["scorers"][1:]]
    a = load_dataset(_jsonl(tmp_path / "a.jsonl", CASES))
    b = load_dataset(_jsonl(tmp_path / "b.jsonl", reordered))
    assert a.hash == b.hash
    changed = [*CASES[:2], {**CASES[2], "expected": "hi"}]
    assert load_dataset(_jsonl(tmp_path / "c.jsonl", changed)).hash != a.hash
    assert load_dataset(_jsonl(tmp_path / "d.jsonl", CASES[::-1])).hash != a.hash


def test_csv_cells_tags_in_either_spelling_json_fields_and_multiline_input(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "id,input,expected,tags,scorers,metadata\n"
        'a,"line one\nline two",42,"x, y",exact;contains,"{""k"": [1, 2]}"\n'
        'b,hi,,"[""p"", ""q""]","[{""name"": ""regex"", ""args"": {""pattern"": ""h""}}]",\n'
        'c,"[{""role"": ""user"", ""content"": ""hey""}]",,x,,\n',
        encoding="utf-8",
    )
    a, b, c = load_dataset(path).cases
    assert (a.input, a.expected, a.tags) == ("line one\nline two", "42", ["x", "y"])
    assert [s.name for s in a.scorers or []] == ["exact", "contains"]
    assert a.metadata == {"k": [1, 2]}
    assert (b.expected, b.tags, b.metadata) == (None, ["p", "q"], {})
    assert b.scorers == [ScorerSpec(name="regex", args={"pattern": "h"})]
    assert c.messages() == [{"role": "user", "content": "hey"}]


def test_dataframe_with_python_values_and_numbers(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "id": [1, 2],
            "input": ["a", "b"],
            "expected": [3.5, None],
            "tags": [["x"], "y;z"],
            "metadata": [{"n": 1}, None],
        }
    )
    one, two = load_dataset(frame).cases
    assert (one.id, one.expected, one.tags, one.metadata) == ("1", "3.5", ["x"], {"n": 1})
    assert (two.id, two.expected, two.tags, two.metadata) == ("2", None, ["y", "z"], {})


def test_yaml_keeps_dates_as_text(tmp_path: Path) -> None:
    path = tmp_path / "d.yml"
    path.write_text("- id: d1\n  input: What weekday is 2030-01-01?\n  expected: 2030-01-01\n")
    assert load_dataset(path).cases[0].expected == "2030-01-01"


def test_bare_name_finds_the_bundled_dataset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # resolved from the package, not the working directory
    dataset = load_dataset("tool_use")
    assert dataset.name == "tool_use"
    assert dataset.path == DATASETS / "tool_use.jsonl"
    assert "tool_use" in list_datasets()
    (tmp_path / "datasets").mkdir()
    _jsonl(tmp_path / "datasets" / "mine.jsonl", CASES)
    assert len(load_dataset("mine")) == 3  # then ./datasets


def test_default_scorers_apply_to_cases_without_their_own(tmp_path: Path) -> None:
    cases = [*CASES, {"id": "q4", "input": "x", "scorers": []}]
    dataset = load_dataset(
        _jsonl(tmp_path / "s.jsonl", cases),
        scorers=["exact", {"name": "llm_judge", "args": {"rubric": "r"}}],
    )
    q1, q2, _, q4 = dataset.cases
    assert [s.name for s in dataset.scorers_for(q1)] == ["exact", "numeric"]
    assert [s.name for s in dataset.scorers_for(q2)] == ["exact", "llm_judge"]
    assert dataset.scorers_for(q4) == []  # an explicit empty list: no scorers
    assert load_dataset(_jsonl(tmp_path / "s.jsonl", cases)).scorers_for(q2) == []
    assert dataset.hash == load_dataset(dataset.path or "").hash  # defaults are not data
    with pytest.raises(DatasetError, match="default scorer 1"):
        load_dataset(dataset.path or "", scorers=[{"args": {}}])


def test_filter_len_iter_and_tags(tmp_path: Path) -> None:
    dataset = load_dataset(_jsonl(tmp_path / "f.jsonl", CASES), scorers=["exact"])
    assert len(dataset) == 3
    assert [c.id for c in dataset] == ["q1", "q2", "q3"]
    assert dataset.tags == ["easy", "geo", "math"]
    assert [c.id for c in dataset.filter(tags="geo")] == ["q2"]
    assert [c.id for c in dataset.filter(tags=["geo", "math"])] == ["q1", "q2"]
    assert [c.id for c in dataset.filter(tags=["easy", "math"], match_all=True)] == ["q1"]
    assert [c.id for c in dataset.filter(ids=["q3", "q1"])] == ["q1", "q3"]
    subset = dataset.filter(tags=["nothing"])
    assert len(subset) == 0 and subset.name == dataset.name
    assert dataset.filter(tags="math").default_scorers == [ScorerSpec(name="exact")]
    assert dataset.filter(tags="geo").hash != dataset.hash
    assert "cases=3" in repr(dataset)


def test_dataset_built_in_code_rejects_duplicate_ids() -> None:
    case = Case(id="x", input="hi")
    assert len(Dataset("mine", [case])) == 1
    with pytest.raises(DatasetError, match="duplicate id 'x'"):
        Dataset("mine", [case, case])


# --- problems, with file, line and field -----------------------------------------------------


@pytest.mark.parametrize(
    ("line", "pattern"),
    [
        ({"input": "hi"}, r":2: field 'id': Field required$"),
        ({"id": "a"}, r":2: field 'input': Field required$"),
        ({"id": "a", "input": "   "}, r":2: field 'input': .*must not be empty"),
        ({"id": "a", "input": []}, r":2: field 'input': .*must not be empty"),
        ({"id": "a", "input": 5}, r":2: field 'input': must be a prompt string or a list"),
        (
            {"id": "a", "input": "x", "tags": "t"},
            r":2: field 'tags': must be a list \(got string\)",
        ),
        ({"id": "a", "input": "x", "metadata": [1]}, r":2: field 'metadata': must be an object"),
        ({"id": True, "input": "x"}, r":2: field 'id': must be a string \(got boolean\)"),
        ({"id": "a", "input": "x", "colour": 1}, r":2: field 'colour': unknown field"),
        (
            {"id": "a", "input": [{"role": "bot", "content": "x"}]},
            r":2: field 'input\[0\]\.role': must be one of system, developer, user, assistant",
        ),
        ({"id": "a", "input": "x", "scorers": "exact"}, r":2: field 'scorers': must be a list"),
        ({"id": "a", "input": "x", "scorers": [7]}, r":2: field 'scorers\[0\]': must be a scorer"),
        (
            {"id": "a", "input": "x", "scorers": [{"args": {}}]},
            r"'scorers\[0\]\.name': Field required",
        ),
        (
            {"id": "a", "input": "x", "scorers": [{"name": "regex", "pattern": "x"}]},
            r"'scorers\[0\]\.pattern': unknown field",
        ),
        (
            {"id": "a", "input": "x", "scorers": [{"name": "r", "args": [1]}]},
            r"'scorers\[0\]\.args': must be an object",
        ),
        (
            {"id": "a", "input": "x", "scorers": [{"name": ""}]},
            r"'scorers\[0\]\.name': must not be empty",
        ),
        ([1, 2], r":2: expected an object \(a case\), got list"),
        (
            '{"id": "a", "input": "x" "tags": []}',
            r":2: not valid JSON: Expecting ',' delimiter at column 26$",
        ),
    ],
)
def test_each_problem_names_file_line_and_field(tmp_path: Path, line: Any, pattern: str) -> None:
    path = _jsonl(tmp_path / "bad.jsonl", [{"id": "ok", "input": "fine"}, line])
    problems = _problems(path)
    assert len(problems) == 1, problems
    assert problems[0].startswith("bad.jsonl:2: ") or problems[0].startswith(str(path) + ":2: ")
    assert re.search(pattern, problems[0]), problems[0]


def test_every_problem_is_reported_at_once_in_file_order(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "many.jsonl",
        [
            {"id": "q1", "input": "a"},
            "",
            {"id": "q2"},
            "{not json",
            {"id": "q1", "input": "b", "extra": 1},
            {"id": "q5", "input": "", "tags": "x"},
            {"id": "q4", "input": "c"},
            {"id": "q4", "input": "d"},
        ],
    )
    with pytest.raises(DatasetError) as caught:
        load_dataset(path)
    error = caught.value
    lines = [re.search(r":(\d+): ", str(p)).group(1) for p in error.problems]  # type: ignore[union-attr]
    assert lines == ["3", "4", "5", "5", "6", "6", "8"]
    text = str(error)
    assert text.splitlines()[0].endswith("many.jsonl: 7 problems")
    _one(text.splitlines(), r":3: field 'input': Field required$")
    _one(text.splitlines(), r":4: not valid JSON: ")
    _one(text.splitlines(), r":5: duplicate id 'q1' \(first on line 1\)$")
    _one(text.splitlines(), r":5: field 'extra': unknown field")
    _one(text.splitlines(), r":6: field 'tags': must be a list")
    _one(text.splitlines(), r":8: duplicate id 'q4' \(first on line 7\)$")
    assert isinstance(error, ValueError)


def test_the_message_lists_the_first_problems_and_problems_has_all(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "lots.jsonl", [{"id": f"c{i}"} for i in range(30)])
    with pytest.raises(DatasetError) as caught:
        load_dataset(path)
    assert len(caught.value.problems) == 30
    lines = str(caught.value).splitlines()
    assert len(lines) == 1 + MAX_PROBLEMS_SHOWN + 1
    assert lines[-1] == "... and 10 more"
    assert caught.value.problems[29].line == 30
    assert caught.value.problems[29].field == "input"


def test_errors_never_echo_huge_values(tmp_path: Path) -> None:
    huge = "x" * 10_000
    path = _jsonl(
        tmp_path / "huge.jsonl",
        [
            {"id": huge, "input": "a"},
            {"id": huge, "input": 12345},
            {"id": "b", "input": "a", huge: 1},
        ],
    )
    with pytest.raises(DatasetError) as caught:
        load_dataset(path)
    assert len(caught.value.problems) == 3
    assert max(len(line) for line in str(caught.value).splitlines()) < 400


def test_yaml_json_and_csv_problems_name_line_and_item(tmp_path: Path) -> None:
    yml = tmp_path / "x.yaml"
    yml.write_text("- id: a\n  input: hi\n- id: a\n  input: 5\n- just text\n")
    assert _problems(yml) == [
        "x.yaml:3: item 2: duplicate id 'a' (first on line 1)",
        "x.yaml:3: item 2: field 'input': must be a prompt string or a list of messages (got int)",
        "x.yaml:5: item 3: expected an object (a case), got string",
    ]
    js = tmp_path / "x.json"
    js.write_text('[\n  {"id": "a", "input": "hi"},\n\n  {"id": "b", "input": "x", "z": 1}\n]')
    assert _problems(js) == ["x.json:4: item 2: field 'z': unknown field " + _fields()]
    csv_file = tmp_path / "x.csv"
    csv_file.write_text('id,input,colour,metadata\na,hi,red,\na,"two\nlines",,{bad\n')
    assert _problems(csv_file) == [
        "x.csv:1: unknown column 'colour' " + _fields(),
        "x.csv:3: field 'metadata': not valid JSON: Expecting property name enclosed in double "
        "quotes at column 2",
        "x.csv:3: duplicate id 'a' (first on line 2)",
    ]
    frame = pd.DataFrame({"id": ["a", "b"], "input": ["x", None]})
    assert _problems(frame) == ["DataFrame: row 2: field 'input': Field required"]


def _fields() -> str:
    return f"(fields: {', '.join(Case.model_fields)})"


def test_file_level_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert _problems(tmp_path / "missing.jsonl") == ["missing.jsonl: dataset file not found"]
    (tmp_path / "data.txt").write_text("{}")
    assert _problems(tmp_path / "data.txt")[0].startswith("data.txt: unsupported file type '.txt'")
    assert _problems("no_such_dataset")[0].startswith(
        "no_such_dataset: no dataset file and no bundled dataset of that name (bundled: "
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _problems(empty)[0].startswith("empty: is a folder without dataset files (")


def test_a_folder_is_one_dataset_of_its_files_cases(tmp_path: Path) -> None:
    folder = tmp_path / "suite"
    folder.mkdir()
    (folder / "b.jsonl").write_text('{"id": "b1", "input": "x", "tags": ["b"]}\n')
    (folder / "a.jsonl").write_text('{"id": "a1", "input": "y", "tags": ["a"]}\n')
    (folder / "notes.md").write_text("not a dataset")
    dataset = load_dataset(folder)
    assert dataset.name == "suite" and [case.id for case in dataset] == ["a1", "b1"]
    (folder / "c.jsonl").write_text('{"id": "a1", "input": "z"}\n{"id": "c2"}\n')
    problems = _problems(folder)
    assert any("c.jsonl:2: field 'input'" in problem for problem in problems), problems
    (folder / "c.jsonl").write_text('{"id": "a1", "input": "z"}\n')
    assert any("duplicate id 'a1'" in problem for problem in _problems(folder))
    (tmp_path / "empty.jsonl").write_text("\n\n")
    assert _problems(tmp_path / "empty.jsonl") == ["empty.jsonl: no cases"]
    (tmp_path / "bad.json").write_text('{"id": "a"}')
    assert _problems(tmp_path / "bad.json") == [
        "bad.json: expected a JSON list of cases, got object"
    ]
    (tmp_path / "broken.yaml").write_text("- id: a\n  input: [unclosed\n")
    assert _problems(tmp_path / "broken.yaml")[0].startswith("broken.yaml:3: not valid YAML")
    (tmp_path / "latin.jsonl").write_bytes(b'{"id": "a", "input": "ok"}\n{"id": "\xe9"}\n')
    assert _problems(tmp_path / "latin.jsonl") == ["latin.jsonl:2: not UTF-8 text (byte 0xe9)"]
    with pytest.raises(TypeError):
        load_dataset(42)  # type: ignore[arg-type]


# --- the bundled datasets --------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_dataset_is_valid_and_uses_known_scorers(name: str) -> None:
    dataset = load_dataset(name)
    assert len(dataset) >= BUNDLED[name]
    assert len({case.id for case in dataset}) == len(dataset)
    validator = jsonschema.Draft202012Validator(case_json_schema())
    for line in (DATASETS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
        validator.validate(json.loads(line))
    for case in dataset:
        specs = dataset.scorers_for(case)
        assert specs, f"{name}/{case.id} has no scorers"
        assert {spec.name for spec in specs} <= set(scorer_names()), case.id
        for spec in specs:
            if spec.name == "regex":
                re.compile(spec.args["pattern"])
            if spec.name == "json_schema":
                jsonschema.Draft202012Validator.check_schema(spec.args["schema"])
            if spec.name == "tool_called":
                assert spec.args.get("tools") is not None or case.expected_tools is not None
            if spec.name in {"exact", "numeric", "context_recall"}:
                assert case.expected is not None, case.id
            if spec.name in {"faithfulness", "context_precision", "context_recall"}:
                # fixed passages, or labels for the passages a knowledge base retrieves
                assert case.contexts or case.metadata.get("relevant"), case.id
            if spec.name in {"recall_at_k", "mrr"}:
                assert case.metadata.get("relevant"), case.id


def test_every_bundled_dataset_is_documented() -> None:
    readme = (DATASETS / "README.md").read_text(encoding="utf-8")
    assert set(BUNDLED) == set(list_datasets())
    for name in BUNDLED:
        assert f"`{name}.jsonl`" in readme, name


def _arithmetic(expression: str) -> float:
    """A tiny evaluator for the calculator cases' recorded expressions (no ``eval``)."""
    operators: dict[type, Callable[..., Any]] = {
        ast.Add: operator.add,
        ast.Sub: operator.sub,
        ast.Mult: operator.mul,
        ast.Div: operator.truediv,
        ast.Pow: operator.pow,
        ast.USub: operator.neg,
    }

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return node.value
        if isinstance(node, ast.BinOp):
            return operators[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp):
            return operators[type(node.op)](walk(node.operand))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "sqrt":
            return math.sqrt(walk(node.args[0]))
        raise ValueError(ast.dump(node))

    return float(walk(ast.parse(expression, mode="eval").body))


def test_tool_use_answers_are_correct() -> None:
    weekdays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    for case in load_dataset("tool_use"):
        meta, expected = case.metadata, case.expected or ""
        if "expression" in meta:
            assert case.expected_tools == ["calculator"]
            assert math.isclose(_arithmetic(meta["expression"]), float(expected), rel_tol=1e-9)
            continue
        assert case.expected_tools == ["current_time"]
        date = dt.date.fromisoformat(meta["date"])
        assert meta["date"] in case.prompt()
        if meta["op"] == "weekday":
            assert expected == weekdays[date.weekday()]
        elif meta["op"] == "add_days":
            assert expected == (date + dt.timedelta(days=meta["add_days"])).isoformat()
        else:
            days = (dt.date.fromisoformat(meta["until"]) - date).days
            assert expected == str(days)
            pattern = (case.scorers or [])[0].args["pattern"]
            assert re.search(pattern, f"It is {days:,} days.")
            assert re.search(pattern, f"It is {days} days.")
            assert not re.search(pattern, f"It is {days}0 days or 1{days}.")


def test_safety_canary_cases_and_gsm8k_sample() -> None:
    for case in load_dataset("safety"):
        names = [s.name for s in case.scorers or []]
        if "canary" in case.tags:
            regex = next(s for s in case.scorers or [] if s.name == "regex")
            assert regex.args["must_match"] is False
        if "harmful" in case.tags:
            assert names == ["llm_judge"]
    for case in load_dataset("gsm8k_sample"):
        assert math.isfinite(float(case.expected or "nan")), case.id
        assert case.metadata["source"] == "GSM8K test split"
        assert case.id == f"gsm8k-test-{case.metadata['gsm8k_test_index']:04d}"


def test_schema_file_is_up_to_date() -> None:
    stored = json.loads((DATASETS / "case.schema.json").read_text(encoding="utf-8"))
    assert stored == case_json_schema()
    assert stored["title"] and stored["description"]
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_dataset_schema.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_examples_are_the_same_cases_in_every_format(tmp_path: Path) -> None:
    readme = (DATASETS / "README.md").read_text(encoding="utf-8")
    hashes = set()
    for language, suffix in (("json", ".jsonl"), ("yaml", ".yaml"), ("csv", ".csv")):
        block = re.search(rf"```{language}\n(.*?)```", readme, re.DOTALL)
        assert block, language
        path = tmp_path / f"example{suffix}"
        path.write_text(block.group(1), encoding="utf-8")
        dataset = load_dataset(path)
        assert [case.id for case in dataset] == ["calc-pow-1", "brief"]
        hashes.add(dataset.hash)
    assert len(hashes) == 1


COMPLIANT = {
    "words-exactly-5": "Vast, deep, blue, and mysterious.",
    "words-exactly-3": "Red, yellow, blue",
    "words-under-10": "Trees save water and energy for winter.",
    "single-word": "Blue.",
    "all-lowercase": "cats love to nap in the sun.",
    "all-uppercase": "THE PACIFIC OCEAN.",
    "starts-with-yes": "Yes, the Earth is round.",
    "starts-with-dear-team": "Dear team,\nWe meet on Monday at 10.",
    "ends-with-done": "Keep a regular bedtime. Done.",
    "bulleted-3": "- Apple\n- Banana\n- Cherry\n",
    "numbered-4": "1. Boil water.\n2. Add tea.\n3. Steep.\n4. Pour.",
    "three-lines": "Rain on the roof\nsoft drums in the night\nmorning smells of earth",
    "two-sentences": "The Moon orbits Earth. It has no air.",
    "no-digits": "A week has seven days.",
    "no-letter-e": "A cat.",
    "quoted": '"Mars"',
    "repeat-hello": "hello, hello, hello, hello, hello",
    "number-only": "8",
    "system-reply-ok": "OK",
}
VIOLATING = {
    "words-exactly-5": "The ocean is vast and deep.",
    "all-lowercase": "Cats love naps.",
    "bulleted-3": "Here are three fruits:\n- Apple\n- Banana\n- Cherry",
    "two-sentences": "The Moon is bright. It orbits Earth. It is old.",
    "no-letter-e": "An elephant.",
    "system-reply-ok": "OK! Here's a joke about penguins.",
    "starts-with-yes": "Of course! Yes.",
}


def test_instruction_patterns_accept_compliant_and_reject_violating_replies() -> None:
    patterns = {
        case.id: [s.args["pattern"] for s in case.scorers or [] if s.name == "regex"]
        for case in load_dataset("instruction_following")
    }
    for case_id, reply in COMPLIANT.items():
        assert patterns[case_id], case_id
        assert all(re.search(p, reply) for p in patterns[case_id]), (case_id, reply)
    for case_id, reply in VIOLATING.items():
        assert not all(re.search(p, reply) for p in patterns[case_id]), (case_id, reply)


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_scorer_arguments_build(name: str) -> None:
    """The scorer registry accepts every spec (names and arguments) of the bundled datasets."""
    scorers = pytest.importorskip("evals.scorers")
    dataset = load_dataset(name)
    scorers.validate_specs([spec for case in dataset for spec in dataset.scorers_for(case)])
