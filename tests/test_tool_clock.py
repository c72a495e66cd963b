"""The ``current_time`` tool: timezones, DST, date arithmetic and errors, with a pinned "now".

Expected values were checked against GNU ``date`` (``TZ=... date -d ...``), not computed with
the code under test.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from assistant.config import Settings
from assistant.errors import ToolError
from assistant.tools import Tool, ToolRegistry
from assistant.tools.clock import MAX_ADD_DAYS, _current_time, create_tools

NOW = datetime(2026, 1, 15, 12, 0, 0, 123456, tzinfo=UTC)
"""A Thursday, outside any DST transition."""


def at(iso: str) -> datetime:
    """An aware UTC datetime from ``YYYY-MM-DDTHH:MM:SS``."""
    return datetime.fromisoformat(iso).replace(tzinfo=UTC)


@pytest.fixture
def clock_tool() -> Tool:
    (tool,) = create_tools(Settings())
    assert isinstance(tool, Tool)
    return tool


# -- now, in a timezone ---------------------------------------------------------------------------


def test_now_in_utc_by_default() -> None:
    assert _current_time(NOW) == {
        "timezone": "UTC",
        "datetime": "2026-01-15T12:00:00+00:00",
        "date": "2026-01-15",
        "time": "12:00:00",
        "weekday": "Thursday",
        "abbreviation": "UTC",
        "utc_offset": "+00:00",
    }


@pytest.mark.parametrize(
    ("zone", "iso", "abbreviation", "offset"),
    [
        ("Europe/Paris", "2026-01-15T13:00:00+01:00", "CET", "+01:00"),
        ("Asia/Kathmandu", "2026-01-15T17:45:00+05:45", "+0545", "+05:45"),
        ("America/St_Johns", "2026-01-15T08:30:00-03:30", "NST", "-03:30"),
        ("Australia/Sydney", "2026-01-15T23:00:00+11:00", "AEDT", "+11:00"),
    ],
)
def test_now_in_other_zones(zone: str, iso: str, abbreviation: str, offset: str) -> None:
    answer = _current_time(NOW, zone)
    assert answer["timezone"] == zone
    assert answer["datetime"] == iso
    assert answer["abbreviation"] == abbreviation
    assert answer["utc_offset"] == offset
    assert datetime.fromisoformat(answer["datetime"]) == NOW.replace(microsecond=0)


def test_zone_names_are_forgiven_their_case_and_spaces() -> None:
    assert _current_time(NOW, "europe/paris")["timezone"] == "Europe/Paris"
    assert _current_time(NOW, " utc ")["timezone"] == "UTC"


def test_the_date_line_decides_today() -> None:
    now = at("2026-06-15T23:30:00")
    kiritimati = _current_time(now, "Pacific/Kiritimati")
    pago_pago = _current_time(now, "Pacific/Pago_Pago")
    assert (kiritimati["date"], kiritimati["weekday"]) == ("2026-06-16", "Tuesday")
    assert (pago_pago["date"], pago_pago["weekday"]) == ("2026-06-15", "Monday")
    # "today" is the zone's today, so arithmetic starts from it
    assert _current_time(now, "Pacific/Kiritimati", add_days=1)["result_date"] == "2026-06-17"


# -- DST transitions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "utc", "local", "abbreviation", "offset"),
    [
        # Berlin springs forward at 01:00 UTC: 02:00 CET becomes 03:00 CEST
        ("Europe/Berlin", "2026-03-29T00:59:59", "2026-03-29T01:59:59+01:00", "CET", "+01:00"),
        ("Europe/Berlin", "2026-03-29T01:00:00", "2026-03-29T03:00:00+02:00", "CEST", "+02:00"),
        # New York falls back at 06:00 UTC: 02:00 EDT becomes 01:00 EST
        (
            "America/New_York",
            "2026-11-01T05:59:59",
            "2026-11-01T01:59:59-04:00",
            "EDT",
            "-04:00",
        ),
        (
            "America/New_York",
            "2026-11-01T06:00:00",
            "2026-11-01T01:00:00-05:00",
            "EST",
            "-05:00",
        ),
    ],
)
def test_offsets_before_and_after_dst_transitions(
    zone: str, utc: str, local: str, abbreviation: str, offset: str
) -> None:
    answer = _current_time(at(utc), zone)
    assert answer["datetime"] == local
    assert answer["abbreviation"] == abbreviation
    assert answer["utc_offset"] == offset
    assert answer["weekday"] == "Sunday"


def test_day_counts_are_calendar_days_across_dst() -> None:
    # 2026-03-28 to 2026-03-30 in Berlin is 47 hours, but two days
    answer = _current_time(NOW, "Europe/Berlin", date="2026-03-28", until="2026-03-30")
    assert answer["days_until"] == 2
    answer = _current_time(NOW, "America/New_York", date="2026-10-31", add_days=2)
    assert (answer["result_date"], answer["result_weekday"]) == ("2026-11-02", "Monday")


# -- date arithmetic ------------------------------------------------------------------------------


def test_weekday_of_a_date() -> None:
    answer = _current_time(NOW, date="2026-12-25")
    assert answer == {
        "timezone": "UTC",
        "today": "2026-01-15",
        "date": "2026-12-25",
        "weekday": "Friday",
    }
    assert _current_time(NOW, date="1969-07-20")["weekday"] == "Sunday"


@pytest.mark.parametrize(
    ("date", "days", "expected", "weekday"),
    [
        ("2024-02-28", 1, "2024-02-29", "Thursday"),  # leap year
        ("2026-02-28", 1, "2026-03-01", "Sunday"),  # common year
        ("2100-02-28", 1, "2100-03-01", "Monday"),  # divisible by 100: not leap
        ("2000-02-28", 1, "2000-02-29", "Tuesday"),  # divisible by 400: leap
        ("2026-03-01", -1, "2026-02-28", "Saturday"),  # negative
        ("2028-03-01", -1, "2028-02-29", "Tuesday"),
        ("2026-01-15", 0, "2026-01-15", "Thursday"),
    ],
)
def test_add_days(date: str, days: int, expected: str, weekday: str) -> None:
    answer = _current_time(NOW, date=date, add_days=days)
    assert answer["add_days"] == days
    assert answer["result_date"] == expected
    assert answer["result_weekday"] == weekday


def test_add_days_from_today_by_default() -> None:
    answer = _current_time(NOW, "Europe/Paris", add_days=30)
    assert answer["date"] == "2026-01-15"
    assert (answer["result_date"], answer["result_weekday"]) == ("2026-02-14", "Saturday")


@pytest.mark.parametrize(
    ("date", "until", "days"),
    [
        ("2024-01-01", "2025-01-01", 366),
        ("2026-01-01", "2027-01-01", 365),
        ("2026-01-15", "2026-12-25", 344),
        ("2026-12-25", "2026-01-15", -344),  # in the past: negative
        ("2026-01-15", "2026-01-15", 0),
    ],
)
def test_days_until(date: str, until: str, days: int) -> None:
    answer = _current_time(NOW, date=date, until=until)
    assert answer["days_until"] == days
    assert answer["until"] == until


def test_until_counts_from_today_and_names_the_weekday() -> None:
    answer = _current_time(NOW, until="2026-12-25")
    assert (answer["days_until"], answer["until_weekday"]) == (344, "Friday")


def test_add_days_and_until_together_both_count_from_the_base_date() -> None:
    answer = _current_time(NOW, date="2026-01-01", add_days=10, until="2026-01-31")
    assert answer["result_date"] == "2026-01-11"
    assert answer["days_until"] == 30


def test_dates_may_carry_spaces() -> None:
    assert _current_time(NOW, date=" 2026-12-25 ")["date"] == "2026-12-25"


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["Mars/Base", "Europe", "../etc/passwd", "/etc/localtime", ""])
def test_unknown_timezone_is_a_clear_error(zone: str) -> None:
    with pytest.raises(ToolError) as caught:
        _current_time(NOW, zone)
    assert str(caught.value) == (
        f"unknown timezone {zone!r} (use an IANA name such as 'Europe/Paris')"
    )


def test_nul_bytes_and_long_names_are_unknown_timezones() -> None:
    with pytest.raises(ToolError, match="unknown timezone"):
        _current_time(NOW, "Europe/Par\x00is")
    with pytest.raises(ToolError, match=r"unknown timezone 'xxx.*\.\.\.'"):
        _current_time(NOW, "x" * 5000)


@pytest.mark.parametrize(
    "bad", ["29/03/2026", "2026-3-9", "20260329", "2026-W13-7", "tomorrow", "2026-03-29T10:00"]
)
def test_bad_dates_are_errors(bad: str) -> None:
    with pytest.raises(ToolError, match=r"^date must be YYYY-MM-DD"):
        _current_time(NOW, date=bad)
    with pytest.raises(ToolError, match=r"^until must be YYYY-MM-DD"):
        _current_time(NOW, until=bad)


def test_impossible_calendar_dates_are_errors() -> None:
    with pytest.raises(ToolError, match=r"^date must be YYYY-MM-DD, got '2026-02-29'"):
        _current_time(NOW, date="2026-02-29")
    with pytest.raises(ToolError, match=r"^until must be YYYY-MM-DD"):
        _current_time(NOW, until="2026-13-01")


def test_add_days_is_bounded() -> None:
    assert _current_time(NOW, add_days=MAX_ADD_DAYS)["result_date"] == "2299-10-31"
    assert _current_time(NOW, add_days=-MAX_ADD_DAYS)["result_date"] == "1752-04-01"
    for days in (MAX_ADD_DAYS + 1, -MAX_ADD_DAYS - 1, 10**30):
        with pytest.raises(ToolError, match="add_days must be between -100000 and 100000"):
            _current_time(NOW, add_days=days)


def test_add_days_past_the_calendar_is_an_error() -> None:
    with pytest.raises(ToolError, match="outside the years 1 to 9999"):
        _current_time(NOW, date="9999-12-31", add_days=1)
    with pytest.raises(ToolError, match="outside the years 1 to 9999"):
        _current_time(NOW, date="0001-01-01", add_days=-1)


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        _current_time(datetime(2026, 1, 15, 12, 0))


# -- through the framework ------------------------------------------------------------------------


async def test_the_tool_answers_json_about_the_real_now(clock_tool: Tool) -> None:
    text = await clock_tool.ainvoke({"timezone": "Europe/Paris"})
    assert isinstance(text, str)
    answer = json.loads(text)
    assert answer["timezone"] == "Europe/Paris"
    moment = datetime.fromisoformat(answer["datetime"])
    assert abs(moment - datetime.now(UTC)) < timedelta(minutes=1)
    assert answer["abbreviation"] in {"CET", "CEST"}


async def test_the_tool_does_arithmetic(clock_tool: Tool) -> None:
    text = await clock_tool.ainvoke({"date": "2024-02-28", "add_days": 1, "until": "2024-03-01"})
    answer: dict[str, Any] = json.loads(text)
    assert answer["result_date"] == "2024-02-29"
    assert answer["days_until"] == 2


async def test_the_tool_returns_errors_as_text(clock_tool: Tool) -> None:
    text = await clock_tool.ainvoke({"timezone": "Mars/Base"})
    assert text == "unknown timezone 'Mars/Base' (use an IANA name such as 'Europe/Paris')"
    assert (await clock_tool.ainvoke({"date": "next friday"})).startswith("date must be YYYY-MM-DD")
    invalid = await clock_tool.ainvoke({"add_days": "many"})
    assert invalid.startswith("invalid arguments for current_time: add_days:")


async def test_checked_runs_raise_tool_errors(clock_tool: Tool) -> None:
    with pytest.raises(ToolError, match="unknown timezone 'Mars/Base'"):
        await clock_tool.arun_checked({"timezone": "Mars/Base"})


def test_schema_a_small_model_can_fill() -> None:
    (tool,) = create_tools(Settings())
    assert isinstance(tool, Tool)
    function = tool.json_schema()["function"]
    assert function["name"] == "current_time"
    parameters = function["parameters"]
    assert set(parameters["properties"]) == {"timezone", "date", "add_days", "until"}
    assert parameters.get("required", []) == []
    assert parameters["properties"]["timezone"]["default"] == "UTC"
    assert parameters["properties"]["timezone"]["maxLength"] == 64
    assert "YYYY-MM-DD" in parameters["properties"]["date"]["description"]


def test_registered_as_a_built_in() -> None:
    registry = ToolRegistry.from_settings(Settings())
    assert "current_time" in registry
    (info,) = [info for info in registry.info() if info.name == "current_time"]
    assert info.available


async def test_the_documented_example_runs(clock_tool: Tool) -> None:
    assert clock_tool.example == {"timezone": "Europe/Paris"}
    answer = json.loads(await clock_tool.arun_checked(clock_tool.example))
    assert answer["timezone"] == "Europe/Paris"
