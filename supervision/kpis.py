"""KPI definitions and queries.

Every ticket KPI is a ratio of two counters summed over the rollups (see ``supervision.rollup``):
whole months from ``kpi_monthly``, the partial months at the ends of the period from ``kpi_daily``,
and, unless a query filters or groups by them, the pre-aggregated "all types" / "all units" rows.
The rows read are bounded by days x units (a few thousand), not by the number of tickets.

Period and unit
    A ticket counts in the period of the day it was **received** (China time), and for the unit
    that **currently holds it as main unit**; a unit that returned a ticket keeps that holding
    (counted as dispatched + returned). Tickets never dispatched (direct answers, drafts) count under
    unit 0, "未派单/热线直办". A ticket's figures change as it progresses (e.g. a callback
    recorded next week raises last week's 回访率): the view is "how the tickets received in the
    period have been handled so far", which is what supervisors rank units on.

Counters (per ticket, or per holding where noted)
    received        1 per ticket
    direct          answered directly by the hotline (answer_directly; ``direct_answer`` set)
    dispatched      holdings: current main unit + each holding ended by the unit's own return
                    (a desk reassignment (改派) ends a holding without counting it for anyone)
    returned        holdings ended by the unit's return (退回)
    signed_on_time  current holding signed no later than ``sign_by``
    replied_on_time current holding replied no later than ``reply_by``
    extended        current holding with an approved extension (延期)
    callback_due    tickets whose reply was approved (reached 待回访) at least once
    called_back     tickets with at least one recorded callback (回访)
    satisfied       last callback rated 满意 or 基本满意
    solved          last callback said solved
    reopened        tickets reopened (重办) at least once (``reopen_count`` > 0)
    has_phone       tickets with a caller phone
    repeat_call     tickets whose caller phone had another ticket received in the previous
                    HOTLINE_KPI_REPEAT_DAYS days (default 30)

KPIs (numerator / denominator; ``None`` when the denominator is 0)
    及时签收率 sign_rate        signed_on_time / (dispatched - returned)
    按期办结率 on_time_rate     replied_on_time / (dispatched - returned)
    退回率     return_rate      returned / dispatched
    延期率     extension_rate   extended / (dispatched - returned)
    回访率     callback_rate    called_back / callback_due
    满意率     satisfaction_rate satisfied / called_back
    解决率     solved_rate      solved / called_back
    直接办结率 direct_rate      direct / received
    重办率     reopen_rate      reopened / called_back
    重复来电率 repeat_rate      repeat_call / has_phone

Calls (from ``call_daily``; inbound citizen calls, by the day the call started ringing; calls have
no unit or type, so they are reported per day and in the totals only)
    接通率          answer_rate     answered / offered
    15秒接通率      answer_15s_rate answered within 15 s of ringing / offered   (GB/T 33358: 15 s)
    平均等待时长(秒) avg_wait        summed wait of answered calls / answered
    平均通话时长(秒) avg_talk        summed talk time of answered calls / answered
"""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select, union_all

from routing.calls.kpis import CALL_COUNTERS, call_rates
from routing.calls.kpis import definitions as call_definitions
from routing.calls.kpis import labels as call_labels
from hotline.exceptions import ValidationFailed
from ticketing.models import Department

from .models import ALL_TYPES, ALL_UNITS, COUNTERS, CallDaily, KpiDaily, KpiMonthly

