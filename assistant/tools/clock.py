"""The built-in ``current_time`` tool: the time now in any IANA timezone, and date arithmetic.

Small models cannot know the date and are poor at calendar arithmetic, so one tool does both:
with no extra argument it tells the current date-time in a zone; ``date`` sets a base date
(today by default), ``add_days`` shifts it and ``until`` counts the days from it to another
date. The work is done by :func:`_current_time`, which takes "now" as an argument so tests can
pin it (DST transitions included); the tool passes ``datetime.now(UTC)``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from collections.abc import Iterable
from typing import Annotated, Any

from langchain_core.tools import BaseTool
from pydantic import Field

from assistant.config import Settings
from assistant.errors import ToolError
from assistant.tools.framework import make_tool

MAX_ADD_DAYS = 100_000
"""Largest shift in days, either way (about 270 years)."""

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@functools.cache
def _zone_names_by_folded_name() -> dict[str, str]:
    """Every known IANA name, keyed by its case-folded form (scans the zone files once)."""
    return {name.casefold(): name for name in zoneinfo.available_timezones()}


def _shown(value: str, limit: int = 64) -> str:
    """A user-supplied value quoted for an error message, cut to ``limit`` characters."""
    return repr(value if len(value) <= limit else value[:limit] + "...")


def _zone(name: str) -> zoneinfo.ZoneInfo:
    """The zone called ``name``; case is forgiven ("europe/paris"), anything else is an error."""
    key = name.strip()
    try:
        return zoneinfo.ZoneInfo(key)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError: absolute or ".." paths, NUL bytes; OSError: a folder such as "Europe"
        pass
    canonical = _zone_names_by_folded_name().get(key.casefold())
    if canonical is not None:
        return zoneinfo.ZoneInfo(canonical)
    raise ToolError(f"unknown timezone {_shown(name)} (use an IANA name such as 'Europe/Paris')")


def _parse_date(value: str, argument: str) -> dt.date:
    text = value.strip()
    if not _DATE.fullmatch(text):
        raise ToolError(f"{argument} must be YYYY-MM-DD, got {_shown(value)}")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise ToolError(f"{argument} must be YYYY-MM-DD, got {_shown(value)}: {exc}") from None


def _offset(moment: dt.datetime) -> str:
    """The UTC offset as ``+HH:MM`` (``+05:45``, ``-03:30``)."""
    offset = moment.utcoffset() or dt.timedelta(0)
    sign = "-" if offset < dt.timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _current_time(
    now: dt.datetime,
    timezone: str = "UTC",
    date: str | None = None,
    add_days: int | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    """What :func:`current_time` answers, with ``now`` (an aware datetime) given.

    Without ``date``, ``add_days`` or ``until``: the current date-time in ``timezone``. With any
    of them: the base date (``date``, else today in the zone) and its weekday, plus the shifted
    date (``add_days``) and the day count from the base date to ``until``.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    zone = _zone(timezone)
    local = now.astimezone(zone).replace(microsecond=0)
    if date is None and add_days is None and until is None:
        return {
            "timezone": zone.key,
            "datetime": local.isoformat(),
            "date": local.date().isoformat(),
            "time": local.time().isoformat(),
            "weekday": _WEEKDAYS[local.weekday()],
            "abbreviation": local.tzname(),
            "utc_offset": _offset(local),
        }

    base = _parse_date(date, "date") if date is not None else local.date()
    result: dict[str, Any] = {
        "timezone": zone.key,
        "today": local.date().isoformat(),
        "date": base.isoformat(),
        "weekday": _WEEKDAYS[base.weekday()],
    }
    if add_days is not None:
        if abs(add_days) > MAX_ADD_DAYS:
            raise ToolError(f"add_days must be between -{MAX_ADD_DAYS} and {MAX_ADD_DAYS}")
        try:
            shifted = base + dt.timedelta(days=add_days)
        except OverflowError:
            raise ToolError("add_days takes the date outside the years 1 to 9999") from None
        result |= {
            "add_days": add_days,
            "result_date": shifted.isoformat(),
            "result_weekday": _WEEKDAYS[shifted.weekday()],
        }
    if until is not None:
        target = _parse_date(until, "until")
        result |= {
            "until": target.isoformat(),
            "until_weekday": _WEEKDAYS[target.weekday()],
            "days_until": (target - base).days,
        }
    return result


def current_time(
    timezone: Annotated[str, Field(max_length=64)] = "UTC",
    date: Annotated[str | None, Field(max_length=32)] = None,
    add_days: int | None = None,
    until: Annotated[str | None, Field(max_length=32)] = None,
) -> dict[str, Any]:
    """Tell the current date and time in a timezone, and do date arithmetic.

    With only a timezone, answers the date, time and weekday there now. Give date to get the
    weekday of that date, add_days to move a date by some days, until to count the days to a
    date.

    Args:
        timezone: IANA timezone name, e.g. "Europe/Paris", "America/New_York" or "UTC".
        date: A date as YYYY-MM-DD; leave empty for today.
        add_days: Days to add to the date (negative to go back).
        until: Another date as YYYY-MM-DD: counts the days from the date to it.
    """
    return _current_time(dt.datetime.now(dt.UTC), timezone, date, add_days, until)


def create_tools(settings: Settings) -> Iterable[BaseTool]:
    """Entry point of the built-in ``current_time`` tool."""
    return [
        make_tool(
            current_time, timeout=settings.tools.timeout, example={"timezone": "Europe/Paris"}
        )
    ]
