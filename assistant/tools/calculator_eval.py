"""The calculator's language: parse, check and evaluate one arithmetic expression, safely.

This module is everything that runs inside the calculator's worker process, so it imports the
standard library only: the worker runs this file as a script (see
:mod:`assistant.tools.calculator`) and is ready in milliseconds, without importing LangChain.

Safety comes in layers, each cheap and each checked before the work it guards:

1. the text: at most :data:`MAX_LENGTH` characters;
2. the syntax tree, from ``ast.parse(mode="eval")`` and never compiled or executed: numbers, the
   constants and functions below (called by name), ``+ - * / // % **``, unary ``+``/``-`` and
   parentheses, nothing else (no attributes, subscripts, strings, lambdas, comprehensions,
   comparisons, walrus, unpacking, or keywords other than ``round(x, ndigits=)`` and
   ``log(x, base=)``); at most :data:`MAX_DEPTH` levels and :data:`MAX_NODES` nodes;
3. every operation: the size of an integer result is estimated before computing it and refused
   past :data:`MAX_DIGITS` digits (``9**9**9``, ``factorial(10**6)``, ``comb(10**6, 5*10**5)``);
   floats must stay finite and real;
4. the process: the caller kills the worker when its time limit passes, whatever happened.

Notation: ``^`` means power (``2^10`` is 1024: nobody means XOR on a calculator, and small models
write it); the signs for times, divided by and minus (U+00D7, U+00F7, U+2212) read as ``*``, ``/``
and ``-``; a trailing ``=`` is ignored; ``_`` groups digits (``1_000_000``) but a comma never does,
since it separates function arguments. Names ignore case (``PI``, ``Sqrt``). Angles are in
radians. ``inf`` and ``nan`` are not numbers here: a result that would be one is an error.
``round`` rounds halves to even, as Python does.

Results: integers are exact (up to :data:`MAX_SHOWN_DIGITS` digits shown; longer ones are shown
rounded, with their digit count); floats are shown to 15 significant digits, the precision a
double always holds, which also hides binary noise (``0.1 + 0.2`` gives ``0.3``).
"""

from __future__ import annotations

import ast
import difflib
import math
import operator
import time
from collections.abc import Callable
from typing import Any, NamedTuple

MAX_LENGTH = 500
"""Longest expression, in characters."""
MAX_DEPTH = 100
"""Deepest syntax tree (operations and calls nested in each other)."""
MAX_NODES = 500
"""Most numbers, names, operations and calls in one expression."""
MAX_DIGITS = 30_000
"""Largest integer computed, in decimal digits (about 100,000 bits: each step stays in ms)."""
MAX_BITS = math.ceil(MAX_DIGITS * math.log2(10))
MAX_SHOWN_DIGITS = 1_000
"""Longest integer shown exactly; longer results are shown rounded with their digit count."""
MAX_ROUND_DIGITS = 1_000
"""Largest ``ndigits`` of ``round(x, ndigits)`` either way (``round(x, -n)`` computes 10**n)."""
SIGNIFICANT_DIGITS = 15
"""Significant digits of a float result (DBL_DIG: every such decimal survives a double)."""
MEMORY_HEADROOM = 512 * 1024 * 1024
"""Address space the worker may add to what it starts with, as a last line of defence."""

Number = int | float

_LOG10_2 = math.log10(2)
_FLOAT_TOO_LARGE = "number too large for a float (the limit is about 1.8e308)"
# power, multiplication sign, division sign, minus sign, and whitespace that ends a line
_REPLACEMENTS = dict(
    zip("^\u00d7\u00f7\u2212\n\r\t", ["**", "*", "/", "-", " ", " ", " "], strict=True)
)


def _count(digits: float) -> str:
    if not math.isfinite(digits):
        return "more than 1e308"
    return f"{digits:.3g}" if digits >= 1e15 else f"{digits:,.0f}"


def _too_large(what: str, digits: float) -> ValueError:
    return ValueError(
        f"{what} too large: the result would have about {_count(digits)} digits "
        f"(limit {MAX_DIGITS:,})"
    )