TICKET_KPIS = (
    # key, label, numerator, denominator (a counter name or a (minuend, subtrahend) pair)
    ("sign_rate", "及时签收率", "signed_on_time", ("dispatched", "returned")),
    ("on_time_rate", "按期办结率", "replied_on_time", ("dispatched", "returned")),
    ("return_rate", "退回率", "returned", "dispatched"),
    ("extension_rate", "延期率", "extended", ("dispatched", "returned")),
    ("callback_rate", "回访率", "called_back", "callback_due"),
    ("satisfaction_rate", "满意率", "satisfied", "called_back"),
    ("solved_rate", "解决率", "solved", "called_back"),
    ("direct_rate", "直接办结率", "direct", "received"),
    ("reopen_rate", "重办率", "reopened", "called_back"),
    ("repeat_rate", "重复来电率", "repeat_call", "has_phone"),
)
#: what each KPI means, in the words shown to supervisors (hover on the reports page, the API's
#: ``definitions``, the exports' 指标定义 sheet): the one text per KPI
DESCRIPTIONS = {
    "sign_rate": "当前承办单位在签收时限内签收的工单占比。分子：按时签收数；分母：派单数－退回数。",
    "on_time_rate": "当前承办单位在办结（答复）时限内答复的工单占比。分子：按期答复数；分母：派单数－退回数。",
    "return_rate": "派出的工单被承办单位退回的比例。分子：退回次数；分母：派单数（含被退回的派单）。",
    "extension_rate": "当前承办单位获批延期的工单占比。分子：获批延期数；分母：派单数－退回数。",
    "callback_rate": "答复审核通过、待回访的工单中已回访的比例。分子：已回访数；分母：应回访数。",
    "satisfaction_rate": "已回访工单中市民评价满意或基本满意的比例。分子：满意＋基本满意数；分母：已回访数。",
    "solved_rate": "已回访工单中市民表示问题已解决的比例。分子：已解决数；分母：已回访数。",
    "direct_rate": "热线直接答复办结、未派单的工单占比。分子：直接办结数；分母：受理量。",
    "reopen_rate": "已回访工单中被重办的比例。分子：重办工单数；分母：已回访数。",
    "repeat_rate": "来电号码在受理前若干天内（默认30天）已有工单的比例。分子：重复来电工单数；分母：有来电号码的工单数。",
    "answer_rate": "服务时间内呼入的来电中被坐席接通的比例。分子：接通数；分母：呼入数。",
    "answer_15s_rate": "服务时间内呼入的来电中在目标秒数内（国标15秒）接通的比例。分子：目标内接通数；分母：呼入数。",
    "avg_wait": "接通来电从振铃到接通的平均等待秒数。分子：等待总秒数；分母：接通数。",
    "avg_talk": "接通来电的平均通话秒数。分子：通话总秒数；分母：接通数。",
    "received": "统计期间内受理（按受理日期，北京时间）的工单数。",
}
LABELS = {k: label for k, label, *_ in TICKET_KPIS}  # ticket KPIs; the call KPIs' labels name the target
GROUPS = ("department", "type", "day")
UNASSIGNED = {"code": "", "name": "未派单/热线直办"}
RANKING_KPIS = ("sign_rate", "on_time_rate", "satisfaction_rate", "solved_rate")


def _denominator(counts: dict, spec) -> float:
    if isinstance(spec, tuple):
        return counts[spec[0]] - counts[spec[1]]
    return counts[spec]


def ticket_kpis(counts: dict, digits: int | None = 4) -> dict:
    out = {}
    for key, _label, num, den in TICKET_KPIS:
        d = _denominator(counts, den)
        out[key] = (counts[num] / d if digits is None else round(counts[num] / d, digits)) if d else None
    return out


def labels(answer_target: int) -> dict:
    return LABELS | call_labels(answer_target)


def definitions(answer_target: int) -> list[dict]:
    rows = []
    for key, label, num, den in TICKET_KPIS + call_definitions(answer_target):
        den_text = f"{den[0]} - {den[1]}" if isinstance(den, tuple) else den
        rows.append({"key": key, "label": label, "numerator": num, "denominator": den_text,
                     "description": DESCRIPTIONS.get(key, "")})
    return rows


def parse_period(raw_from: str | None, raw_to: str | None, today: date) -> tuple[date, date]:
    """``from``/``to`` are inclusive ISO dates; default the last 30 days."""
    fields = {}
    parsed = {}
    for name, raw in (("from", raw_from), ("to", raw_to)):
        if raw:
            try:
                parsed[name] = date.fromisoformat(raw[:10])
            except ValueError:
                fields[name] = "expected YYYY-MM-DD"
                continue
            if not 2000 <= parsed[name].year < 2100:
                fields[name] = "a date between 2000 and 2100"
    if fields:
        raise ValidationFailed("invalid period", fields)
    end = parsed.get("to", today)
    start = parsed.get("from", end - timedelta(days=29))
    if start > end:
        raise ValidationFailed("invalid period", {"from": "must not be after 'to'"})
    if (end - start).days > 3660:
        raise ValidationFailed("invalid period", {"from": "at most 10 years"})
    return start, end


