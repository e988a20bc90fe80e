"""The supervisor's 报表 (reports): the norms' KPIs over a period, grouped by unit, type, town, day,
week or month, sorted/ranked on the server, with the tickets behind every figure.

Every figure comes from the KPI rollups (``supervision.kpis`` defines each KPI once: label,
numerator, denominator and the description shown on hover and in exports); this module only
chooses the rows, buckets days into weeks/months, orders and formats. The drill-down
(``tickets``) lists the ``kpi_ticket_facts`` rows whose counter the figure sums, so the list is
exactly the counted tickets. Exports (``supervision.report_export``) write the same ``text`` the
page shows.

Call KPIs (接通率, 15秒接通率, 平均等待/通话时长) exist per day only (calls have no unit, type or
town): they fill day/week/month rows and the totals, and are empty ("—") in other groupings; they
have no ticket drill-down.
"""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from sqlalchemy.orm import selectinload

from hotline.clock import iso
from hotline.exceptions import ValidationFailed
from routing.calls.kpis import CALL_COUNTERS, call_rates
from ticketing.models import Department, Ticket, Town
from ticketing.sla import TYPES

from . import kpis
from .models import ALL_TYPES, ALL_UNITS, COUNTERS, KpiDaily, KpiMonthly, KpiTicketFact, KpiTownDaily

GROUPS = ("unit", "type", "town", "day", "week", "month")
GROUP_LABELS = {"unit": "承办单位", "type": "诉求类型", "town": "镇街", "day": "日", "week": "周", "month": "月"}
TICKET_COLUMNS = ("sign_rate", "on_time_rate", "callback_rate", "satisfaction_rate", "repeat_rate",
                  "return_rate", "extension_rate")
CALL_COLUMNS = ("answer_rate", "answer_15s_rate", "avg_wait", "avg_talk")
LOWER_IS_BETTER = {"return_rate", "extension_rate", "repeat_rate", "reopen_rate", "avg_wait"}
NO_TOWN = "未填镇街"
PARTS = ("numerator", "denominator")


def columns(answer_target: int) -> list[dict]:
    """The table's columns in order: what each is, how it is formatted, what its drill-down counts."""
    defs = {d["key"]: d for d in kpis.definitions(answer_target)}
    cols = [{"key": "received", "label": "受理量", "kind": "count", "description": kpis.DESCRIPTIONS["received"],
             "numerator": "received", "denominator": None, "drill": True}]
    for key in TICKET_COLUMNS + CALL_COLUMNS:
        d = defs[key]
        cols.append({"key": key, "label": d["label"], "kind": "seconds" if key.startswith("avg") else "rate",
                     "description": d["description"], "numerator": d["numerator"], "denominator": d["denominator"],
                     "drill": key in TICKET_COLUMNS, "lower_is_better": key in LOWER_IS_BETTER})
    return cols


def fmt(kind: str, value) -> str:
    """The one formatting of a figure: the page shows it, CSV writes it, XLSX's number format equals it."""
    if value is None:
        return "—"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "seconds":
        return f"{value:.1f}"
    return str(value)


def _values(counts: dict, calls: dict | None, answer_target: int) -> dict:
    out = {"received": counts["received"]}
    out.update({k: v for k, v in kpis.ticket_kpis(counts).items() if k in TICKET_COLUMNS})
    rates = call_rates(calls, answer_target) if calls else {}
    out.update({k: rates.get(k) for k in CALL_COLUMNS})
    return out


def _row(key: str, label: str, counts: dict, calls: dict | None, cols: list[dict], answer_target: int) -> dict:
    values = _values(counts, calls, answer_target)
    return {"key": key, "label": label, "counts": counts, "calls": calls, "values": values,
            "text": {c["key"]: fmt(c["kind"], values[c["key"]]) for c in cols}}


def _add(into: dict, counts: dict | None) -> None:
    for k, v in (counts or {}).items():
        into[k] = into.get(k, 0) + v


def bucket(day: date, group: str) -> tuple[str, str]:
    """(key, label) of the week (Monday first) or month a day falls in."""
    if group == "week":
        monday = day - timedelta(days=day.weekday())
        y, w, _ = day.isocalendar()
        return monday.isoformat(), f"{y}年第{w}周（{monday.isoformat()}起）"
    return day.strftime("%Y-%m"), f"{day.year}年{day.month}月"


