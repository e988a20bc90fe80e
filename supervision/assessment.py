"""Department assessment (考核): a monthly score and rank per unit under a scheme admins edit.

Scheme
    ``weights``: points of each ticket KPI of ``supervision.kpis`` (the month's figures, tickets
    received in the month, as the KPI view counts them); a KPI where lower is better (退回率, 延期率,
    重办率, 重复来电率) scores ``1 - rate``. A KPI without a denominator for a unit (e.g. no callbacks
    yet) is left out and the others are scaled up, so the base is always out of 100; a unit with no
    KPI at all gets the full 100 (nothing to judge it on). ``deductions``: points taken off per event
    of the month (China time):
      red_card            a red card (deadline passed) issued to the unit      (deadline_cards)
      escalation          an urging of the unit escalated (通报)                 (urging_escalations)
      unjustified_return  a return (退回) by the unit after which the desk dispatched the ticket to
                          the same unit again: the return was not justified
      unsatisfied         a callback rated 不满意 on a ticket the unit held
    score = base - deductions (may go below 0); rank 1 = best; ties share a rank.

Publication
    Publishing a month stores the scheme and every row as a snapshot (``assessment_months``);
    reads of that month come from the snapshot only, so later edits of its tickets, late callbacks
    or a new scheme never change a published month. An unpublished month is computed live.
"""
from __future__ import annotations

import io
from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from hotline.clock import iso, utcnow
from hotline.exceptions import Conflict, ValidationFailed
from hotline.identity import Actor
from ticketing.models import Department, Ticket, TicketEvent

from . import kpis
from .hotspot_models import AssessmentMonth, AssessmentScheme
from .hotspots import day_bounds
from .models import DeadlineCard, UrgingEscalation

KPI_KEYS = [k for k, *_ in kpis.TICKET_KPIS]
LOWER_IS_BETTER = {"return_rate", "extension_rate", "reopen_rate", "repeat_rate"}
DEDUCTIONS = {"red_card": "红牌", "escalation": "通报", "unjustified_return": "不当退回", "unsatisfied": "回访不满意"}
DEFAULT_SCHEME = {
    "weights": {"sign_rate": 20, "on_time_rate": 30, "callback_rate": 10, "satisfaction_rate": 30, "return_rate": 10},
    "deductions": {"red_card": 0.5, "escalation": 2.0, "unjustified_return": 1.0, "unsatisfied": 1.0},
}


# -- the scheme -----------------------------------------------------------------------------------
def _number(value, field: str, errors: dict) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        errors[field] = "a number from 0 to 100"
        return None
    return float(value)


def validate_scheme(data: dict) -> dict:
    errors: dict[str, str] = {}
    extra = set(data) - {"weights", "deductions"}
    for key in extra:
        errors[key] = "unknown field"
    weights, deductions = data.get("weights"), data.get("deductions")
    if not isinstance(weights, dict):
        errors["weights"] = f"an object of KPI weights: {', '.join(KPI_KEYS)}"
        weights = {}
    if not isinstance(deductions, dict):
        errors["deductions"] = f"an object of points per event: {', '.join(DEDUCTIONS)}"
        deductions = {}
    out_w, out_d = {}, {}
    for k, v in weights.items():
        if k not in KPI_KEYS:
            errors[f"weights.{k}"] = f"not a KPI; one of {', '.join(KPI_KEYS)}"
        elif (n := _number(v, f"weights.{k}", errors)) is not None and n > 0:
            out_w[k] = n
    for k, v in deductions.items():
        if k not in DEDUCTIONS:
            errors[f"deductions.{k}"] = f"one of {', '.join(DEDUCTIONS)}"
        elif (n := _number(v, f"deductions.{k}", errors)) is not None:
            out_d[k] = n
    if not errors and not out_w:
        errors["weights"] = "at least one KPI needs a weight above 0"
    if errors:
        raise ValidationFailed("invalid assessment scheme", errors)
    return {"weights": out_w, "deductions": {k: out_d.get(k, 0.0) for k in DEDUCTIONS}}


def current_scheme(session) -> dict:
    row = session.scalars(select(AssessmentScheme).order_by(AssessmentScheme.id.desc()).limit(1)).first()
    if row is None:
        return {**DEFAULT_SCHEME, "version": 0, "updated_by": None, "updated_at": None}
    return {"weights": row.weights, "deductions": row.deductions, "version": row.id,
            "updated_by": row.updated_by, "updated_at": iso(row.updated_at)}