def _decimal_digits(value: int) -> int:
    """Digits of ``|value|`` without converting it to text (that is quadratic and capped)."""
    value = abs(value)
    if value < 10:
        return 1
    digits = int((value.bit_length() - 1) * _LOG10_2) + 1
    power = 10 ** (digits - 1)
    while value >= power * 10:
        power *= 10
        digits += 1
    while value < power:
        power //= 10
        digits -= 1
    return digits


def format_number(value: Number) -> str:
    """A result as the model reads it: exact integers, floats to 15 significant digits."""
    if isinstance(value, int):
        if value.bit_length() <= 3_000:  # under 904 digits: cheap, and below every limit
            return str(value)
        digits = _decimal_digits(value)
        if digits <= MAX_SHOWN_DIGITS:
            return str(value)
        lead = abs(value) // 10 ** (digits - SIGNIFICANT_DIGITS)
        mantissa = format(lead / 10 ** (SIGNIFICANT_DIGITS - 1), f".{SIGNIFICANT_DIGITS}g")
        sign = "-" if value < 0 else ""
        return f"about {sign}{mantissa}e+{digits - 1} (an integer of {digits:,} digits)"
    text = format(value, f".{SIGNIFICANT_DIGITS}g")
    return "0" if text == "-0" else text


def _checked(value: object) -> Number:
    """Every intermediate result: an int within the size limit or a finite real float."""
    if isinstance(value, int):
        if value.bit_length() > MAX_BITS:
            raise _too_large("result", value.bit_length() * _LOG10_2)
        return value
    if isinstance(value, float):
        if math.isinf(value):
            raise OverflowError
        if math.isnan(value):
            raise ValueError("math domain error: the result is not a number")
        return value
    raise ValueError("math domain error: the result would be a complex number")


def _whole(name: str, value: Number) -> int:
    if isinstance(value, int):
        return value
    if value.is_integer():
        return int(value)
    raise ValueError(f"{name}() needs whole numbers, got {format_number(value)}")


def _natural(name: str, value: Number) -> int:
    number = _whole(name, value)
    if number < 0:
        raise ValueError(f"{name}() needs non-negative whole numbers, got {number}")
    return number


def _multiply(a: Number, b: Number) -> Number:
    if isinstance(a, int) and isinstance(b, int):
        bits = a.bit_length() + b.bit_length()
        if bits > MAX_BITS + 1:
            raise _too_large("product", (bits - 1) * _LOG10_2)
    return a * b


def _power(a: Number, b: Number) -> Number:
    if isinstance(a, int) and isinstance(b, int):
        if b < 0 and a == 0:
            raise ZeroDivisionError
        if b > 0 and abs(a) > 1:
            try:
                digits = float(b) * math.log10(abs(a))
            except OverflowError:
                digits = math.inf
            if digits > MAX_DIGITS:
                raise _too_large("exponent", digits)
    elif a < 0 and isinstance(b, float) and not b.is_integer():
        raise ValueError(
            "math domain error: a negative number to a fractional power has no real value "
            "(for odd roots use cbrt(x) or root(x, n))"
        )
    result: Number = a**b
    return result


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: _multiply,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: _power,
}
_UNSUPPORTED = {
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.MatMult: "@",
    ast.Invert: "~",
    ast.Not: "not",
}


def _is_odd(value: Number) -> bool:
    return (isinstance(value, int) or value.is_integer()) and int(value) % 2 == 1


def _root(x: Number, n: Number) -> Number:
    if n == 0:
        raise ValueError("root() degree must not be 0")
    if x < 0:
        if _is_odd(n):
            return -_root(-x, n)
        raise ValueError("math domain error")
    if x == 0:
        if n < 0:
            raise ZeroDivisionError
        return x
    value: float
    try:
        value = float(x) ** (1.0 / n)
    except OverflowError:  # an integer beyond floats: logarithms take any int
        value = math.exp(math.log(x) / n)
    if isinstance(x, int) and isinstance(n, int) and n > 0:
        candidate: int = round(value)
        if candidate.bit_length() * n <= MAX_BITS + n and candidate**n == x:
            return candidate
    return value