def report(session, start: date, end: date, group_by: str = "department", *, answer_target: int,
           department_id: int | None = None, ticket_type: str | None = None) -> dict:
    """KPI rows for ``group_by`` plus totals, over received days ``start``..``end`` (inclusive).
    ``answer_target``: HOTLINE_ANSWER_TARGET_SECONDS (names the in-target call KPI)."""
    if group_by not in GROUPS:
        raise ValidationFailed("invalid group_by", {"group_by": f"one of {', '.join(GROUPS)}"})
    grouped = _grouped(session, start, end, group_by, department_id, ticket_type)
    depts = {d.id: d for d in session.scalars(select(Department))} if group_by == "department" else {}
    rows, total = [], dict.fromkeys(COUNTERS, 0)
    for r in grouped:
        counts = {c: int(getattr(r, c)) for c in COUNTERS}
        for c in COUNTERS:
            total[c] += counts[c]
        row = {"key": r.key.isoformat() if group_by == "day" else r.key}
        if group_by == "department":
            d = depts.get(r.key)
            ref = {"code": d.code, "name": d.name} if d else UNASSIGNED
            row.update(key=ref["code"], label=ref["name"])
        else:
            row["label"] = row["key"]
        row.update(counts=counts, kpis=ticket_kpis(counts))
        rows.append(row)
    calls = _calls(session, start, end) if department_id is None and not ticket_type else None
    if group_by == "day":
        by_day = calls["by_day"] if calls else {}
        seen = {r["key"] for r in rows}
        for day_key in sorted(set(by_day) - seen):
            zero = dict.fromkeys(COUNTERS, 0)
            rows.append({"key": day_key, "label": day_key, "counts": zero, "kpis": ticket_kpis(zero)})
        for r in rows:
            c = by_day.get(r["key"])
            r["calls"] = {"counts": c, "kpis": call_rates(c, answer_target)} if c else None
        rows.sort(key=lambda r: r["key"])
    elif group_by == "department":
        rows.sort(key=lambda r: (r["key"] == "", r["key"]))
    else:
        rows.sort(key=lambda r: -r["counts"]["received"])
    out = {"from": start.isoformat(), "to": end.isoformat(), "group_by": group_by, "rows": rows,
           "total": {"counts": total, "kpis": ticket_kpis(total)}, "labels": labels(answer_target),
           "definitions": definitions(answer_target), "answer_target_seconds": answer_target}
    if calls:
        out["calls"] = {"counts": calls["total"], "kpis": call_rates(calls["total"], answer_target)}
    return out


def split_period(start: date, end: date) -> tuple[list[tuple[date, date]], tuple[date, date] | None]:
    """Day ranges at the ends of the period, and the whole months (first days) in between."""
    first = start if start.day == 1 else _next_month(start)
    after = _next_month(end) if _next_month(end) - timedelta(days=1) == end else end.replace(day=1)
    if first >= after:
        return [(start, end)], None
    days = []
    if start < first:
        days.append((start, first - timedelta(days=1)))
    if after <= end:
        days.append((after, end))
    last_month = (after - timedelta(days=1)).replace(day=1)
    return days, (first, last_month)


def _next_month(d: date) -> date:
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1)


def _grouped(session, start, end, group_by, department_id, ticket_type):
    """Summed counters per group key: whole months from kpi_monthly, the rest from kpi_daily."""
    unit = department_id if department_id is not None else None if group_by == "department" else ALL_UNITS
    kind = ticket_type or (None if group_by == "type" else ALL_TYPES)

    def part(model, period_col, lo, hi):
        key = {"department": model.department_id, "type": model.type, "day": getattr(model, period_col)}[group_by]
        cond = [getattr(model, period_col) >= lo, getattr(model, period_col) <= hi,
                model.department_id == unit if unit is not None else model.department_id != ALL_UNITS,
                model.type == kind if kind is not None else model.type != ALL_TYPES]
        return select(key.label("key"), *[getattr(model, c) for c in COUNTERS]).where(*cond)

    if group_by == "day":
        parts = [part(KpiDaily, "day", start, end)]
    else:
        day_ranges, months = split_period(start, end)
        parts = [part(KpiDaily, "day", lo, hi) for lo, hi in day_ranges]
        if months:
            parts.append(part(KpiMonthly, "month", *months))
    sub = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()
    sums = [func.coalesce(func.sum(getattr(sub.c, c)), 0).label(c) for c in COUNTERS]
    return session.execute(select(sub.c.key, *sums).group_by(sub.c.key)).all()


def _calls(session, start: date, end: date) -> dict:
    total = dict.fromkeys(CALL_COUNTERS, 0)
    by_day = {}
    for r in session.scalars(select(CallDaily).where(CallDaily.day >= start, CallDaily.day <= end)):
        counts = {c: getattr(r, c) for c in CALL_COUNTERS}
        by_day[r.day.isoformat()] = counts
        for c in CALL_COUNTERS:
            total[c] += counts[c]
    return {"total": total, "by_day": by_day}


