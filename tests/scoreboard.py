"""The reliability scoreboard's pytest plugin: tests say what they prove, a run records it.

A test marks what it checks with ``@pytest.mark.scoreboard(category, name)``, where
``category`` is ``fault`` (a fault injected and survived), ``hostile`` (bad input tried),
``secret`` (a leak searched for) or ``scan``; and it may add figures with the ``scoreboard``
fixture (``scoreboard.record(requests=68, five_xx=0)``). With ``--scoreboard=PATH`` pytest
writes one JSON line per marked test: category, name, test id, outcome, seconds and the
figures. ``tools/scoreboard.py`` turns those lines into ``docs/reliability.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

CATEGORIES = ("fault", "hostile", "secret", "scan")
_FIGURES = pytest.StashKey[dict[str, Any]]()
_OUTPUT = pytest.StashKey[Path]()


class Figures:
    """What a test measured, for the scoreboard (e.g. requests tried, 5xx seen)."""

    def __init__(self, item: pytest.Item) -> None:
        self._item = item

    def record(self, **figures: Any) -> None:
        """Add figures (JSON values) to this test's scoreboard line."""
        self._item.stash.setdefault(_FIGURES, {}).update(figures)


@pytest.fixture
def scoreboard(request: pytest.FixtureRequest) -> Figures:
    """Record figures of this test on the scoreboard."""
    return Figures(request.node)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--scoreboard",
        metavar="PATH",
        default=None,
        help="write one JSON line per @pytest.mark.scoreboard test to PATH",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "scoreboard(category, name): what the test proves, for docs/reliability.md "
        f"(category: {', '.join(CATEGORIES)})",
    )
    path = config.getoption("--scoreboard")
    if path:
        output = Path(path).resolve()  # tests change the working directory
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text("")
        config.stash[_OUTPUT] = output


def _marker(item: pytest.Item) -> tuple[str, str] | None:
    marker = item.get_closest_marker("scoreboard")
    if marker is None:
        return None
    category, name = marker.args
    if category not in CATEGORIES:
        raise pytest.UsageError(f"{item.nodeid}: scoreboard category must be one of {CATEGORIES}")
    return str(category), str(name)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    path = item.config.stash.get(_OUTPUT, None)
    marked = _marker(item)
    if path is None or marked is None:
        return
    failed_setup = report.when == "setup" and not report.passed
    if report.when != "call" and not failed_setup:
        return
    category, name = marked
    line = {
        "category": category,
        "name": name,
        "test": item.nodeid,
        "outcome": "skipped" if report.skipped else report.outcome,
        "seconds": round(report.duration, 3),
        "figures": item.stash.get(_FIGURES, {}),
    }
    with path.open("a", encoding="utf-8") as sink:
        sink.write(json.dumps(line) + "\n")