def _sqrt(x: Number) -> Number:
    if isinstance(x, int) and x >= 0:
        root = math.isqrt(x)
        if root * root == x:
            return root
        if x.bit_length() > 1_000:
            return float(root)
    return math.sqrt(x)


def _cbrt(x: Number) -> Number:
    return _root(x, 3) if isinstance(x, int) else math.cbrt(x)


def _log(x: Number, base: Number | None = None) -> float:
    return math.log(x) if base is None else math.log(x, base)


def _round(x: Number, ndigits: Number | None = None) -> Number:
    if ndigits is None:
        return round(x)
    places = _whole("round", ndigits)
    if abs(places) > MAX_ROUND_DIGITS:
        raise ValueError(
            f"round() ndigits must be between -{MAX_ROUND_DIGITS} and {MAX_ROUND_DIGITS}"
        )
    return round(x, places)


def _log10_factorial(n: int) -> float:
    return math.lgamma(n + 1) / math.log(10) if n.bit_length() < 1_000 else math.inf


def _factorial(n: Number) -> int:
    number = _natural("factorial", n)
    digits = _log10_factorial(number)
    if digits > MAX_DIGITS:
        raise _too_large("factorial argument", digits)
    return math.factorial(number)


def _comb(n: Number, k: Number) -> int:
    total, chosen = _natural("comb", n), _natural("comb", k)
    if chosen > total:
        return 0
    smaller = min(chosen, total - chosen)
    if smaller > MAX_BITS:  # comb(n, m) >= 2**m when m <= n/2
        raise _too_large("comb argument", smaller * _LOG10_2)
    if total < 2**53:
        digits = (
            math.lgamma(total + 1) - math.lgamma(smaller + 1) - math.lgamma(total - smaller + 1)
        ) / math.log(10)
    else:  # n**m / m! bounds it, tightly when n is this much larger than m
        digits = smaller * math.log10(total) - _log10_factorial(smaller)
    if digits > MAX_DIGITS:
        raise _too_large("comb argument", digits)
    return math.comb(total, chosen)


def _perm(n: Number, k: Number | None = None) -> int:
    if k is None:
        return _factorial(n)
    total, chosen = _natural("perm", n), _natural("perm", k)
    if chosen > total:
        return 0
    if chosen > MAX_BITS:  # perm(n, k) >= k!
        raise _too_large("perm argument", _log10_factorial(chosen))
    if total < 2**53:
        digits = (math.lgamma(total + 1) - math.lgamma(total - chosen + 1)) / math.log(10)
    else:
        digits = chosen * math.log10(total)
    if digits > MAX_DIGITS:
        raise _too_large("perm argument", digits)
    return math.perm(total, chosen)


def _gcd(*values: Number) -> int:
    return math.gcd(*(_whole("gcd", value) for value in values))


def _lcm(*values: Number) -> int:
    result = 1
    for value in (abs(_whole("lcm", value)) for value in values):
        if result == 0 or value == 0:
            result = 0
            continue
        bits = result.bit_length() - math.gcd(result, value).bit_length() + value.bit_length()
        if bits > MAX_BITS + 1:
            raise _too_large("lcm", (bits - 1) * _LOG10_2)
        result = math.lcm(result, value)
    return result


class _Function(NamedTuple):
    impl: Callable[..., Number]
    params: tuple[str, ...]
    """Parameter names; a varargs function repeats its one parameter."""
    required: int = 1
    varargs: bool = False
    keywords: tuple[str, ...] = ()
    """Parameters that may also be given by name."""


def _unary(impl: Callable[..., Number]) -> _Function:
    return _Function(impl, ("x",))


