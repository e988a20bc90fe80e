"""质检 services: inspect calls, fill inspectors' queues, score, appeal. Each public function that
changes something commits once; a refused change raises before anything is written."""
from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from datetime import date, datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import func, select

from hotline.auth import User
from hotline.clock import utcnow
from hotline.exceptions import Conflict, Forbidden, NotFound, ValidationFailed
from hotline.identity import ADMIN, OPERATOR, SUPERVISOR, Actor
from routing.calls.models import QueuedCall
from telephony.models import Call, CallRecording
from ticketing.models import Ticket

from . import activity, checks
from .models import CallInspection, QualityRubric
from .rubric import CHECKS, DEFAULT, Rubric

SETTLE = timedelta(minutes=10)  # a call whose wrap-up never ended is inspected this long after it
INSPECTORS = (SUPERVISOR, ADMIN)


# -- the rubric -----------------------------------------------------------------------------------
def rubric_row(session) -> QualityRubric | None:
    return session.get(QualityRubric, 1)


def current_rubric(session) -> tuple[Rubric, int]:
    row = rubric_row(session)
    return (Rubric.model_validate(row.settings), row.version) if row else (Rubric.model_validate(DEFAULT), 0)


def set_rubric(session, data: dict, actor: Actor) -> dict:
    if actor.role != ADMIN:
        raise Forbidden("only admins edit the inspection rubric")
    try:
        rubric = Rubric.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed("invalid rubric", {".".join(map(str, e["loc"])) or "rubric": e["msg"]
                                                  for e in exc.errors()}) from None
    row = rubric_row(session)
    if row is None:
        row = QualityRubric(id=1, version=0, settings={})
        session.add(row)
    row.settings, row.version = rubric.model_dump(), row.version + 1
    row.updated_by, row.updated_at = actor.username, utcnow()
    session.commit()
    return rubric_view(session)


def rubric_view(session) -> dict:
    rubric, version = current_rubric(session)
    return {"version": version, **rubric.model_dump(),
            "checks": [{"key": key, "label": label} for key, label in CHECKS.items()]}


# -- automatic inspection -------------------------------------------------------------------------
def facts_of(session, call: Call, queued: QueuedCall | None, recordings_dir: str) -> checks.Facts:
    legs = {r.leg: r for r in call.recordings if r.deleted_at is None}
    operator_leg = next((r for r in call.recordings if r.speaker == "operator"), None)

    def speech(rec):
        if rec is None:
            return None
        path = os.path.join(recordings_dir, rec.path)
        return activity.speech_intervals(path, rec.offset) if os.path.exists(path) else None

    joined = operator_leg.offset if operator_leg else None
    left = (joined + operator_leg.seconds) if operator_leg and operator_leg.seconds else None
    ticket = session.get(Ticket, call.ticket_id) if call.ticket_id else None
    stats = call.stats or {}
    return checks.Facts(
        duration=call.duration, operator=None, operator_joined=joined, operator_left=left,
        segments=[{"speaker": s.speaker, "start": s.start, "end": s.end, "text": s.text} for s in call.segments],
        caller_speech=speech(legs.get("caller")), operator_speech=speech(operator_leg),
        hold_intervals=[tuple(x) for x in stats.get("hold_intervals") or []],
        hold_seconds=(queued.hold_seconds if queued else None) or 0.0,
        wrapup_seconds=queued.wrapup_seconds if queued else None,
        ticket_number=ticket.number if ticket else None,
        ticket_by_operator=bool(ticket and ticket.created_by not in (None, "system", "telephony")),
        transcription=call.transcription)


