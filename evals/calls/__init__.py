"""Function calling at benchmark grade: offered functions, expected calls, BFCL's checker rules.

- :mod:`evals.calls.schema` normalises a case's function definitions (OpenAI's form or BFCL's
  bare form) and checks its expected calls;
- :mod:`evals.calls.checker` grades the calls a model made with the semantics of BFCL's AST
  checker (``call_match`` and ``no_call`` are built on it);
- :mod:`evals.calls.record` reads the calls a target made from its trajectory;
- :mod:`evals.calls.explain` lays expected and made calls side by side, parameter by parameter;
- :mod:`evals.calls.bfcl` converts BFCL's official data files into datasets.
"""

from evals.calls.checker import (
    Call,
    CallOrder,
    ParamCheck,
    Verdict,
    check_call,
    check_calls,
    compare_params,
    describe_expected,
    no_call_verdict,
    standardize_string,
)
from evals.calls.explain import call_table
from evals.calls.record import calls_from_records, calls_made
from evals.calls.schema import (
    ToolSchemaError,
    check_expected_calls,
    normalise_expected_calls,
    normalise_tool,
    normalise_tools,
)

__all__ = [
    "Call",
    "CallOrder",
    "ParamCheck",
    "ToolSchemaError",
    "Verdict",
    "call_table",
    "calls_from_records",
    "calls_made",
    "check_call",
    "check_calls",
    "check_expected_calls",
    "compare_params",
    "describe_expected",
    "no_call_verdict",
    "normalise_expected_calls",
    "normalise_tool",
    "normalise_tools",
    "standardize_string",
]