def bucket_range(key: str, group: str, start: date, end: date) -> tuple[date, date]:
    """The days of one row's bucket within the period (for the drill-down)."""
    try:
        if group == "day":
            lo = hi = date.fromisoformat(key)
        elif group == "week":
            lo = date.fromisoformat(key)
            hi = lo + timedelta(days=6)
        else:
            lo = date.fromisoformat(key + "-01")
            hi = kpis._next_month(lo) - timedelta(days=1)
    except ValueError:
        raise ValidationFailed("invalid key", {"key": f"not a {group} of this report"}) from None
    return max(lo, start), min(hi, end)


def report(session, start: date, end: date, group: str, *, answer_target: int, department_id: int | None = None,
           ticket_type: str | None = None, sort: str | None = None, order: str = "desc") -> dict:
    """Rows of ``group`` with values and their display text, the totals, columns and definitions.
    ``sort``: a column key (rows ranked by it, ``rank`` set; ties by key) or None (natural order)."""
    if group not in GROUPS:
        raise ValidationFailed("invalid group_by", {"group_by": f"one of {', '.join(GROUPS)}"})
    cols = columns(answer_target)
    if sort and sort not in {c["key"] for c in cols} | {"key"}:
        raise ValidationFailed("invalid sort", {"sort": f"one of key, {', '.join(c['key'] for c in cols)}"})
    if order not in ("asc", "desc"):
        raise ValidationFailed("invalid order", {"order": "asc or desc"})
    if group == "town" and (department_id is not None or ticket_type):
        raise ValidationFailed("town grouping covers all units and types",
                               {"group_by": "town cannot be combined with department or type"})
    base = None
    if group in ("unit", "type", "day"):
        base = kpis.report(session, start, end, {"unit": "department", "type": "type"}.get(group, "day"),
                           answer_target=answer_target, department_id=department_id, ticket_type=ticket_type)
    rows = []
    if group in ("unit", "type", "day"):
        for r in base["rows"]:
            calls = (r.get("calls") or {}).get("counts")
            rows.append(_row(r["key"], r["label"], r["counts"], calls, cols, answer_target))
    elif group in ("week", "month"):
        rows = _bucketed(session, start, end, group, department_id, ticket_type, cols, answer_target)
    else:
        rows = _town_rows(session, start, end, cols, answer_target)
    total_counts = dict.fromkeys(COUNTERS, 0)
    for r in rows:
        _add(total_counts, r["counts"])
    total_calls = (base or {}).get("calls", {}).get("counts") if base else None
    if group in ("town", "week", "month") and department_id is None and not ticket_type:
        total_calls = kpis._calls(session, start, end)["total"]
    total = _row("", "合计", total_counts, total_calls if any((total_calls or {}).values()) else None, cols,
                 answer_target)
    _order(rows, sort, order)
    return {"from": start.isoformat(), "to": end.isoformat(), "group_by": group, "group_label": GROUP_LABELS[group],
            "sort": sort, "order": order, "columns": cols, "rows": rows, "total": total,
            "department": department_id, "type": ticket_type, "answer_target_seconds": answer_target}


def _bucketed(session, start: date, end: date, group: str, department_id, ticket_type, cols, answer_target) -> list[dict]:
    """Weeks or months: the counters of the unit/type (or all) summed per bucket in Python from the
    whole months of ``kpi_monthly`` (months only) and the days of ``kpi_daily``; calls per day from
    ``call_daily``. At most a few thousand small rows whatever the number of tickets."""
    unit = ALL_UNITS if department_id is None else department_id
    kind = ticket_type or ALL_TYPES
    parts = []
    if group == "month":
        day_ranges, months = kpis.split_period(start, end)
        if months:
            parts.append((KpiMonthly, KpiMonthly.month, *months))
    else:
        day_ranges = [(start, end)]
    parts += [(KpiDaily, KpiDaily.day, lo, hi) for lo, hi in day_ranges]
    buckets: dict[str, dict] = {}
    for model, period, lo, hi in parts:
        for r in session.execute(select(period, *[getattr(model, c) for c in COUNTERS])
                                 .where(period >= lo, period <= hi, model.department_id == unit, model.type == kind)):
            key, label = bucket(r[0], group)
            b = buckets.setdefault(key, {"label": label, "counts": dict.fromkeys(COUNTERS, 0), "calls": None})
            for c, v in zip(COUNTERS, r[1:]):
                b["counts"][c] += v
    if department_id is None and not ticket_type:
        for day_key, counts in kpis._calls(session, start, end)["by_day"].items():
            key, label = bucket(date.fromisoformat(day_key), group)
            b = buckets.setdefault(key, {"label": label, "counts": dict.fromkeys(COUNTERS, 0), "calls": None})
            b["calls"] = b["calls"] or dict.fromkeys(CALL_COUNTERS, 0)
            _add(b["calls"], counts)
    return [_row(k, b["label"], b["counts"], b["calls"], cols, answer_target) for k, b in sorted(buckets.items())]