_MATH = "exp log10 log2 sin cos tan asin acos atan sinh cosh tanh asinh acosh atanh degrees radians"
FUNCTIONS: dict[str, _Function] = {
    **{name: _unary(getattr(math, name)) for name in _MATH.split()},
    **{name: _unary(getattr(math, name)) for name in ("floor", "ceil", "trunc")},
    "sqrt": _unary(_sqrt),
    "cbrt": _unary(_cbrt),
    "root": _Function(_root, ("x", "n"), 2),
    "ln": _unary(math.log),
    "log": _Function(_log, ("x", "base"), 1, keywords=("base",)),
    "atan2": _Function(math.atan2, ("y", "x"), 2),
    "hypot": _Function(math.hypot, ("x",), 1, varargs=True),
    "round": _Function(_round, ("x", "ndigits"), 1, keywords=("ndigits",)),
    "abs": _unary(abs),
    "min": _Function(lambda *values: min(values), ("x",), 1, varargs=True),
    "max": _Function(lambda *values: max(values), ("x",), 1, varargs=True),
    "factorial": _Function(_factorial, ("n",)),
    "gcd": _Function(_gcd, ("n",), 1, varargs=True),
    "lcm": _Function(_lcm, ("n",), 1, varargs=True),
    "comb": _Function(_comb, ("n", "k"), 2),
    "perm": _Function(_perm, ("n", "k"), 1),
}
"""Every function, by lower-case name."""

CONSTANTS: dict[str, float] = {"pi": math.pi, "π": math.pi, "e": math.e, "tau": math.tau}
"""Every constant, by lower-case name."""

_KNOWN = f"constants e, pi, tau; functions {', '.join(sorted(FUNCTIONS))}"


def _normalize(expression: str) -> tuple[str, list[int]]:
    """The expression in Python's notation, and each character's position in the original."""
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(expression):
        replacement = _REPLACEMENTS.get(char, char)
        chars.append(replacement)
        origin.extend([index] * len(replacement))
    text = "".join(chars)
    start = len(text) - len(text.lstrip())
    text = text.strip()
    if text.endswith("=") and not text.endswith("=="):
        text = text[:-1].rstrip()
    return text, origin[start : start + len(text)]


def parse(expression: str) -> ast.Expression:
    """The syntax tree of ``expression``; a ``ValueError`` names what is wrong, and where."""
    if len(expression) > MAX_LENGTH:
        raise ValueError(f"expression too long ({len(expression)} characters; max {MAX_LENGTH})")
    text, origin = _normalize(expression)
    if not text:
        raise ValueError("empty expression: give one such as 17 * 23 + 4")
    try:
        return ast.parse(text, mode="eval")
    except SyntaxError as exc:
        message = (exc.msg or "invalid syntax").replace("forgot a comma", "forgot an operator")
        offset = exc.offset
        if offset is None:
            raise ValueError(f"syntax error: {message}") from None
        if 1 <= offset <= len(text):
            raise ValueError(
                f"syntax error at position {origin[offset - 1] + 1}: {message}"
            ) from None
        raise ValueError(f"syntax error at the end of the expression: {message}") from None
    except (ValueError, RecursionError, MemoryError) as exc:  # e.g. null bytes, deep nesting
        raise ValueError(f"syntax error: {exc}") from None


_FORBIDDEN: list[tuple[type[ast.AST] | tuple[type[ast.AST], ...], str]] = [
    (ast.Attribute, "attribute access ('.') is not allowed"),
    (ast.Subscript, "indexing ('[...]') is not allowed"),
    (ast.Lambda, "lambda is not allowed"),
    ((ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp), "comprehensions are not allowed"),
    ((ast.JoinedStr, ast.FormattedValue), "strings are not allowed: use numbers only"),
    (ast.NamedExpr, "assignment (':=') is not allowed"),
    (ast.Starred, "'*' unpacking is not allowed"),
    (ast.Tuple, "a comma outside a function call: write 1234567 or 1_234_567, not 1,234,567"),
    ((ast.List, ast.Set, ast.Dict), "lists, sets and dicts are not allowed"),
    (ast.Compare, "comparisons (==, <, ...) are not supported"),
    (ast.BoolOp, "'and' / 'or' are not supported"),
    (ast.IfExp, "'if ... else' is not supported"),
]