def pending_calls(session, now: datetime, limit: int) -> list[tuple[Call, QueuedCall | None]]:
    """Answered calls with an operator's leg, stored, not inspected yet, whose wrap-up is over (or
    that ended long ago; a call bridged outside the queue has no wrap-up)."""
    inspected = select(CallInspection.call_id)
    with_operator = select(CallRecording.call_id).where(CallRecording.speaker == "operator")
    rows = session.execute(
        select(Call, QueuedCall).outerjoin(QueuedCall, QueuedCall.call_uuid == Call.call_uuid)
        .where(Call.answered_at.is_not(None), Call.id.in_(with_operator), Call.id.not_in(inspected),
               QueuedCall.wrapup_seconds.is_not(None) | QueuedCall.id.is_(None) | (Call.ended_at < now - SETTLE))
        .order_by(Call.id).limit(limit)).all()
    return [(c, q) for c, q in rows]


def _operator_of(session, call: Call, queued: QueuedCall | None) -> User | None:
    if queued is not None and queued.operator_id is not None:
        return session.get(User, queued.operator_id)
    leg = next((r for r in call.recordings if r.speaker == "operator" and r.extension), None)
    if leg is None:
        return None
    return session.scalars(select(User).where(User.sip_extension == leg.extension)).first()


def inspect_pending(session, recordings_dir: str, *, now: datetime | None = None, limit: int = 200) -> int:
    """Inspect what is pending (idempotent: a call is inspected once; a second run finds nothing)."""
    now = now or utcnow()
    rubric, version = current_rubric(session)
    done = 0
    for call, queued in pending_calls(session, now, limit):
        user = _operator_of(session, call, queued)
        facts = facts_of(session, call, queued, recordings_dir)
        score, findings = checks.inspect(facts, rubric)
        session.add(CallInspection(
            call_id=call.id, call_uuid=call.call_uuid, operator_id=user.id if user else None,
            operator=user.username if user else None, call_started_at=call.ringing_at,
            rubric_version=version, auto_score=score, findings=findings, state="auto"))
        done += 1
    session.commit()
    return done


# -- sampling into inspectors' queues -------------------------------------------------------------
def _draw(call_uuid: str) -> float:
    """A fixed, uniform number in [0, 1) per call: the random draw of the sampling rule that anyone
    can recompute (no hidden seed, the same call is drawn the same way on a second run)."""
    return int(hashlib.sha256(call_uuid.encode()).hexdigest()[:8], 16) / 2 ** 32


def fill_queues(session, day: date, actor: Actor) -> dict:
    """Sample ``day``'s inspected calls (China time days are the caller's business: ``day`` is the
    UTC date of the call) into the inspectors' queues: every call scoring below the rubric's
    threshold, the random share of the others, at least ``min_per_operator`` per operator; each
    sampled call goes to the inspector with the shortest queue."""
    if actor.role not in INSPECTORS:
        raise Forbidden("only supervisors fill inspection queues")
    rubric, _ = current_rubric(session)
    rule = rubric.sampling
    start = datetime(day.year, day.month, day.day)
    rows = session.scalars(select(CallInspection).where(
        CallInspection.call_started_at >= start, CallInspection.call_started_at < start + timedelta(days=1))
        .order_by(CallInspection.id)).all()
    by_operator: dict[str | None, list[CallInspection]] = defaultdict(list)
    for row in rows:
        by_operator[row.operator].append(row)
    chosen: list[CallInspection] = []
    for operator_rows in by_operator.values():
        picked = [r for r in operator_rows if r.auto_score < rule.below_score or _draw(r.call_uuid) < rule.rate]
        rest = sorted((r for r in operator_rows if r not in picked), key=lambda r: _draw(r.call_uuid))
        already = sum(1 for r in operator_rows if r.state != "auto")
        picked += rest[:max(0, rule.min_per_operator - len(picked) - already)]
        chosen += [r for r in picked if r.state == "auto"]
    inspectors = session.scalars(select(User.username).where(User.role == SUPERVISOR, User.active.is_(True))
                                 .order_by(User.username)).all() or [actor.username]
    load = dict.fromkeys(inspectors, 0)
    for name, count in session.execute(select(CallInspection.inspector, func.count()).where(
            CallInspection.state == "queued", CallInspection.inspector.in_(inspectors))
            .group_by(CallInspection.inspector)):
        load[name] = count
    now = utcnow()
    for row in chosen:
        inspector = min(load, key=lambda n: (load[n], n))
        row.state, row.inspector, row.queued_at = "queued", inspector, now
        load[inspector] += 1
    session.commit()
    return {"day": day.isoformat(), "inspected": len(rows), "queued": len(chosen),
            "queues": {n: c for n, c in load.items()}}


