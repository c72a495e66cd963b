"""BFCL's official data, converted to the workbench's case format.

The Berkeley Function Calling Leaderboard publishes its questions and possible answers inside
the ``bfcl-eval`` wheel (``bfcl_eval/data/BFCL_v4_<category>.json`` and
``.../possible_answer/...``). :func:`fetch_wheel` downloads that wheel alone from the package
index (its dependencies are heavy, pinned, and not needed to read the data), checks its
SHA-256 against the index, and caches it; :func:`convert_category` turns one category into
cases:

- ``input``: the question's messages (a plain prompt when it is one user message);
- ``tools``: the functions exactly as BFCL offers them to an OpenAI-style function-calling
  model: the Python hint appended to each description, types mapped to JSON Schema
  (``dict`` -> ``object``, ``float`` -> ``number`` with ``"format": "float"`` and BFCL's
  note in the description, ``tuple`` -> ``array``, ``any`` -> ``string``), and dots in names
  replaced by underscores (OpenAI allows none), as BFCL does for those models;
- ``expected_calls``: the possible answers, with the same names; ``[]`` for irrelevance;
- ``scorers``: ``call_match`` (``no_call`` for irrelevance); ``tags``: ``bfcl`` and the
  category; ``metadata``: the BFCL id, category and ``bfcl-eval`` version.

Only single-turn Python categories can be expressed; the others (multi-turn, Java,
JavaScript, agentic, relevance) are refused with the reason.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "BFCL_VERSION",
    "BFCL_WHEEL_SHA256",
    "CATEGORIES",
    "BfclError",
    "Conversion",
    "convert_category",
    "default_cache_dir",
    "fetch_wheel",
    "read_category",
    "wheel_version",
    "write_cases",
]

BFCL_VERSION = "2026.3.23"
"""The ``bfcl-eval`` release the bundled ``datasets/bfcl/`` files come from."""
BFCL_WHEEL_SHA256 = "3bb6dfa5f0c68ad403c9ec50b00db2bb3b4cc9b38ab1ff33f48fe30d853d3a0a"
"""SHA-256 of ``bfcl_eval-2026.3.23-py3-none-any.whl`` (other versions: the index's hash)."""

CATEGORIES: dict[str, str] = {
    "simple_python": "one function offered, one call expected",
    "multiple": "several functions offered, one call to the right one expected",
    "parallel": "one function offered, several calls expected (any order)",
    "parallel_multiple": "several functions offered, several calls expected (any order)",
    "irrelevance": "no offered function fits: no call is right",
    "live_simple": "user-contributed: one function, one call",
    "live_multiple": "user-contributed: several functions, one call",
    "live_parallel": "user-contributed: several calls",
    "live_parallel_multiple": "user-contributed: several functions, several calls",
    "live_irrelevance": "user-contributed: no call is right",
}
"""The categories this converter expresses, and what each tests."""

_REFUSED: dict[str, str] = {
    "multi_turn": "multi-turn categories run a stateful conversation with executed tools",
    # javascript before java: the first marker found in the name wins
    "javascript": "JavaScript categories grade calls with JavaScript's type converter",
    "java": "Java categories grade calls with Java's type converter",
    "memory": "memory categories are agentic (a memory backend is run between turns)",
    "web_search": "web-search categories are agentic (live search between turns)",
    "format_sensitivity": "format sensitivity grades prompting formats, not native function calls",
    "relevance": "live_relevance passes any call at all, which expected calls cannot express",
}

_PYTHON_HINT = " Note that the provided function is in Python 3 syntax."
_FLOAT_NOTE = " This is a float type value."
# BFCL's GORILLA_TO_OPENAPI (bfcl_eval/constants/type_mappings.py), Python entries
_TO_OPENAPI = {
    "integer": "integer",
    "number": "number",
    "float": "number",
    "string": "string",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "dict": "object",
    "object": "object",
    "tuple": "array",
    "any": "string",
}
_INDEX = "https://pypi.org/simple"
_SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


class BfclError(Exception):
    """The data cannot be fetched, read or converted (the message says why, in one line)."""


@dataclass(frozen=True, slots=True)
class Conversion:
    """One converted category."""

    category: str
    cases: list[dict[str, Any]]
    version: str


def default_cache_dir() -> Path:
    """Where downloaded wheels are kept (``$XDG_CACHE_HOME/assistant-workbench/bfcl``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "assistant-workbench" / "bfcl"


def _wheel_name(version: str) -> str:
    return f"bfcl_eval-{version}-py3-none-any.whl"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_wheel(
    version: str = BFCL_VERSION,
    *,
    cache_dir: Path | None = None,
    index_url: str | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> Path:
    """The ``bfcl-eval`` wheel of ``version``, from the cache or the package index.

    Only the wheel is fetched (no dependencies). Its SHA-256 must match the index's (and, for
    the bundled version, the pinned one). ``progress(done, total)`` is called as it downloads.
    """
    import httpx

    cache = cache_dir or default_cache_dir()
    target = cache / _wheel_name(version)
    pinned = BFCL_WHEEL_SHA256 if version == BFCL_VERSION else None
    if target.exists() and (pinned is None or _sha256(target) == pinned):
        return target
    index = (
        index_url or os.environ.get("UV_INDEX_URL") or os.environ.get("PIP_INDEX_URL") or _INDEX
    ).rstrip("/")
    try:
        with httpx.Client(timeout=60.0, follow_redirects=True) as client:
            listing = client.get(f"{index}/bfcl-eval/", headers={"Accept": _SIMPLE_JSON})
            listing.raise_for_status()
            files = {entry["filename"]: entry for entry in listing.json().get("files", [])}
            entry = files.get(_wheel_name(version))
            if entry is None:
                versions = sorted({name.split("-")[1] for name in files if name.endswith(".whl")})
                raise BfclError(
                    f"bfcl-eval {version} has no wheel on {index} (versions: {', '.join(versions)})"
                )
            expected = pinned or entry.get("hashes", {}).get("sha256")
            cache.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".part")
            digest = hashlib.sha256()
            with client.stream("GET", entry["url"]) as response, partial.open("wb") as out:
                response.raise_for_status()
                total = int(response.headers.get("content-length") or 0) or None
                done = 0
                for block in response.iter_bytes():
                    out.write(block)
                    digest.update(block)
                    done += len(block)
                    if progress is not None:
                        progress(done, total)
    except httpx.HTTPError as exc:
        raise BfclError(f"cannot download bfcl-eval {version} from {index}: {exc}") from None
    except (ValueError, KeyError) as exc:
        raise BfclError(f"unexpected answer from {index} for bfcl-eval: {exc}") from None
    if expected and digest.hexdigest() != expected:
        partial.unlink(missing_ok=True)
        raise BfclError(f"bfcl-eval {version}: the wheel's SHA-256 does not match the index's")
    partial.replace(target)
    return target


def _refusal(category: str) -> str | None:
    if category in CATEGORIES:
        return None
    for marker, reason in _REFUSED.items():
        if marker in category:
            return reason
    return None


def read_category(wheel: Path, category: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """BFCL's questions and possible answers of ``category``, read from the wheel as is."""
    reason = _refusal(category)
    if category not in CATEGORIES:
        if reason is None:
            known = ", ".join(CATEGORIES)
            raise BfclError(f"unknown BFCL category '{category}' (supported: {known})")
        raise BfclError(f"category '{category}' cannot be converted: {reason}")
    try:
        with zipfile.ZipFile(wheel) as archive:
            questions = _lines(archive, f"bfcl_eval/data/BFCL_v4_{category}.json")
            answer_path = f"bfcl_eval/data/possible_answer/BFCL_v4_{category}.json"
            answers = _lines(archive, answer_path) if answer_path in archive.namelist() else []
    except (OSError, zipfile.BadZipFile) as exc:
        raise BfclError(f"cannot read {wheel}: {exc}") from None
    return questions, answers


