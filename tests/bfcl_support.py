"""BFCL's own code and data for the tests: the ``bfcl-eval`` wheel and its official AST checker.

The wheel is fetched once (no dependencies) by the product's own :func:`fetch_wheel` into the
user cache, so reruns do not download it again. Its checker module imports
``bfcl_eval.constants.model_config``, which imports every model SDK; the checker uses it for
one thing (whether a model's function names had dots replaced by underscores), so that module
is replaced by a stub saying "yes", as it is for OpenAI-style function-calling models. The
rest of the checker runs as published.
"""

from __future__ import annotations

import ast
import importlib
import json
import sys
import types
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.calls.bfcl import fetch_wheel


@dataclass
class OfficialChecker:
    """The official BFCL grading of one FC model output."""

    ast_checker: Callable[..., dict[str, Any]]
    is_function_calling_format_output: Callable[[Any], bool]
    is_empty_output: Callable[[Any], bool]
    python: Any
    """``Language.PYTHON``."""

    @staticmethod
    def decode_fc(result: Any) -> list[dict[str, Any]]:
        """``OpenAICompletionsHandler.decode_ast`` for FC models (openai_completion.py)."""
        decoded = []
        for invoked_function in result:
            name = list(invoked_function.keys())[0]  # noqa: RUF015 - BFCL's code as written
            params = json.loads(invoked_function[name])
            decoded.append({name: params})
        return decoded

    def ast_verdict(
        self, category: str, functions: list[dict[str, Any]], result: Any, answer: list[Any]
    ) -> bool:
        """``_evaluate_single_ast_entry`` (eval_runner.py) for an FC model's stored result."""
        try:
            decoded = self.decode_fc(result)
        except Exception:
            return False
        if not self.is_function_calling_format_output(decoded):
            return False
        verdict = self.ast_checker(
            functions, decoded, answer, self.python, category, "gpt-4o-2024-11-20-FC"
        )
        return bool(verdict["valid"])

    def irrelevance_verdict(self, result: Any) -> bool:
        """``_evaluate_single_relevance_entry`` (eval_runner.py) for the irrelevance category."""
        try:
            decoded = self.decode_fc(result)
            contains_call = not self.is_empty_output(decoded)
        except Exception:
            contains_call = False
        return not contains_call


def bfcl_wheel() -> Path:
    """The bundled data's ``bfcl-eval`` wheel (downloaded once, checked by SHA-256)."""
    return fetch_wheel()


def _functions_from(source: str, names: set[str]) -> dict[str, Any]:
    """Selected top-level functions of a module's source, executed alone (their module imports
    SDKs and file locks the functions never use)."""
    tree = ast.parse(source)
    chosen = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names]
    namespace: dict[str, Any] = {}
    exec(compile(ast.Module(body=chosen, type_ignores=[]), "bfcl_eval/utils.py", "exec"), namespace)  # noqa: S102 - BFCL's own code, from its wheel
    return namespace


def load_official_checker(wheel: Path, workdir: Path) -> OfficialChecker:
    """BFCL's ``ast_checker`` from the wheel, with ``model_config`` stubbed (see above)."""
    root = workdir / "bfcl_src"
    if not (root / "bfcl_eval").exists():
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if name.startswith("bfcl_eval/") and name.endswith(".py"):
                    archive.extract(name, root)
    for module in [m for m in sys.modules if m == "bfcl_eval" or m.startswith("bfcl_eval.")]:
        del sys.modules[module]
    stub = types.ModuleType("bfcl_eval.constants.model_config")

    class _Config:
        underscore_to_dot = True

    class _AnyModel(dict[str, Any]):
        def __missing__(self, key: str) -> _Config:
            return _Config()

    stub.MODEL_CONFIG_MAPPING = _AnyModel()  # type: ignore[attr-defined]
    sys.path.insert(0, str(root))
    try:
        sys.modules["bfcl_eval.constants.model_config"] = stub
        checker = importlib.import_module("bfcl_eval.eval_checker.ast_eval.ast_checker")
        enums = importlib.import_module("bfcl_eval.constants.enums")
    finally:
        sys.path.remove(str(root))
    utils = _functions_from(
        (root / "bfcl_eval" / "utils.py").read_text(encoding="utf-8"),
        {"is_function_calling_format_output", "is_empty_output"},
    )
    return OfficialChecker(
        ast_checker=checker.ast_checker,
        is_function_calling_format_output=utils["is_function_calling_format_output"],
        is_empty_output=utils["is_empty_output"],
        python=enums.Language.PYTHON,
    )