# -- reading --------------------------------------------------------------------------------------
def _visible(actor: Actor, row: CallInspection) -> bool:
    return actor.role in INSPECTORS or (actor.role == OPERATOR and row.operator == actor.username)


def get_inspection(session, inspection_id: int, actor: Actor) -> CallInspection:
    row = session.get(CallInspection, inspection_id)
    if row is None or not _visible(actor, row):
        raise NotFound(f"inspection {inspection_id} not found")
    return row


def list_inspections(session, actor: Actor, *, operator: str | None = None, state: str | None = None,
                     inspector: str | None = None, page: int = 1, per_page: int = 50) -> dict:
    if actor.role not in INSPECTORS + (OPERATOR,):
        raise Forbidden("call inspection is for the centre's staff")
    query = select(CallInspection)
    if actor.role == OPERATOR:
        query = query.where(CallInspection.operator == actor.username)
    elif operator:
        query = query.where(CallInspection.operator == operator)
    if state:
        query = query.where(CallInspection.state == state)
    if inspector:
        query = query.where(CallInspection.inspector == inspector)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(CallInspection.call_started_at.desc(), CallInspection.id.desc())
                           .offset((page - 1) * per_page).limit(per_page)).all()
    return {"items": [view(r) for r in rows], "total": total, "page": page, "per_page": per_page}


def view(row: CallInspection) -> dict:
    return {"id": row.id, "call_id": row.call_uuid, "operator": row.operator,
            "call_started_at": row.call_started_at.isoformat() + "Z", "state": row.state,
            "auto_score": row.auto_score, "manual_score": row.manual_score, "score": row.score,
            "findings": row.findings, "failed": [f["label"] for f in row.findings if f["passed"] is False],
            "inspector": row.inspector, "item_scores": row.item_scores, "comment": row.comment,
            "rubric_version": row.rubric_version,
            "scored_at": row.scored_at and row.scored_at.isoformat() + "Z",
            "appeal": None if row.appealed_at is None else {
                "reason": row.appeal_reason, "at": row.appealed_at.isoformat() + "Z",
                "decision": row.appeal_decision, "note": row.appeal_note, "decided_by": row.decided_by},
            "recording": f"/api/v1/calls/{row.call_uuid}/recordings/mixed"}


def trends(session, actor: Actor, *, operator: str | None = None, days: int = 56) -> dict:
    """Per operator and ISO week: calls inspected, mean score, and how often each check failed."""
    if actor.role == OPERATOR:
        operator = actor.username
    elif actor.role not in INSPECTORS:
        raise Forbidden("call inspection is for the centre's staff")
    since = utcnow() - timedelta(days=days)
    query = select(CallInspection).where(CallInspection.call_started_at >= since)
    if operator:
        query = query.where(CallInspection.operator == operator)
    weeks: dict[tuple[str, str], dict] = {}
    for row in session.scalars(query):
        year, week, _ = row.call_started_at.isocalendar()
        key = (row.operator or "", f"{year}-W{week:02d}")
        slot = weeks.setdefault(key, {"operator": key[0], "week": key[1], "calls": 0, "score_sum": 0.0,
                                      "failures": defaultdict(int)})
        slot["calls"] += 1
        slot["score_sum"] += row.score
        for f in row.findings:
            if f["passed"] is False:
                slot["failures"][f["check"]] += 1
    items = [{"operator": s["operator"], "week": s["week"], "calls": s["calls"],
              "mean_score": round(s["score_sum"] / s["calls"], 1), "failures": dict(s["failures"])}
             for _, s in sorted(weeks.items())]
    return {"items": items}