def save_scheme(session, data: dict, actor: Actor) -> dict:
    clean = validate_scheme(data)
    session.add(AssessmentScheme(weights=clean["weights"], deductions=clean["deductions"],
                                 updated_by=actor.username, updated_at=utcnow()))
    session.commit()
    return current_scheme(session)


def labels() -> dict:
    return {"kpis": dict(kpis.LABELS), "deductions": dict(DEDUCTIONS)}


# -- one month ------------------------------------------------------------------------------------
def parse_month(raw: str | None, today: date) -> date:
    """``YYYY-MM``; default the last month that has ended."""
    if not raw:
        return (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    try:
        year, month = raw.split("-")
        value = date(int(year), int(month), 1) if len(raw) == 7 else None
    except ValueError:
        value = None
    if value is None or not 2000 <= value.year < 2100:
        raise ValidationFailed("invalid month", {"month": "expected YYYY-MM between 2000 and 2100"})
    return value


def _month_bounds(month: date):
    nxt = kpis._next_month(month)
    return day_bounds(month)[0], day_bounds(nxt)[0], nxt


def _events_counts(session, month: date) -> dict[str, dict[int, int]]:
    """Deduction events of the month per unit id."""
    lo, hi, _ = _month_bounds(month)
    out: dict[str, dict[int, int]] = {k: defaultdict(int) for k in DEDUCTIONS}
    for dept, n in session.execute(select(DeadlineCard.department_id, func.count())
                                   .where(DeadlineCard.card == "red", DeadlineCard.issued_at >= lo,
                                          DeadlineCard.issued_at < hi).group_by(DeadlineCard.department_id)):
        if dept is not None:
            out["red_card"][dept] += n
    for dept, n in session.execute(select(UrgingEscalation.department_id, func.count())
                                   .where(UrgingEscalation.escalated_at >= lo, UrgingEscalation.escalated_at < hi)
                                   .group_by(UrgingEscalation.department_id)):
        if dept is not None:
            out["escalation"][dept] += n
    codes = dict(session.execute(select(Department.code, Department.id)).all())
    touched = (select(TicketEvent.ticket_id).where(TicketEvent.action.in_(("return", "callback")),
                                                   TicketEvent.created_at >= lo, TicketEvent.created_at < hi))
    events = session.execute(select(TicketEvent.ticket_id, TicketEvent.action, TicketEvent.data, TicketEvent.created_at)
                             .where(TicketEvent.ticket_id.in_(touched),
                                    TicketEvent.action.in_(("return", "dispatch", "reassign", "callback")))
                             .order_by(TicketEvent.ticket_id, TicketEvent.seq)).all()
    by_ticket: dict[int, list] = defaultdict(list)
    for e in events:
        by_ticket[e.ticket_id].append(e)
    for history in by_ticket.values():
        holder, pending_return = None, None
        for e in history:
            data = e.data or {}
            in_month = lo <= e.created_at < hi
            if e.action in ("dispatch", "reassign"):
                target = codes.get((data.get("main_department") or {}).get("code"))
                if pending_return is not None and target == pending_return:
                    out["unjustified_return"][target] += 1
                pending_return, holder = None, target
            elif e.action == "return":
                unit = codes.get((data.get("department") or {}).get("code"), holder)
                pending_return = unit if in_month else None
                holder = None
            elif e.action == "callback" and in_month and data.get("satisfaction") == "不满意" and holder is not None:
                out["unsatisfied"][holder] += 1
    return out


def compute(session, month: date, scheme: dict, *, answer_target: int) -> list[dict]:
    """Every unit's score for ``month`` under ``scheme`` (live figures), best first."""
    _lo, _hi, nxt = _month_bounds(month)
    rep = kpis.report(session, month, nxt - timedelta(days=1), "department", answer_target=answer_target)
    by_code = {r["key"]: r for r in rep["rows"] if r["key"]}
    counts = _events_counts(session, month)
    weights, points = scheme["weights"], scheme["deductions"]
    rows = []
    for dept in session.scalars(select(Department).order_by(Department.code)):
        r = by_code.get(dept.code)
        ded = {k: counts[k].get(dept.id, 0) for k in DEDUCTIONS}
        if r is None and not any(ded.values()):
            continue
        exact = kpis.ticket_kpis(r["counts"], digits=None) if r else dict.fromkeys(KPI_KEYS)
        got, weight_sum, kpi_rows = 0.0, 0.0, {}
        for k, w in weights.items():
            v = exact.get(k)
            if v is None:
                kpi_rows[k] = {"value": None, "weight": w, "points": None}
                continue
            good = 1 - v if k in LOWER_IS_BETTER else v
            got += w * good
            weight_sum += w
            kpi_rows[k] = {"value": round(v, 4), "weight": w, "points": round(w * good, 2)}
        base = round(100 * got / weight_sum, 2) if weight_sum else 100.0
        deductions = {k: {"count": ded[k], "points": round(ded[k] * points.get(k, 0.0), 2)} for k in DEDUCTIONS}
        deducted = round(sum(d["points"] for d in deductions.values()), 2)
        rows.append({"department": {"code": dept.code, "name": dept.name},
                     "dispatched": r["counts"]["dispatched"] if r else 0, "kpis": kpi_rows, "base": base,
                     "deductions": deductions, "deducted": deducted, "score": round(base - deducted, 2)})
    rows.sort(key=lambda x: (-x["score"], x["department"]["code"]))
    for i, row in enumerate(rows):
        row["rank"] = rows[i - 1]["rank"] if i and rows[i - 1]["score"] == row["score"] else i + 1
    return rows


def month_view(session, month: date, *, answer_target: int) -> dict:
    """The month as the page shows it: the published snapshot, or the live computation."""
    snap = session.get(AssessmentMonth, month)
    base = {"month": month.strftime("%Y-%m"), "labels": labels()}
    if snap is not None:
        return {**base, "published": True, "published_at": iso(snap.published_at), "published_by": snap.published_by,
                "note": snap.note, "scheme": snap.scheme, "rows": snap.rows}
    scheme = current_scheme(session)
    return {**base, "published": False, "published_at": None, "published_by": None, "note": None,
            "scheme": scheme, "rows": compute(session, month, scheme, answer_target=answer_target)}


def publish(session, month: date, actor: Actor, today: date, *, answer_target: int, note: str | None = None) -> dict:
    if kpis._next_month(month) > today:
        raise ValidationFailed("month not over", {"month": "only a month that has ended can be published"})
    if session.get(AssessmentMonth, month) is not None:
        raise Conflict(f"{month:%Y-%m} is already published")
    scheme = current_scheme(session)
    rows = compute(session, month, scheme, answer_target=answer_target)
    session.add(AssessmentMonth(month=month, scheme=scheme, rows=rows, note=note, published_by=actor.username,
                                published_at=utcnow()))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"{month:%Y-%m} is already published") from None
    return month_view(session, month, answer_target=answer_target)


