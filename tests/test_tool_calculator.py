"""The calculator: its language, its limits, its worker processes and the tool around them.

Most cases run through the real path (a worker process), since that is what the model uses; the
resource attacks also measure wall time, because a bounded time is exactly what they test.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.errors import ToolError
from assistant.tools import Tool, ToolRegistry
from assistant.tools import calculator as calc
from assistant.tools.calculator import aevaluate, calculator, create_tools, evaluate
from assistant.tools.calculator_eval import MAX_DEPTH, MAX_LENGTH, compute

ATTACK_BUDGET_S = 2.5
"""Wall time any hostile expression may take to be refused (the hard limit is 2 s)."""

CORRECT = [
    # integers, precedence, unary minus
    ("17 * 23 + 4", "395"),
    ("1234 * 5678", "7006652"),
    ("2 + 3 * 4", "14"),
    ("(2 + 3) * 4", "20"),
    ("-3 + 5", "2"),
    ("+7", "7"),
    ("--7", "7"),
    ("-2 ** 2", "-4"),
    ("(-2) ** 2", "4"),
    ("2 ** 3 ** 2", "512"),
    ("7 // 2", "3"),
    ("-7 // 2", "-4"),
    ("-7 % 3", "2"),
    # ^ is power, with power's precedence and right associativity
    ("2^10", "1024"),
    ("-2^2", "-4"),
    ("2^3^2", "512"),
    ("2^3*2", "16"),
    ("2^-1", "0.5"),
    # floats, shown to 15 significant digits
    ("7 / 2", "3.5"),
    ("10 / 5", "2"),
    ("0.1 + 0.2", "0.3"),
    ("1 - 0.9", "0.1"),
    ("1 / 3", "0.333333333333333"),
    ("1.5e3 * 2", "3000"),
    ("1e16", "1e+16"),
    ("2.5e-7 * 2", "5e-07"),
    ("-0.0", "0"),
    # other notations
    ("1_000_000 * 3", "3000000"),
    ("0x10 + 1", "17"),
    ("6 \u00d7 7", "42"),
    ("8 \u00f7 2", "4"),
    ("5 \u2212 3", "2"),
    ("2 + 2 =", "4"),
    ("  1 +\n 1  ", "2"),
    # roots and powers
    ("sqrt(16)", "4"),
    ("sqrt(2)", "1.4142135623731"),
    ("sqrt(2) ** 3", "2.82842712474619"),
    ("sqrt(2) * sqrt(2)", "2"),
    ("cbrt(27)", "3"),
    ("cbrt(-8)", "-2"),
    ("cbrt(2.5 ** 3)", "2.5"),
    ("root(32, 5)", "2"),
    ("root(-27, 3)", "-3"),
    ("root(16, 0.5)", "256"),
    ("sqrt(10**400)", "1" + "0" * 200),
    ("sqrt(10**401)", "3.16227766016838e+200"),
    # functions
    ("exp(0)", "1"),
    ("exp(1)", "2.71828182845905"),
    ("ln(e)", "1"),
    ("log(e)", "1"),
    ("log(8, 2)", "3"),
    ("log(1000, base=10)", "3"),
    ("log10(1000)", "3"),
    ("log2(1024)", "10"),
    ("log(10**1000)", "2302.58509299405"),
    ("sin(0)", "0"),
    ("cos(0)", "1"),
    ("tan(pi / 4)", "1"),
    ("asin(1)", "1.5707963267949"),
    ("acos(1)", "0"),
    ("atan(1) * 4", "3.14159265358979"),
    ("atan2(1, 1)", "0.785398163397448"),
    ("sinh(0) + cosh(0) + tanh(0)", "1"),
    ("degrees(pi)", "180"),
    ("radians(180)", "3.14159265358979"),
    ("floor(-2.5)", "-3"),
    ("ceil(2.1)", "3"),
    ("round(3.14159, 2)", "3.14"),
    ("round(3.14159, ndigits=3)", "3.142"),
    ("round(2.5)", "2"),
    ("round(1234, -2)", "1200"),
    ("abs(-3)", "3"),
    ("abs(-2.5)", "2.5"),
    ("min(3, 1, 2)", "1"),
    ("max(1.5, 2)", "2"),
    ("hypot(3, 4)", "5"),
    ("factorial(20)", "2432902008176640000"),
    ("factorial(5.0)", "120"),
    ("gcd(12, 18)", "6"),
    ("lcm(4, 6, 10)", "60"),
    ("comb(52, 5)", "2598960"),
    ("comb(5, 7)", "0"),
    ("perm(10, 3)", "720"),
    ("perm(5)", "120"),
    # constants, names in any case
    ("pi", "3.14159265358979"),
    ("e", "2.71828182845905"),
    ("tau", "6.28318530717959"),
    ("PI * 2", "6.28318530717959"),
    ("Sqrt(4)", "2"),
    # big integers, exact
    ("2 ** 100", "1267650600228229401496703205376"),
    ("factorial(30)", "265252859812191058636308480000000"),
    ("10 ** 400 // 10 ** 398", "100"),
    ("10 ** 400 / 10 ** 399", "10"),
    ("10 ** 999", "1" + "0" * 999),
    ("comb(10**20, 2)", "4999999999999999999950000000000000000000"),
]

ERRORS = [
    ("1 / 0", "division by zero"),
    ("7 // 0", "division by zero"),
    ("5 % 0", "division by zero"),
    ("0 ** -1", "division by zero"),
    ("sqrt(-1)", r"math domain error: sqrt\(-1\) has no real value"),
    ("log(0)", "math domain error"),
    ("acos(2)", "math domain error"),
    ("root(-4, 2)", "math domain error"),
    ("(-8) ** (1/3)", "math domain error: a negative number to a fractional power"),
    ("foo", r"unknown name 'foo'.*\(known: constants e, pi, tau; functions abs, .*sqrt"),
    ("x + 1", "unknown name 'x'"),
    ("sqr(2)", "unknown function 'sqr', did you mean 'sqrt'"),
    ("sqrt", r"'sqrt' is a function: call it, e.g. sqrt\(2\)"),
    ("pi(2)", "'pi' is a number, not a function"),
    ("2(3 + 4)", r"to multiply, write 2\*\(3\+4\)"),
    ("", "empty expression"),
    ("   ", "empty expression"),
    ("1 +", "syntax error at the end of the expression"),
    ("(1 + 2", r"syntax error at position 1: '\(' was never closed"),
    ("2 ^ (3", r"syntax error at position 5: '\(' was never closed"),
    ("1 + 2)", r"syntax error at position 6: unmatched '\)'"),
    ("2 $ 3", "syntax error at position 3"),
    ("2x", "syntax error at position 1"),
    ("1,234", "comma outside a function call: write 1234567 or 1_234_567"),
    ("1 < 2", "comparisons"),
    ("1j", "imaginary numbers are not supported"),
    ("1e999", "too large for a float"),
    ("exp(1000)", "too large for a float"),
    ("2.0 ** 5000", "too large for a float"),
    ("2 ** 5000 * 1.5", "too large for a float"),
    ("1e308 * 10", "too large for a float"),
    ("1 & 2", "operator '&' is not supported"),
    ("1 << 2", "operator '<<' is not supported"),
    ("~1", "operator '~' is not supported"),
    ("sqrt(1, 2)", r"sqrt\(\) takes 1 argument \(2 given\)"),
    ("root(8)", r"root\(\) takes 2 arguments \(1 given\)"),
    ("min()", r"min\(\) takes at least 1 argument \(0 given\)"),
    ("round(1.5, 2, ndigits=3)", "got 'ndigits' twice"),
    ("factorial(2.5)", r"factorial\(\) needs whole numbers, got 2.5"),
    ("factorial(-1)", "non-negative"),
    ("comb(-1, 2)", "non-negative"),
    ("root(8, 0)", "degree must not be 0"),
]

ESCAPES = [
    ("__import__('os')", "unknown function '__import__'"),
    ("__import__('os').system('echo pwned')", "attribute access"),
    ("().__class__", "attribute access"),
    ("().__class__.__bases__[0].__subclasses__()", "attribute access"),
    ("(1).__add__(2)", "attribute access"),
    ("pi.real", "attribute access"),
    ("open('/etc/passwd')", "unknown function 'open'"),
    ("eval('1 + 1')", "unknown function 'eval'"),
    ("exec('x = 1')", "unknown function 'exec'"),
    ("compile('1', 'x', 'eval')", "unknown function 'compile'"),
    ("globals()", "unknown function 'globals'"),
    ("getattr(1, 'real')", "unknown function 'getattr'"),
    ("__builtins__", "unknown name '__builtins__'"),
    ("[1][0]", "indexing"),
    ("lambda: 1", "lambda is not allowed"),
    ("(lambda: 1)()", "lambda is not allowed"),
    ("[x for x in (1, 2)]", "comprehensions are not allowed"),
    ("{x for x in (1, 2)}", "comprehensions are not allowed"),
    ("(x for x in (1, 2))", "comprehensions are not allowed"),
    ("'abc'", "strings are not allowed"),
    ("b'abc'", "strings are not allowed"),
    ("f'{1 + 1}'", "strings are not allowed"),
    ("'1' * 10**9", "strings are not allowed"),
    ("(x := 5)", r"assignment \(':='\) is not allowed"),
    ("sqrt(*[4])", "'\\*' unpacking is not allowed"),
    ("max(**{'x': 1})", "'\\*\\*' unpacking is not allowed"),
    ("sqrt(x=4)", r"sqrt\(\) takes no keyword argument 'x'"),
    ("round(2.5, digits=1)", r"no keyword argument 'digits' \(it accepts ndigits=\)"),
    ("[1, 2]", "lists, sets and dicts are not allowed"),
    ("{1: 2}", "lists, sets and dicts are not allowed"),
    ("1 if 1 else 2", "'if ... else' is not supported"),
    ("1 and 2", "'and' / 'or' are not supported"),
    ("not 1", "operator 'not' is not supported"),
    ("True", "True and False are not numbers"),
    ("None", "None is not a number"),
    ("...", "Ellipsis is not a number"),
    ("import os", "syntax error"),
    ("x = 1", "syntax error"),
    ("1; 2", "syntax error"),
    ("yield 1", "syntax error"),
    ("1 + 1\x00", "syntax error"),
]

ATTACKS = [
    ("9**9**9", "exponent too large: the result would have about 369,693,100 digits"),
    ("10**10**10", "exponent too large"),
    ("(2**1000)**1000", "exponent too large"),
    ("2 ** (10 ** 400)", "exponent too large"),
    ("factorial(10**6)", "factorial argument too large"),
    ("factorial(10**100)", "factorial argument too large"),
    ("factorial(factorial(20))", "factorial argument too large"),
    ("comb(10**6, 5 * 10**5)", "comb argument too large"),
    ("comb(10**100, 10**50)", "comb argument too large"),
    ("perm(10**9, 10**6)", "perm argument too large"),
    ("(10**20000) * (10**20000)", "product too large"),
    ("lcm(2**60000, 3**30000)", "lcm too large"),
    ("round(1, -10**9)", "ndigits must be between"),
    ("2.0 ** 10**10", "too large for a float"),
    ("-" * 400 + "1", "nested too deeply"),
    ("+".join(["1"] * (MAX_DEPTH + 5)), "nested too deeply"),
    ("(" * 10_000 + "1" + ")" * 10_000, "expression too long"),
    ("1+" * 100_000 + "1", "expression too long"),
    ("(" * 240 + "1" + ")" * 240, "syntax error"),
]


def _worker_pids() -> set[int]:
    return {
        process.pid
        for process in multiprocessing.active_children()
        if process.name == "calculator-worker" and process.pid is not None
    }


def _gone(pid: int, within_s: float = 2.0) -> bool:
    """The process has exited and been reaped (a zombie counts as gone)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state == "Z":
            return True
        time.sleep(0.02)  # polling a process table, not synchronising with our own code
    return False