# -- people's decisions ---------------------------------------------------------------------------
def score(session, inspection_id: int, data: dict, actor: Actor) -> dict:
    """The inspector's score: points per rubric item (0..max), scaled to 100, and a comment."""
    if actor.role not in INSPECTORS:
        raise Forbidden("only inspectors score calls")
    row = get_inspection(session, inspection_id, actor)
    if row.state not in ("queued", "scored", "auto"):
        raise Conflict(f"inspection is {row.state}: its score can no longer change")
    if actor.role != ADMIN and row.inspector not in (None, actor.username):
        raise Forbidden(f"this call is in {row.inspector}'s queue")
    rubric, _ = current_rubric(session)
    given = data.get("items")
    if not isinstance(given, dict):
        raise ValidationFailed("items must be an object of rubric item -> points", {"items": "required"})
    problems = {}
    points = {}
    for item in rubric.items:
        value = given.get(item.key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= item.max:
            problems[f"items.{item.key}"] = f"a number from 0 to {item.max}"
        else:
            points[item.key] = float(value)
    extra = set(given) - {i.key for i in rubric.items}
    if extra:
        problems["items"] = f"unknown items: {', '.join(sorted(map(str, extra)))}"
    comment = data.get("comment", "")
    if not isinstance(comment, str) or len(comment) > 2000:
        problems["comment"] = "text of at most 2000 characters"
    if problems:
        raise ValidationFailed("invalid score", problems)
    total = sum(i.max for i in rubric.items)
    row.item_scores, row.manual_score = points, round(sum(points.values()) * 100 / total, 1)
    row.comment, row.scored_at, row.state = comment or None, utcnow(), "scored"
    row.inspector = row.inspector or actor.username
    session.commit()
    return view(row)


def appeal(session, inspection_id: int, data: dict, actor: Actor) -> dict:
    """The operator appeals their result, once, with a reason."""
    row = get_inspection(session, inspection_id, actor)
    if actor.role != OPERATOR or row.operator != actor.username:
        raise Forbidden("only the operator who took the call appeals its inspection")
    if row.appealed_at is not None:
        raise Conflict("this inspection was already appealed (once only)")
    reason = data.get("reason")
    if not isinstance(reason, str) or not 2 <= len(reason.strip()) <= 2000:
        raise ValidationFailed("reason is required", {"reason": "text of 2 to 2000 characters"})
    row.appeal_reason, row.appealed_at, row.state = reason.strip(), utcnow(), "appealed"
    session.commit()
    return view(row)


def decide(session, inspection_id: int, data: dict, actor: Actor) -> dict:
    """A supervisor decides an appeal: ``upheld`` (with the corrected score) or ``rejected``."""
    if actor.role not in INSPECTORS:
        raise Forbidden("only supervisors decide appeals")
    row = get_inspection(session, inspection_id, actor)
    if row.state != "appealed":
        raise Conflict(f"inspection is {row.state}, not appealed")
    decision = data.get("decision")
    if decision not in ("upheld", "rejected"):
        raise ValidationFailed("decision must be upheld or rejected", {"decision": "upheld | rejected"})
    new_score = data.get("score")
    if decision == "upheld" and (not isinstance(new_score, (int, float)) or isinstance(new_score, bool)
                                 or not 0 <= new_score <= 100):
        raise ValidationFailed("an upheld appeal needs the corrected score", {"score": "0-100"})
    note = data.get("note", "")
    if not isinstance(note, str) or len(note) > 2000:
        raise ValidationFailed("invalid note", {"note": "text of at most 2000 characters"})
    if decision == "upheld":
        row.manual_score = float(new_score)
    row.appeal_decision, row.appeal_note = decision, note or None
    row.decided_by, row.decided_at, row.state = actor.username, utcnow(), "final"
    session.commit()
    return view(row)