def _forbidden(node: ast.AST) -> str:
    """Why a node is not part of the calculator's language."""
    for kinds, reason in _FORBIDDEN:
        if isinstance(node, kinds):
            return reason
    return f"{type(node).__name__} is not allowed in a calculator expression"


_NOT_NUMBERS = {
    bool: "True and False are not numbers",
    complex: "imaginary numbers are not supported",
    str: "strings are not allowed: use numbers only",
    bytes: "strings are not allowed: use numbers only",
}


def _check_constant(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(_NOT_NUMBERS.get(type(value), f"{value!r} is not a number"))
    if not math.isfinite(value):
        raise ValueError(_FLOAT_TOO_LARGE)


def _unknown(kind: str, name: str) -> ValueError:
    close = difflib.get_close_matches(name.lower(), [*FUNCTIONS, *CONSTANTS], n=1)
    hint = f", did you mean '{close[0]}'?" if close else ""
    return ValueError(f"unknown {kind} '{name}'{hint} (known: {_KNOWN})")


def _check_name(name: str) -> None:
    key = name.lower()
    if key in CONSTANTS:
        return
    if key in FUNCTIONS:
        raise ValueError(f"'{name}' is a function: call it, e.g. {key}(2)")
    raise _unknown("name", name)


def _arity(spec: _Function) -> str:
    most = len(spec.params)
    if spec.varargs:
        return f"at least {spec.required}"
    return str(most) if most == spec.required else f"{spec.required} to {most}"


def _check_call(node: ast.Call) -> list[ast.expr]:
    func = node.func
    if not isinstance(func, ast.Name):
        if isinstance(func, ast.Attribute | ast.Subscript | ast.Lambda):
            raise ValueError(_forbidden(func))
        raise ValueError("only functions can be called, e.g. sqrt(2); to multiply, write 2*(3+4)")
    key = func.id.lower()
    spec = FUNCTIONS.get(key)
    if spec is None:
        if key in CONSTANTS:
            raise ValueError(f"'{func.id}' is a number, not a function; to multiply, use *")
        raise _unknown("function", func.id)
    if any(isinstance(arg, ast.Starred) for arg in node.args):
        raise ValueError("'*' unpacking is not allowed")
    given = set() if spec.varargs else set(spec.params[: len(node.args)])
    for keyword in node.keywords:
        if keyword.arg is None:
            raise ValueError("'**' unpacking is not allowed")
        if keyword.arg not in spec.keywords:
            accepted = f" (it accepts {', '.join(spec.keywords)}=)" if spec.keywords else ""
            raise ValueError(f"{key}() takes no keyword argument '{keyword.arg}'{accepted}")
        if keyword.arg in given:
            raise ValueError(f"{key}() got '{keyword.arg}' twice")
        given.add(keyword.arg)
    count = len(node.args) + len(node.keywords)
    too_many = not spec.varargs and count > len(spec.params)
    missing = not spec.varargs and any(name not in given for name in spec.params[: spec.required])
    if too_many or missing or count < spec.required:
        plural = "" if _arity(spec) == "1" or (spec.varargs and spec.required == 1) else "s"
        raise ValueError(f"{key}() takes {_arity(spec)} argument{plural} ({count} given)")
    return [*node.args, *(keyword.value for keyword in node.keywords)]


def _children(node: ast.AST) -> list[ast.expr]:
    """The sub-expressions of an allowed node; a ``ValueError`` for anything else."""
    if isinstance(node, ast.Constant):
        _check_constant(node.value)
        return []
    if isinstance(node, ast.Name):
        _check_name(node.id)
        return []
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.UAdd | ast.USub):
            raise ValueError(f"operator '{_UNSUPPORTED.get(type(node.op), '?')}' is not supported")
        return [node.operand]
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise ValueError(f"operator '{_UNSUPPORTED.get(type(node.op), '?')}' is not supported")
        return [node.left, node.right]
    if isinstance(node, ast.Call):
        return _check_call(node)
    raise ValueError(_forbidden(node))