def _town_rows(session, start: date, end: date, cols, answer_target) -> list[dict]:
    sums = [func.coalesce(func.sum(getattr(KpiTownDaily, c)), 0).label(c) for c in COUNTERS]
    grouped = session.execute(select(KpiTownDaily.town_id, *sums)
                              .where(KpiTownDaily.day >= start, KpiTownDaily.day <= end)
                              .group_by(KpiTownDaily.town_id)).all()
    towns = {t.id: t for t in session.scalars(select(Town))}
    rows = []
    for r in grouped:
        counts = {c: int(getattr(r, c)) for c in COUNTERS}
        if not any(counts.values()):
            continue
        t = towns.get(r.town_id)
        rows.append(_row(t.code if t else "", t.name if t else NO_TOWN, counts, None, cols, answer_target))
    rows.sort(key=lambda r: (r["key"] == "", r["key"]))
    return rows


def _order(rows: list[dict], sort: str | None, order: str) -> None:
    if not sort or sort == "key":
        if sort == "key" and order == "desc":
            rows.reverse()
        return
    sign = -1 if order == "desc" else 1
    rows.sort(key=lambda r: (r["values"][sort] is None, sign * (r["values"][sort] or 0), r["key"]))
    rank, last = 0, object()
    for n, r in enumerate(rows, 1):
        v = r["values"][sort]
        if v is None:
            r["rank"] = None
            continue
        if v != last:
            rank, last = n, v
        r["rank"] = rank


# -- drill-down: the tickets behind a figure ------------------------------------------------------
def _counter_expr(spec: str):
    """The facts' counter (or ``a - b``) that a numerator/denominator names."""
    if " - " in spec:
        a, b = spec.split(" - ")
        return getattr(KpiTicketFact, a) - getattr(KpiTicketFact, b)
    return getattr(KpiTicketFact, spec)


MULTI = {"dispatched", "returned"}  # counters a single fact may hold more than once (dispatched - returned: 0/1)


def _figure(session, start, end, group, key, spec, answer_target, department_id, ticket_type) -> int:
    """The sum the report shows for ``spec`` in row ``key`` (None: the totals row), read from the
    narrowest report that holds that row (one unit, one type, the bucket's days)."""
    kw = {"answer_target": answer_target, "department_id": department_id, "ticket_type": ticket_type}
    if key is None:
        row = report(session, start, end, "town" if group == "town" else "type", **kw)["total"]
    elif group in ("day", "week", "month"):
        lo, hi = bucket_range(key, group, start, end)
        row = report(session, lo, hi, "type", **kw)["total"]
    else:
        if group == "unit" and department_id is None:
            kw["department_id"] = session.scalar(select(Department.id).where(Department.code == key)) if key else 0
        if group == "type" and not ticket_type:
            kw["ticket_type"] = key
        row = next((r for r in report(session, start, end, group, **kw)["rows"] if r["key"] == key), None)
    if row is None:
        return 0
    counts = row["counts"]
    if " - " in spec:
        a, b = spec.split(" - ")
        return counts[a] - counts[b]
    return counts[spec]