@pytest.fixture(scope="module")
def tool() -> Tool:
    (built,) = create_tools(Settings())
    assert isinstance(built, Tool)
    return built


# --- the language ----------------------------------------------------------------------------


@pytest.mark.parametrize(("expression", "expected"), CORRECT)
def test_correct_results(expression: str, expected: str) -> None:
    assert evaluate(expression) == expected


def test_integers_past_the_display_limit_are_shown_rounded_with_their_length() -> None:
    assert evaluate("factorial(1000)").startswith("about 4.0238726007709")
    assert evaluate("factorial(1000)").endswith("e+2567 (an integer of 2,568 digits)")
    assert evaluate("-(10**1000)") == "about -1e+1000 (an integer of 1,001 digits)"


@pytest.mark.parametrize(("expression", "message"), ERRORS)
def test_errors_are_one_clear_line(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        evaluate(expression)
    assert "\n" not in str(caught.value)


@pytest.mark.scoreboard("hostile", "calculator: sandbox escapes refused")
@pytest.mark.parametrize(("expression", "message"), ESCAPES)
def test_escapes_are_refused_before_anything_runs(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate(expression)


@pytest.mark.scoreboard("hostile", "calculator: resource attacks refused quickly")
@pytest.mark.parametrize(("expression", "message"), ATTACKS)
def test_resource_attacks_are_refused_quickly(expression: str, message: str) -> None:
    evaluate("0")  # a warm worker: the attack's time is measured, not a process start
    started = time.perf_counter()
    with pytest.raises(ValueError, match=message):
        evaluate(expression)
    assert time.perf_counter() - started < ATTACK_BUDGET_S


@pytest.mark.scoreboard("hostile", "calculator: limits hold in the evaluator itself")
def test_limits_hold_in_the_evaluator_itself() -> None:
    with pytest.raises(ValueError, match=f"max {MAX_LENGTH}"):
        compute("1+" * 100_000 + "1")
    with pytest.raises(ValueError, match="exponent too large"):
        compute("9**9**9")


# --- the worker processes --------------------------------------------------------------------


@pytest.mark.scoreboard("hostile", "calculator: a runaway evaluation is killed")
async def test_a_runaway_evaluation_is_killed_and_the_next_call_works() -> None:
    await aevaluate("0")
    before = _worker_pids()
    started = time.perf_counter()
    with pytest.raises(ToolError, match=r"^calculator timed out after 2s$"):
        await calc._evaluate_slowly_for_tests(60, time_limit=2.0)
    assert time.perf_counter() - started < ATTACK_BUDGET_S
    killed = before - _worker_pids()
    assert killed, "the runaway worker was not replaced"
    assert all(_gone(pid) for pid in killed)
    assert await aevaluate("6 * 7") == "42"


async def test_the_event_loop_keeps_running_during_a_long_evaluation() -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        assert await calc._evaluate_slowly_for_tests(0.5, time_limit=2.0) == "spun"
        with pytest.raises(ToolError, match=r"timed out after 0\.5s"):
            await calc._evaluate_slowly_for_tests(60, time_limit=0.5)
    finally:
        task.cancel()
    assert ticks >= 12  # about 20 expected in 1 s; a blocked loop would give 0


async def test_concurrent_calls_each_get_their_own_answer() -> None:
    expressions = [f"{i} * {i} + 1" for i in range(8)]
    results = await asyncio.gather(*(aevaluate(expression) for expression in expressions))
    assert results == [str(i * i + 1) for i in range(8)]
    assert len(_worker_pids()) <= calc.MAX_WORKERS


async def test_a_runaway_call_does_not_hold_up_the_others() -> None:
    runaway = asyncio.create_task(calc._evaluate_slowly_for_tests(60, time_limit=1.5))
    await asyncio.sleep(0.1)
    started = time.perf_counter()
    results = await asyncio.gather(*(aevaluate(f"{i} + 1") for i in range(8)))
    assert results == [str(i + 1) for i in range(8)]
    assert time.perf_counter() - started < 1.0
    with pytest.raises(ToolError, match="timed out"):
        await runaway


def test_a_full_pool_makes_callers_wait_then_gives_up_clearly() -> None:
    pool = calc._WorkerPool(max_workers=1)
    try:
        assert pool.run(("eval", "1 + 1"), 2.0) == ("ok", "2")
        with concurrent.futures.ThreadPoolExecutor(1) as threads:
            runaway = threads.submit(pool.run, ("spin", 60), 1.0)
            time.sleep(0.2)  # let the runaway take the only worker
            with pytest.raises(ToolError, match=r"calculator is busy \(all 1 workers in use\)"):
                pool.run(("eval", "2 + 2"), 0.3)
            with pytest.raises(ToolError, match="timed out"):
                runaway.result()
        assert pool.run(("eval", "2 + 2"), 2.0) == ("ok", "4")
    finally:
        pool.close()
    assert pool.size() == 0


def test_a_worker_killed_from_outside_is_replaced() -> None:
    evaluate("1")
    for pid in _worker_pids():
        os.kill(pid, signal.SIGKILL)
    assert evaluate("2 + 2") == "4"


def test_shutdown_kills_every_worker_and_the_next_call_starts_afresh() -> None:
    evaluate("1")
    pids = _worker_pids()
    assert pids
    calc.shutdown()
    assert not _worker_pids()
    assert all(_gone(pid) for pid in pids)
    assert evaluate("3 * 3") == "9"


def test_workers_do_not_outlive_the_interpreter(tmp_path: Path) -> None:
    script = tmp_path / "uses_calculator.py"
    script.write_text(
        "import multiprocessing\n"
        "from assistant.tools.calculator import evaluate\n"
        "if __name__ == '__main__':\n"
        "    print(evaluate('6 * 7'))\n"
        "    print(*(p.pid for p in multiprocessing.active_children()))\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True
    )
    answer, pids = done.stdout.splitlines()
    assert answer == "42"
    assert all(_gone(int(pid)) for pid in pids.split())


# --- the tool --------------------------------------------------------------------------------


def test_the_tool_describes_itself_for_a_small_model(tool: Tool) -> None:
    schema = tool.json_schema()["function"]
    assert schema["name"] == "calculator"
    assert schema["description"].startswith(
        "Evaluate an arithmetic expression, e.g. '17 * 23 + 4' or 'sqrt(2) ** 3'."
    )
    assert "^ also means power" in schema["description"]
    assert schema["parameters"]["required"] == ["expression"]
    assert schema["parameters"]["properties"]["expression"]["description"]
    assert tool.example == {"expression": "17 * 23 + 4"}


def test_the_framework_timeout_backs_up_the_worker_limit() -> None:
    (default,) = create_tools(Settings())
    (short,) = create_tools(Settings(tools={"calculator": {"timeout": 0.5}}))
    assert isinstance(default, Tool) and isinstance(short, Tool)
    assert default.timeout == 2.0 + calc.FRAMEWORK_GRACE
    assert short.timeout == 0.5 + calc.FRAMEWORK_GRACE


async def test_the_tool_answers_with_text(tool: Tool) -> None:
    assert await tool.ainvoke({"expression": "17 * 23 + 4"}) == "395"
    assert await tool.ainvoke({"expression": "2^10"}) == "1024"


async def test_the_tools_errors_are_text_for_the_model(tool: Tool) -> None:
    assert "division by zero" in await tool.ainvoke({"expression": "1 / 0"})
    assert "unknown name 'foo'" in await tool.ainvoke({"expression": "foo + 1"})


async def test_bad_arguments_are_text_for_the_model(tool: Tool) -> None:
    text = await tool.ainvoke({})
    assert isinstance(text, str) and "invalid arguments for calculator" in text


def test_the_tool_works_synchronously(tool: Tool) -> None:
    assert tool.invoke({"expression": "sqrt(2) ** 2"}) == "2"


async def test_the_tool_runs_concurrently(tool: Tool) -> None:
    calls = [tool.ainvoke({"expression": f"{i} ** 2"}) for i in range(8)]
    assert await asyncio.gather(*calls) == [str(i * i) for i in range(8)]


async def test_a_timeout_reaches_the_model_as_text(monkeypatch: pytest.MonkeyPatch) -> None:
    async def runaway(expression: str, time_limit: float) -> str:
        return await calc._evaluate_slowly_for_tests(60, time_limit)

    monkeypatch.setattr(calc, "aevaluate", runaway)
    (slow,) = create_tools(Settings(tools={"calculator": {"timeout": 1.0}}))
    started = time.perf_counter()
    assert await slow.ainvoke({"expression": "1 + 1"}) == "calculator timed out after 1s"
    assert time.perf_counter() - started < 1.5
    monkeypatch.undo()
    assert await slow.ainvoke({"expression": "1 + 1"}) == "2"


async def test_the_registry_finds_and_runs_the_calculator() -> None:
    registry = ToolRegistry.from_settings(Settings())
    assert "calculator" in registry
    assert await registry.run("calculator", {"expression": "17 * 23 + 4"}) == "395"
    with pytest.raises(ToolError, match="division by zero"):
        await registry.run("calculator", {"expression": "1 / 0"})


async def test_the_plain_function_works_without_the_framework() -> None:
    assert await calculator("40 + 2") == "42"
    with pytest.raises(ValueError, match="division by zero"):
        await calculator("1 / 0")