# -- export ---------------------------------------------------------------------------------------
def table(view: dict) -> tuple[list[str], list[list]]:
    """The month as a flat table (XLSX; the printable page shows the same columns)."""
    kpi_keys = list(view["scheme"]["weights"])
    header = (["名次", "单位", "编码", "派单件数"] + [f"{view['labels']['kpis'].get(k, k)}" for k in kpi_keys]
              + ["基础分"] + [f"{DEDUCTIONS[k]}(次)" for k in DEDUCTIONS] + ["扣分", "得分"])
    lines = []
    for r in view["rows"]:
        lines.append([r["rank"], r["department"]["name"], r["department"]["code"], r["dispatched"]]
                     + [r["kpis"][k]["value"] for k in kpi_keys] + [r["base"]]
                     + [r["deductions"][k]["count"] for k in DEDUCTIONS] + [r["deducted"], r["score"]])
    return header, lines


def to_xlsx(view: dict) -> bytes:
    from openpyxl import Workbook

    header, lines = table(view)
    wb = Workbook()
    ws = wb.active
    ws.title = "考核"
    state = f"已发布 {view['published_at']}（{view['published_by']}）" if view["published"] else "未发布（实时计算）"
    ws.append([f"{view['month']} 承办单位考核　{state}"])
    ws.append(header)
    n_kpis = len(view["scheme"]["weights"])
    for line in lines:
        ws.append(line)
        for cell in ws[ws.max_row][4:4 + n_kpis]:
            cell.number_format = "0.00%"
    sheet = wb.create_sheet("考核方案")
    sheet.append(["项目", "键", "分值"])
    for k, w in view["scheme"]["weights"].items():
        sheet.append([view["labels"]["kpis"].get(k, k), k, w])
    for k, p in view["scheme"]["deductions"].items():
        sheet.append([f"{DEDUCTIONS.get(k, k)}（每次扣分）", k, p])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