def check(tree: ast.Expression) -> None:
    """Refuse anything outside the language, or too big, before any evaluation starts."""
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise ValueError(f"expression too complex (more than {MAX_NODES} terms)")
        if depth > MAX_DEPTH:
            raise ValueError(f"expression nested too deeply (more than {MAX_DEPTH} levels)")
        stack.extend((child, depth + 1) for child in _children(node))


def _shown(args: list[Number]) -> str:
    text = ", ".join(format_number(arg) for arg in args)
    return text if len(text) <= 60 else text[:57] + "..."


def _evaluate(node: ast.expr) -> Number:
    """The value of a checked tree (:func:`check` let only these node types through)."""
    if isinstance(node, ast.Constant):
        return _checked(node.value)
    if isinstance(node, ast.Name):
        return CONSTANTS[node.id.lower()]
    if isinstance(node, ast.UnaryOp):
        value = _evaluate(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        apply = _BINARY[type(node.op)]
        return _checked(apply(_evaluate(node.left), _evaluate(node.right)))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        name = node.func.id.lower()
        args = [_evaluate(arg) for arg in node.args]
        keywords = {kw.arg: _evaluate(kw.value) for kw in node.keywords if kw.arg is not None}
        try:
            result = FUNCTIONS[name].impl(*args, **keywords)
        except ValueError as exc:
            if str(exc) != "math domain error":
                raise
            shown = _shown([*args, *keywords.values()])
            raise ValueError(f"math domain error: {name}({shown}) has no real value") from None
        return _checked(result)
    raise ValueError(_forbidden(node))  # unreachable after check(); kept as a safety net


def compute(expression: str) -> str:
    """Evaluate ``expression`` in this process, with no time limit: the worker's job.

    Raises ``ValueError`` with a one-line reason the model can act on.
    """
    if not isinstance(expression, str):
        raise ValueError("the expression must be text, e.g. '2 + 2'")
    tree = parse(expression)
    check(tree)
    try:
        value = _evaluate(tree.body)
    except ZeroDivisionError:
        raise ValueError("division by zero") from None
    except OverflowError:
        raise ValueError(_FLOAT_TOO_LARGE) from None
    return format_number(value)


def _limit_memory() -> None:
    """Cap the worker's address space: a missed limit then fails with MemoryError, not swap."""
    try:
        import resource

        with open("/proc/self/status", encoding="ascii") as status:
            sizes = [line.split()[1] for line in status if line.startswith("VmSize:")]
        limit = int(sizes[0]) * 1024 + MEMORY_HEADROOM
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        if soft == resource.RLIM_INFINITY or limit < soft:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, OSError, ValueError, IndexError):  # not Linux: the time limit remains
        pass


def answer(request: tuple[str, Any]) -> tuple[str, str]:
    """One request to the worker: ``("eval", expression)`` -> ``("ok" | "error", text)``.

    ``("spin", seconds)`` burns CPU for that long without answering early, like a runaway
    evaluation: the tests use it to exercise the kill path. It is reachable only from Python
    (no expression produces it).
    """
    kind, payload = request
    if kind == "spin":
        end = time.monotonic() + float(payload)
        while time.monotonic() < end:
            pass
        return "ok", "spun"
    try:
        return "ok", compute(payload)
    except ValueError as exc:
        return "error", str(exc)
    except MemoryError:
        return "error", "out of memory: the expression needs too much memory"
    except RecursionError:
        return "error", f"expression nested too deeply (more than {MAX_DEPTH} levels)"
    except Exception as exc:  # a bug here must still answer, never kill the worker
        return "error", f"could not evaluate the expression ({type(exc).__name__}: {exc})"


def serve(connection: Any) -> None:
    """The worker's loop: answer requests from ``connection`` until the parent hangs up."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which cleans up
    _limit_memory()
    connection.send(("ready", ""))
    while True:
        try:
            request = connection.recv()
        except (EOFError, OSError):
            return
        connection.send(answer(request))


if __name__ == "__calculator_worker__":  # run by runpy in the worker process
    serve(globals()["CONNECTION"])