def wheel_version(wheel: Path) -> str:
    """The release a ``bfcl-eval`` wheel holds, from its metadata (whatever the file's name)."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if name.endswith(".dist-info/METADATA"):
                    for line in archive.read(name).decode("utf-8", "replace").splitlines():
                        if line.startswith("Version:"):
                            return line.split(":", 1)[1].strip()
    except (OSError, zipfile.BadZipFile) as exc:
        raise BfclError(f"cannot read {wheel}: {exc}") from None
    raise BfclError(f"{wheel} is not a bfcl-eval wheel (no version in its metadata)")


def _lines(archive: zipfile.ZipFile, name: str) -> list[dict[str, Any]]:
    try:
        text = archive.read(name).decode("utf-8")
    except KeyError:
        raise BfclError(f"{name} is not in the wheel (an older or newer layout?)") from None
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _openai_name(name: str) -> str:
    return re.sub(r"\.", "_", name)


def _cast_types(properties: dict[str, Any]) -> dict[str, Any]:
    """BFCL's ``_cast_to_openai_type`` (model_handler/utils.py), for Python categories."""
    for key, value in properties.items():
        if "type" not in value:
            properties[key]["type"] = "string"
        else:
            kind = value["type"]
            if kind == "float":
                properties[key]["format"] = "float"
                properties[key]["description"] = (
                    properties[key].get("description", "") + _FLOAT_NOTE
                )
            properties[key]["type"] = _TO_OPENAPI.get(kind, "string")
        if properties[key]["type"] in ("array", "object"):
            if "properties" in properties[key]:
                properties[key]["properties"] = _cast_types(properties[key]["properties"])
            elif "items" in properties[key]:
                items = properties[key]["items"]
                items["type"] = _TO_OPENAPI[items["type"]]
                if items["type"] == "array" and "items" in items:
                    items["items"]["type"] = _TO_OPENAPI[items["items"]["type"]]
                elif items["type"] == "object" and "properties" in items:
                    items["properties"] = _cast_types(items["properties"])
    return properties


