"""Seeded tickets for the reports' tests, and the expected figures computed here from those rows.

``seed`` inserts ticket rows with the history the KPIs read (dispatch, return, approve_reply,
callback events; approved extensions) in bulk, then the product's rollup is rebuilt from them.
``expected`` recomputes every figure from the seeded specs with this module's own reading of the
KPI definitions (README / supervision.kpis docstring), never calling the product's functions.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select

from hotline.clock import to_local, utcnow
from ticketing.models import Department, Extension, Ticket, TicketEvent, Town
from ticketing.sla import TYPES

UNITS = ("housing", "water", "market")
SATISFACTION = ("满意", "基本满意", "不满意")


@dataclass
class Spec:
    id: int
    number: str
    type: str
    unit: str | None  # current main unit; None: answered directly
    returned_by: str | None
    town: str | None  # town code
    phone: str | None
    received_at: datetime
    sign_by: datetime | None = None
    signed_at: datetime | None = None
    reply_by: datetime | None = None
    replied_at: datetime | None = None
    approved: bool = False
    satisfaction: str | None = None
    solved: bool = False
    extended: bool = False
    counted: dict = field(default_factory=dict)

    @property
    def day(self) -> date:
        return to_local(self.received_at).date()


def seed(session, n: int = 240) -> list[Spec]:
    """``n`` tickets received over the last 25 days (and a few 40 days ago: outside a 26-day period),
    three units, three towns (and none), every KPI's numerator and denominator non-trivial. Commits."""
    now = utcnow().replace(microsecond=0)
    depts = {d.code: d.id for d in session.scalars(select(Department))}
    towns = [t.code for t in session.scalars(select(Town).order_by(Town.id))][:3]
    town_ids = {t.code: t.id for t in session.scalars(select(Town))}
    specs, rows = [], []
    for i in range(n):
        received = now - timedelta(days=(i * 7) % 25 if i % 40 else 40, hours=i % 5, minutes=i)
        unit = None if i % 5 == 4 else UNITS[i % 3]
        s = Spec(id=100000 + i, number=f"2097{i:010d}", type=TYPES[i % len(TYPES)], unit=unit,
                 returned_by=UNITS[(i + 1) % 3] if unit and i % 8 == 2 else None,
                 town=None if i % 6 == 0 else towns[i % 3], phone=None if i % 10 == 3 else f"1390000{i % 150:04d}",
                 received_at=received)
        if unit:
            s.sign_by, s.reply_by = received + timedelta(days=1), received + timedelta(days=10)
            if i % 9:
                s.signed_at = received + timedelta(hours=2 if i % 4 != 1 else 30)
                if i % 7 != 6:
                    s.replied_at = received + timedelta(days=3 if i % 3 else 11)
                    s.approved = i % 5 != 1
                    if s.approved and i % 3 != 2:
                        s.satisfaction, s.solved = SATISFACTION[i % 3], bool(i % 2)
            s.extended = i % 11 == 5
        status = "closed" if s.satisfaction or not unit else "callback" if s.approved else \
            "replied" if s.replied_at else "in_progress" if s.signed_at else "dispatched"
        specs.append(s)
        rows.append({"id": s.id, "number": s.number, "channel": "phone", "type": s.type, "urgency": "normal",
                     "status": status, "caller_name": "测试市民", "caller_phone": s.phone, "confidential": False,
                     "content": f"报表测试 第{i}号 诉求", "town_id": town_ids.get(s.town),
                     "main_department_id": depts[unit] if unit else None, "received_at": received,
                     "sign_by": s.sign_by, "reply_by": s.reply_by, "dispatched_at": received if unit else None,
                     "signed_at": s.signed_at, "replied_at": s.replied_at, "satisfaction": s.satisfaction,
                     "solved": s.solved if s.satisfaction else None,
                     "direct_answer": None if unit else {"answer": "知识库答复"}, "reopen_count": 0,
                     "created_by": "bulk", "created_at": received, "updated_at": now, "event_count": 0,
                     "head_hash": "", "version": 1})
    session.execute(Ticket.__table__.insert(), rows)
    events, extensions = [], []
    for s in specs:
        history = []
        if s.returned_by:
            history += [("dispatch", {"main_department": {"code": s.returned_by}}),
                        ("return", {"department": {"code": s.returned_by}})]
        if s.unit:
            history.append(("dispatch", {"main_department": {"code": s.unit}}))
        if s.approved:
            history.append(("approve_reply", {}))
        if s.satisfaction:
            history.append(("callback", {"satisfaction": s.satisfaction, "solved": s.solved}))
        for seq, (action, data) in enumerate(history, 1):
            events.append({"ticket_id": s.id, "seq": seq, "action": action, "actor": "bulk", "actor_role": "operator",
                           "to_status": "dispatched", "data": data, "created_at": s.received_at,
                           "prev_hash": "", "hash": f"{s.id}-{seq}"})
        if s.extended:
            extensions.append({"ticket_id": s.id, "department_id": depts[s.unit], "workdays": 5, "reason": "测试",
                               "status": "approved", "requested_by": s.unit, "requested_at": s.received_at})
    session.execute(TicketEvent.__table__.insert(), events)
    session.execute(Extension.__table__.insert(), extensions)
    session.commit()
    return specs