def tickets(session, start: date, end: date, group: str, key: str | None, column: str, part: str, *,
            answer_target: int, department_id: int | None = None, ticket_type: str | None = None,
            page: int = 1, per_page: int = 50) -> dict:
    """The tickets a figure counts: ``column``'s numerator or denominator in the row ``key`` of the
    report ``group`` (``key`` omitted: the totals row), newest first, paged. ``figure`` is the sum
    the report shows; each item's ``count`` is what the ticket adds to it (1 except a unit that
    returned the same ticket twice)."""
    if group not in GROUPS:
        raise ValidationFailed("invalid group_by", {"group_by": f"one of {', '.join(GROUPS)}"})
    col = next((c for c in columns(answer_target) if c["key"] == column and c["drill"]), None)
    if col is None:
        raise ValidationFailed("no ticket list for this figure",
                               {"kpi": "one of received, " + ", ".join(TICKET_COLUMNS)})
    if part not in PARTS:
        raise ValidationFailed("invalid part", {"part": "numerator or denominator"})
    spec = col[part] or col["numerator"]
    counter = _counter_expr(spec)
    F = KpiTicketFact
    lo, hi = start, end
    cond = [counter > 0]
    if department_id is not None:
        cond.append(F.department_id == department_id)
    if ticket_type:
        cond.append(F.type == ticket_type)
    if key is not None:
        if group == "unit":
            dept = None if key == "" else session.scalar(select(Department.id).where(Department.code == key))
            if key and dept is None:
                raise ValidationFailed("unknown unit", {"key": f"unknown unit {key!r}"})
            cond.append(F.department_id == (dept or 0))
        elif group == "type":
            if key not in TYPES:
                raise ValidationFailed("unknown type", {"key": f"one of {', '.join(TYPES)}"})
            cond.append(F.type == key)
        elif group == "town":
            town = None if key == "" else session.scalar(select(Town.id).where(Town.code == key))
            if key and town is None:
                raise ValidationFailed("unknown town", {"key": f"unknown town {key!r}"})
            cond.append(F.town_id == (town or 0))
        else:
            lo, hi = bucket_range(key, group, start, end)
    cond += [F.day >= lo, F.day <= hi]
    figure = _figure(session, start, end, group, key, spec, answer_target, department_id, ticket_type)
    newest = [F.day.desc(), F.ticket_id.desc()]
    if spec not in MULTI:  # 0 or 1 per fact: the number of tickets is the rollup's sum (same transaction)
        total = figure
        facts = select(F.ticket_id, F.department_id, counter.label("n")).where(*cond).order_by(*newest) \
            .offset((page - 1) * per_page).limit(per_page).subquery()
    elif session.get_bind().dialect.name == "postgresql":
        # a unit that returned one ticket twice counted 2 holdings: list each holding, so the list's
        # length is the figure (no COUNT over the period's facts); at most page x per_page facts
        # (each is at least one holding) are expanded
        first = select(F.ticket_id, F.department_id, F.day, counter.label("n")).where(*cond).order_by(*newest) \
            .limit(page * per_page).subquery()
        k = func.generate_series(1, first.c.n).label("k")
        facts = select(first.c.ticket_id, first.c.department_id, first.c.n, k) \
            .order_by(first.c.day.desc(), first.c.ticket_id.desc(), k) \
            .offset((page - 1) * per_page).limit(per_page).subquery()
        total = figure
    else:
        total = session.scalar(select(func.count()).where(*cond))
        facts = select(F.ticket_id, F.department_id, counter.label("n")).where(*cond).order_by(*newest) \
            .offset((page - 1) * per_page).limit(per_page).subquery()
    depts = {d.id: d for d in session.scalars(select(Department))}
    towns = {t.id: t for t in session.scalars(select(Town))}
    items = []
    for t, dept_id, n in session.execute(select(Ticket, facts.c.department_id, facts.c.n)
                                         .join(facts, facts.c.ticket_id == Ticket.id)
                                         .options(selectinload(Ticket.main_department))
                                         .order_by(Ticket.received_at.desc(), Ticket.id.desc())):
        d, town = depts.get(dept_id), towns.get(t.town_id)
        items.append({"number": t.number, "type": t.type, "status": t.status, "received_at": iso(t.received_at),
                      "unit": {"code": d.code, "name": d.name} if d else kpis.UNASSIGNED,
                      "main_department": {"code": t.main_department.code, "name": t.main_department.name}
                      if t.main_department else None,
                      "town": town.name if town else None, "content": (t.content or "")[:120], "count": int(n)})
    return {"items": items, "total": int(total), "figure": int(figure), "page": page, "per_page": per_page,
            "kpi": column, "part": part, "counter": spec, "key": key, "group_by": group,
            "from": start.isoformat(), "to": end.isoformat()}