def openai_tool(function: dict[str, Any]) -> dict[str, Any]:
    """One BFCL function as BFCL offers it to an OpenAI-style function-calling model."""
    item = copy.deepcopy(function)
    item["description"] = item.get("description", "") + _PYTHON_HINT
    item["name"] = _openai_name(item["name"])
    item["parameters"]["type"] = "object"
    item["parameters"]["properties"] = _cast_types(item["parameters"].get("properties", {}))
    return {"type": "function", "function": item}


def _messages(question: list[list[dict[str, Any]]], entry_id: str) -> str | list[dict[str, str]]:
    if len(question) != 1:
        raise BfclError(f"{entry_id}: {len(question)} turns (only single-turn entries convert)")
    turn = question[0]
    for message in turn:
        if message.get("role") not in ("system", "user", "assistant"):
            raise BfclError(f"{entry_id}: a '{message.get('role')}' message cannot be expressed")
    if len(turn) == 1 and turn[0]["role"] == "user":
        return str(turn[0]["content"])
    return [{"role": m["role"], "content": str(m["content"])} for m in turn]


def _expected(ground_truth: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{_openai_name(name): params for name, params in call.items()} for call in ground_truth]


def convert_category(wheel: Path, category: str, *, version: str | None = None) -> Conversion:
    """Every entry of ``category`` as a case (see the module's docstring for the mapping).

    Raises :class:`BfclError` for a category that cannot be expressed, or when any entry
    cannot be (nothing is half-converted).
    """
    questions, answers = read_category(wheel, category)
    release = version or wheel_version(wheel)
    irrelevance = "irrelevance" in category
    by_id = {answer["id"]: answer["ground_truth"] for answer in answers}
    cases = []
    for question in questions:
        entry_id = str(question["id"])
        if irrelevance:
            expected: list[dict[str, Any]] = []
        elif entry_id in by_id:
            expected = _expected(by_id[entry_id])
        else:
            raise BfclError(f"{entry_id}: no possible answer in the wheel")
        cases.append(
            {
                "id": entry_id,
                "input": _messages(question["question"], entry_id),
                "tools": [openai_tool(function) for function in question["function"]],
                "expected_calls": expected,
                **({"call_order": "any"} if len(expected) > 1 else {}),
                "scorers": ["no_call" if irrelevance else "call_match"],
                "tags": ["bfcl", category],
                "metadata": {"bfcl_id": entry_id, "category": category, "bfcl_eval": release},
            }
        )
    _validate(cases)
    return Conversion(category, cases, release)


def _validate(cases: list[dict[str, Any]]) -> None:
    """Every converted case must load as a dataset case (or nothing is written)."""
    from pydantic import ValidationError

    from evals.types import Case

    for case in cases:
        try:
            Case.model_validate(case)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            cause = (first.get("ctx") or {}).get("error")
            raise BfclError(f"{case['id']}: {cause or first['msg']}") from None


def write_cases(conversion: Conversion, out_dir: Path) -> Path:
    """Write ``<out_dir>/<category>.jsonl``, one case per line; return its path."""
    path = out_dir / f"{conversion.category}.jsonl"
    lines = [
        json.dumps(case, ensure_ascii=False, separators=(",", ":")) for case in conversion.cases
    ]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError as exc:
        raise BfclError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path