def trend(session, start: date, end: date, *, answer_target: int, department_id: int | None = None) -> dict:
    """Chart-ready series per day: labels plus one list per KPI (``None`` where undefined)."""
    rep = report(session, start, end, "day", answer_target=answer_target, department_id=department_id)
    by_day = {r["key"]: r for r in rep["rows"]}
    days, d = [], start
    while d <= end:
        days.append(d.isoformat())
        d += timedelta(days=1)
    zero = {"counts": dict.fromkeys(COUNTERS, 0), "kpis": ticket_kpis(dict.fromkeys(COUNTERS, 0)), "calls": None}
    rows = [by_day.get(day, zero) for day in days]
    series = {k: [r["kpis"][k] for r in rows] for k, *_ in TICKET_KPIS}
    series["received"] = [r["counts"]["received"] for r in rows]
    if department_id is None:
        for k, *_ in call_definitions(answer_target):
            series[k] = [(r.get("calls") or {}).get("kpis", {}).get(k) for r in rows]
    return {"from": rep["from"], "to": rep["to"], "days": days, "series": series, "labels": rep["labels"]}


def ranking(session, start: date, end: date, kpi: str | None = None, *, answer_target: int) -> dict:
    """Units ranked by one KPI, or by ``score`` = the mean of RANKING_KPIS that have a value."""
    if kpi and kpi not in {k for k, *_ in TICKET_KPIS}:
        raise ValidationFailed("invalid kpi", {"kpi": f"one of {', '.join(k for k, *_ in TICKET_KPIS)}"})
    rep = report(session, start, end, "department", answer_target=answer_target)
    lower_is_better = {"return_rate", "extension_rate", "reopen_rate", "repeat_rate"}
    items = []
    for r in rep["rows"]:
        if r["key"] == "":
            continue
        if kpi:
            value = r["kpis"][kpi]
        else:
            exact = ticket_kpis(r["counts"], digits=None)
            values = [exact[k] for k in RANKING_KPIS if exact[k] is not None]
            value = round(sum(values) / len(values), 4) if values else None
        items.append({"department": {"code": r["key"], "name": r["label"]}, "value": value,
                      "kpis": r["kpis"], "dispatched": r["counts"]["dispatched"]})
    sign = 1 if kpi in lower_is_better else -1
    items.sort(key=lambda i: (i["value"] is None, sign * (i["value"] or 0), i["department"]["code"]))
    for n, item in enumerate(items, 1):
        item["rank"] = n if item["value"] is not None else None
    return {"from": rep["from"], "to": rep["to"], "kpi": kpi or "score",
            "label": LABELS.get(kpi, "综合得分(及时签收率、按期办结率、满意率、解决率均值)"), "items": items}


# -- exports ------------------------------------------------------------------------------------
def table(rep: dict) -> tuple[list[str], list[list]]:
    """Header and rows of a report as a flat table (CSV / XLSX)."""
    key_header = {"department": "单位", "type": "类型", "day": "日期"}[rep["group_by"]]
    header = [key_header, "编码"] + list(COUNTERS) + [label for _k, label, *_ in TICKET_KPIS]
    lines = []
    for r in rep["rows"] + [{"key": "", "label": "合计", **rep["total"]}]:
        lines.append([r["label"], r["key"]] + [r["counts"][c] for c in COUNTERS]
                     + [r["kpis"][k] for k, *_ in TICKET_KPIS])
    return header, lines


def to_csv(rep: dict) -> str:
    import csv
    import io

    header, lines = table(rep)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    for line in lines:
        writer.writerow(["" if v is None else v for v in line])
    return "\ufeff" + buf.getvalue()  # BOM: Excel opens UTF-8 Chinese correctly


def to_xlsx(rep: dict) -> bytes:
    import io

    from openpyxl import Workbook

    header, lines = table(rep)
    wb = Workbook()
    ws = wb.active
    ws.title = "KPI"
    ws.append([f"统计期间 {rep['from']} 至 {rep['to']}（按受理日期）"])
    ws.append(header)
    first_kpi_col = 3 + len(COUNTERS)
    for line in lines:
        ws.append(line)
        for cell in ws[ws.max_row][first_kpi_col - 1:]:
            cell.number_format = "0.00%"
    if rep.get("calls"):
        ws.append([])
        keys = list(rep["calls"]["kpis"])
        ws.append(["话务"] + [rep["labels"][k] for k in keys])
        ws.append([""] + [rep["calls"]["kpis"][k] for k in keys])
    defs = wb.create_sheet("指标定义")
    defs.append(["指标", "键", "分子", "分母", "定义"])
    for d in rep["definitions"]:
        defs.append([d["label"], d["key"], d["numerator"], d["denominator"], d["description"]])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def calls_today(session, answer_target: int) -> dict:
    """Today's (China time) call counters and KPIs: what the console's wallboard shows."""
    from hotline.clock import to_local, utcnow

    today = to_local(utcnow()).date()
    counts = _calls(session, today, today)["total"]
    return {"counts": counts, "kpis": call_rates(counts, answer_target), "labels": call_labels(answer_target),
            "answer_target_seconds": answer_target}
