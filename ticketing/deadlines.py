"""Deadline service: the SLA policy table and the working calendar as stored in the database."""
from __future__ import annotations

import threading
import time
from datetime import date

from sqlalchemy import delete, select

from hotline.clock import to_local, utcnow
from hotline.exceptions import ValidationFailed
from .models import CalendarDay, CalendarYear, SlaPolicy, Ticket
from .sla import DEFAULT_POLICY, TYPES, UNITS, URGENCIES, Deadline, WorkCalendar, deadline_after, official_year_known

_CACHE_SECONDS = 30.0
_lock = threading.Lock()
_cache: dict = {"calendar": None, "policy": None, "at": 0.0}


def invalidate_cache() -> None:
    with _lock:
        _cache.update(calendar=None, policy=None, at=0.0)


def _load(session) -> tuple[WorkCalendar, dict]:
    with _lock:
        if _cache["calendar"] is not None and time.monotonic() - _cache["at"] < _CACHE_SECONDS:
            return _cache["calendar"], _cache["policy"]
    overrides = {d.day: d.is_workday for d in session.scalars(select(CalendarDay))}
    years = frozenset(session.scalars(select(CalendarYear.year)))
    policy = dict(DEFAULT_POLICY)
    for p in session.scalars(select(SlaPolicy)):
        policy[(p.type, p.urgency)] = (p.sign_amount, p.sign_unit, p.reply_amount, p.reply_unit)
    cal = WorkCalendar(overrides=overrides, admin_years=years)
    with _lock:
        _cache.update(calendar=cal, policy=policy, at=time.monotonic())
    return cal, policy


def calendar(session) -> WorkCalendar:
    return _load(session)[0]


def compute(session, ticket_type: str, urgency: str, received_utc) -> tuple[Deadline, Deadline]:
    cal, policy = _load(session)
    sign_amount, sign_unit, reply_amount, reply_unit = policy[(ticket_type, urgency)]
    return (deadline_after(cal, received_utc, sign_amount, sign_unit),
            deadline_after(cal, received_utc, reply_amount, reply_unit))


def apply_to(session, ticket: Ticket, start_utc) -> None:
    sign, reply = compute(session, ticket.type, ticket.urgency, start_utc)
    ticket.sign_by, ticket.reply_by = sign.at, reply.at
    years = sorted(sign.estimated_years | reply.estimated_years)
    ticket.deadline_estimated_years = years or None


# -- admin ------------------------------------------------------------------------------------
def policy_table(session) -> list[dict]:
    _, policy = _load(session)
    return [{"type": t, "urgency": u, "sign_amount": v[0], "sign_unit": v[1],
             "reply_amount": v[2], "reply_unit": v[3]} for (t, u), v in sorted(policy.items())]


def set_policy(session, rows: list[dict]) -> list[dict]:
    fields = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            fields[f"{i}"] = "expected an object"
            continue
        if row.get("type") not in TYPES:
            fields[f"{i}.type"] = f"must be one of {', '.join(TYPES)}"
        if row.get("urgency") not in URGENCIES:
            fields[f"{i}.urgency"] = "must be normal or urgent"
        for key in ("sign", "reply"):
            amount, unit = row.get(f"{key}_amount"), row.get(f"{key}_unit")
            if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= 365:
                fields[f"{i}.{key}_amount"] = "must be an integer between 1 and 365"
            if unit not in UNITS:
                fields[f"{i}.{key}_unit"] = "must be workdays or hours"
    if fields:
        raise ValidationFailed("invalid policy rows", fields)
    for row in rows:
        existing = session.scalar(select(SlaPolicy).where(
            SlaPolicy.type == row["type"], SlaPolicy.urgency == row["urgency"]))
        if existing is None:
            existing = SlaPolicy(type=row["type"], urgency=row["urgency"])
            session.add(existing)
        for key in ("sign_amount", "sign_unit", "reply_amount", "reply_unit"):
            setattr(existing, key, row[key])
    session.commit()
    invalidate_cache()
    return policy_table(session)


def enter_year(session, year: int, holidays: list, workdays: list, actor: str) -> dict:
    """Admins enter a year's official holidays and make-up workdays in one go (replacing any)."""
    fields = {}
    if not 2000 <= year <= 2100:
        fields["year"] = "must be between 2000 and 2100"
    parsed: dict[date, tuple[bool, str | None]] = {}
    for key, is_workday in (("holidays", False), ("workdays", True)):
        items = holidays if key == "holidays" else workdays
        if not isinstance(items, list):
            fields[key] = "must be a list"
            continue
        for i, item in enumerate(items):
            raw, name = (item.get("date"), item.get("name")) if isinstance(item, dict) else (item, None)
            try:
                day = date.fromisoformat(str(raw))
            except ValueError:
                fields[f"{key}.{i}"] = f"not an ISO date: {raw!r}"
                continue
            if day.year != year:
                fields[f"{key}.{i}"] = f"{day} is not in {year}"
            elif day in parsed:
                fields[f"{key}.{i}"] = f"{day} listed twice"
            parsed[day] = (is_workday, name)
    if fields:
        raise ValidationFailed("invalid calendar", fields)
    session.execute(delete(CalendarDay).where(CalendarDay.day >= date(year, 1, 1),
                                              CalendarDay.day <= date(year, 12, 31)))
    for day, (is_workday, name) in parsed.items():
        session.add(CalendarDay(day=day, is_workday=is_workday, name=name, entered_by=actor))
    if session.get(CalendarYear, year) is None:
        session.add(CalendarYear(year=year, entered_by=actor))
    session.commit()
    invalidate_cache()
    return calendar_status(session)


def calendar_status(session, years: range | None = None) -> dict:
    """Which years have working-calendar data, and which open tickets use a guessed one."""
    cal = calendar(session)
    this_year = to_local(utcnow()).year  # China's year, and the test clock when frozen
    years = years or range(this_year - 1, this_year + 3)
    status = []
    for y in years:
        source = "admin" if y in cal.admin_years else "official" if official_year_known(y) else "missing"
        status.append({"year": y, "source": source})
    estimated = session.scalar(select(Ticket.id).where(Ticket.deadline_estimated_years.isnot(None)).limit(1))
    warnings = [f"{s['year']}年工作日历缺失：截止时间按周一至周五估算，请管理员录入节假日与调休安排"
                for s in status if s["source"] == "missing"]
    return {"years": status, "warnings": warnings, "tickets_with_estimated_deadlines": estimated is not None}
