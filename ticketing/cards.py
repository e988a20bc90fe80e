"""The deadline card rule (黄牌预警 / 红牌超期), defined once for the whole product.

Supervision's scan issues cards with it, every ticket JSON carries its result (``deadline_state``)
and the consoles only display that value. Times are naive UTC; working days are China's, from
``ticketing.deadlines.calendar`` (holidays and make-up workdays included).

- the sign deadline (``sign_by``) is watched while the ticket is ``dispatched`` (not yet signed);
  the reply deadline (``reply_by``) while it is ``dispatched`` or ``in_progress``.
- yellow from the start of the warning window, which opens N working days before the deadline (the
  deadline moved back N working days, same clock time; N = HOTLINE_WARNING_WORKDAYS or the per-type
  value of HOTLINE_WARNING_BY_TYPE). Hour-based (urgent) deadlines warn HOTLINE_WARNING_HOURS before.
- red once ``now`` is past the deadline.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from hotline.clock import iso, to_local, to_utc_naive, utcnow
from . import deadlines, lifecycle
from .sla import WorkCalendar

#: which deadline is watched in which statuses (sign before reply: it falls due first)
WATCHED = {"sign": (lifecycle.DISPATCHED,), "reply": (lifecycle.DISPATCHED, lifecycle.IN_PROGRESS)}
CARDS = ("none", "yellow", "red")


@dataclass(frozen=True)
class WarningRule:
    """How early the yellow card comes, from ``hotline.config.Config``."""

    workdays: int = 1
    by_type: dict[str, int] = field(default_factory=dict)
    hours: int = 4

    @classmethod
    def from_config(cls, config) -> "WarningRule":
        return cls(workdays=config.supervision_warning_workdays,
                   by_type=parse_by_type(config.supervision_warning_by_type),
                   hours=config.supervision_warning_hours)

    def workdays_for(self, ticket_type: str) -> int:
        return self.by_type.get(ticket_type, self.workdays)


def parse_by_type(raw: str) -> dict[str, int]:
    """``"投诉=2,举报=2"`` -> {"投诉": 2, "举报": 2}."""
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in (raw or "").split(","))):
        name, _, value = part.partition("=")
        try:
            out[name.strip()] = int(value)
        except ValueError:
            raise ValueError(f"HOTLINE_WARNING_BY_TYPE: {part!r} is not TYPE=WORKDAYS") from None
    return out


def current_rule() -> WarningRule:
    """The configured rule inside an app context, the defaults outside one."""
    from flask import current_app, has_app_context

    if has_app_context() and "HOTLINE" in current_app.config:
        return WarningRule.from_config(current_app.config["HOTLINE"])
    return WarningRule()


# -- the pure rule -------------------------------------------------------------------------------
def workdays_back(cal: WorkCalendar, day: date, n: int) -> date:
    """The ``n``-th working day before ``day`` (the inverse of ``add_workdays``)."""
    current, remaining = day, n
    while remaining > 0:
        current -= timedelta(days=1)
        if cal.is_workday(current)[0]:
            remaining -= 1
    return current


def warning_start(cal: WorkCalendar, deadline: datetime, workdays: int, *, hours: int | None = None) -> datetime:
    """When the warning window before ``deadline`` (naive UTC) opens."""
    if hours is not None:
        return deadline - timedelta(hours=hours)
    local = to_local(deadline)
    day = workdays_back(cal, local.date(), workdays)
    return to_utc_naive(datetime.combine(day, local.timetz()))


def due_card(now: datetime, deadline: datetime, warn_from: datetime) -> str | None:
    if now > deadline:
        return "red"
    if now >= warn_from:
        return "yellow"
    return None


def hour_based(session) -> set[tuple[str, str]]:
    """(type, urgency) pairs whose reply deadline counts natural hours (they warn in hours)."""
    return {(p["type"], p["urgency"]) for p in deadlines.policy_table(session) if p["reply_unit"] == "hours"}


def card_for(cal: WorkCalendar, hourly: set, rule: WarningRule, ticket, kind: str,
             now: datetime) -> tuple[str | None, datetime, datetime] | None:
    """(card or None, deadline, warning start) of ``ticket``'s ``kind`` deadline at ``now``;
    None when that deadline is not watched in the ticket's status or not set."""
    deadline = getattr(ticket, f"{kind}_by")
    if deadline is None or ticket.status not in WATCHED[kind]:
        return None
    hours = rule.hours if (ticket.type, ticket.urgency) in hourly else None
    warn_from = warning_start(cal, deadline, rule.workdays_for(ticket.type), hours=hours)
    return due_card(now, deadline, warn_from), deadline, warn_from


def card_state(session, ticket, now: datetime | None = None, rule: WarningRule | None = None) -> dict:
    """The ticket's card at ``now``: ``{"card": "none|yellow|red", "kind": "sign|reply"|None,
    "due": iso|None, "warning_from": iso|None}``. The worst card of the watched deadlines wins
    (sign first on a tie); without a card, the deadline that runs now is named."""
    now = now or utcnow()
    rule = rule or current_rule()
    cal, hourly = deadlines.calendar(session), hour_based(session)
    best = None
    for kind in WATCHED:
        found = card_for(cal, hourly, rule, ticket, kind, now)
        if found is None:
            continue
        rank = CARDS.index(found[0] or "none")
        if best is None or rank > best[0]:
            best = (rank, kind, found)
    if best is None:
        return {"card": "none", "kind": None, "due": None, "warning_from": None}
    _, kind, (card, deadline, warn_from) = best
    return {"card": card or "none", "kind": kind, "due": iso(deadline), "warning_from": iso(warn_from)}