def _repeat(specs: list[Spec], s: Spec, days: int = 30) -> bool:
    return bool(s.phone) and any(o is not s and o.phone == s.phone
                                 and s.received_at - timedelta(days=days) <= o.received_at <= s.received_at
                                 and (o.received_at, o.id) < (s.received_at, s.id) for o in specs)


def counters(specs: list[Spec], start: date, end: date) -> dict[str, dict[str, dict]]:
    """Per unit code ("" = not dispatched), town code ("" = none), type and day: the counted ticket
    numbers behind each numerator/denominator, from the specs alone."""
    out: dict[str, dict] = {"unit": defaultdict(lambda: defaultdict(set)), "town": defaultdict(lambda: defaultdict(set)),
                            "type": defaultdict(lambda: defaultdict(set)), "day": defaultdict(lambda: defaultdict(set))}
    for s in specs:
        if not start <= s.day <= end:
            continue
        marks = {"received": True, "holding": s.unit is not None,
                 "signed_on_time": s.unit and s.signed_at is not None and s.signed_at <= s.sign_by,
                 "replied_on_time": s.unit and s.replied_at is not None and s.replied_at <= s.reply_by,
                 "extended": s.extended, "callback_due": s.approved, "called_back": s.satisfaction is not None,
                 "satisfied": s.satisfaction in ("满意", "基本满意"), "has_phone": s.phone is not None,
                 "repeat_call": _repeat(specs, s)}
        for dim, key in (("unit", s.unit or ""), ("town", s.town or ""), ("type", s.type), ("day", s.day.isoformat())):
            for name, on in marks.items():
                if on:
                    out[dim][key][name].add(s.number)
            if s.unit:
                out[dim][key]["dispatched"].add(s.number)
            if s.returned_by:
                rk = s.returned_by if dim == "unit" else key
                out[dim][rk]["dispatched"].add(s.number + "/returned")
                out[dim][rk]["returned"].add(s.number)
    return out


RATES = {  # column -> (numerator, denominator) in this module's own words
    "sign_rate": ("signed_on_time", "holding"), "on_time_rate": ("replied_on_time", "holding"),
    "callback_rate": ("called_back", "callback_due"), "satisfaction_rate": ("satisfied", "called_back"),
    "repeat_rate": ("repeat_call", "has_phone"), "return_rate": ("returned", "dispatched"),
    "extension_rate": ("extended", "holding"),
}


def shown(c: dict, column: str) -> str:
    """The text a figure should show: counts as integers, rates as percent with one decimal."""
    if column == "received":
        return str(len(c["received"]))
    num, den = RATES[column]
    d = len(c[den])
    return "—" if not d else f"{round(len(c[num]) / d, 4) * 100:.1f}%"
