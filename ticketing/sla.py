"""Deadlines: the policy table (type x urgency -> sign-by, reply-by) and China's working calendar.

Working days come from ``chinese-calendar`` (official holidays and make-up workdays). That data is
published a year at a time; for a year it does not know, admins enter the holidays and make-up
days (``CalendarDay`` rows plus a ``CalendarYear`` marker). Until they do, the year falls back to
Monday-Friday and every deadline computed through it is flagged ``estimated`` so supervisors see
a warning instead of a silently wrong date.

Rule: a deadline of N working days ends at 23:59:59 China time on the N-th working day after the
day the ticket was received (that day itself does not count). Hours are natural hours.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import chinese_calendar

from hotline.clock import CST, to_local, to_utc_naive

TYPES = ("咨询", "求助", "投诉", "举报", "建议", "表扬", "申请")
URGENCIES = ("normal", "urgent")
UNITS = ("workdays", "hours")

#: Guangdong 12345 管理办法 (2022): 咨询 2, 求助/建议 10, 投诉/举报 15 working days.
#: 表扬 and 申请 are not in the rules; 5 and 10 working days are this project's choice.
DEFAULT_POLICY: dict[tuple[str, str], tuple[int, str, int, str]] = {}
for _type, _days in {"咨询": 2, "求助": 10, "建议": 10, "投诉": 15, "举报": 15, "表扬": 5, "申请": 10}.items():
    DEFAULT_POLICY[(_type, "normal")] = (1, "workdays", _days, "workdays")
    DEFAULT_POLICY[(_type, "urgent")] = (2, "hours", 24, "hours")


@lru_cache(maxsize=None)
def official_year_known(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
        return True
    except NotImplementedError:
        return False


@lru_cache(maxsize=8192)
def official_is_workday(day: date) -> bool:
    """chinese-calendar validates its whole table on every call (~0.25 ms); dates never change."""
    return chinese_calendar.is_workday(day)


@dataclass
class WorkCalendar:
    """A working-day calendar: official data, admin overrides, and a flagged weekday fallback."""

    overrides: dict[date, bool] = field(default_factory=dict)  # date -> is a workday
    admin_years: frozenset[int] = frozenset()

    def is_workday(self, day: date) -> tuple[bool, bool]:
        """(is a working day, estimated because no data exists for its year)."""
        if day in self.overrides:
            return self.overrides[day], False
        if day.year in self.admin_years:
            return day.weekday() < 5, False
        if official_year_known(day.year):
            return official_is_workday(day), False
        return day.weekday() < 5, True

    def add_workdays(self, start: date, days: int) -> tuple[date, set[int]]:
        """The ``days``-th working day after ``start``; plus the years that had no data."""
        if days < 0:
            raise ValueError("days must be >= 0")
        estimated: set[int] = set()
        current = start
        remaining = days
        while remaining > 0:
            current += timedelta(days=1)
            workday, guess = self.is_workday(current)
            if guess:
                estimated.add(current.year)
            if workday:
                remaining -= 1
        return current, estimated

    def workdays_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative when end is before start."""
        sign = 1
        if end < start:
            start, end, sign = end, start, -1
        count, current = 0, start
        while current < end:
            current += timedelta(days=1)
            if self.is_workday(current)[0]:
                count += 1
        return sign * count


@dataclass(frozen=True)
class Deadline:
    at: datetime  # naive UTC
    estimated_years: frozenset[int]


def deadline_after(calendar: WorkCalendar, received_utc: datetime, amount: int, unit: str) -> Deadline:
    if unit == "hours":
        return Deadline(received_utc + timedelta(hours=amount), frozenset())
    if unit != "workdays":
        raise ValueError(f"unknown unit {unit!r}")
    local_day = to_local(received_utc).date()
    day, estimated = calendar.add_workdays(local_day, amount)
    end = datetime.combine(day, time(23, 59, 59), tzinfo=CST)
    return Deadline(to_utc_naive(end), frozenset(estimated))


def extend(calendar: WorkCalendar, deadline_utc: datetime, workdays: int) -> Deadline:
    """Move a deadline by ``workdays`` working days, keeping its clock time."""
    local = to_local(deadline_utc)
    day, estimated = calendar.add_workdays(local.date(), workdays)
    moved = datetime.combine(day, local.timetz())
    return Deadline(to_utc_naive(moved), frozenset(estimated))
