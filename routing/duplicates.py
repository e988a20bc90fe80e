"""Duplicate finder (并单候选): tickets in a time window from the same caller, or about the same
place with similar text.

Similarity is the cosine of character-bigram counts (robust to word order and to the small
wording differences between two callers describing one problem). A candidate from the same caller
needs a lower text similarity than one that only shares the place.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from datetime import timedelta

from sqlalchemy import or_, select

from hotline.identity import Actor
from ticketing.lifecycle import MERGED, INVALID
from ticketing.models import Ticket
from ticketing.service import get_ticket, visible_filter

from .text import normalize

_PUNCT = re.compile(r"[\W_]+", re.UNICODE)
SAME_PLACE_MIN = 0.45
SAME_CALLER_MIN = 0.0
CANDIDATE_LIMIT = 500


def bigrams(text: str) -> Counter:
    s = _PUNCT.sub("", normalize(text))
    return Counter(s[i:i + 2] for i in range(len(s) - 1)) if len(s) > 1 else Counter(s)


def similarity(a: str, b: str) -> float:
    va, vb = bigrams(a), bigrams(b)
    if not va or not vb:
        return 0.0
    dot = sum(v * vb.get(k, 0) for k, v in va.items())
    return dot / (math.sqrt(sum(v * v for v in va.values())) * math.sqrt(sum(v * v for v in vb.values())))


def _place(t: Ticket) -> str:
    return normalize(t.address or "")


def find(session, number: str, actor: Actor, window_hours: int, limit: int = 10) -> list[dict]:
    ticket = get_ticket(session, number, actor)
    lo = ticket.received_at - timedelta(hours=window_hours)
    hi = ticket.received_at + timedelta(hours=window_hours)
    conds = [Ticket.received_at >= lo, Ticket.received_at <= hi, Ticket.id != ticket.id,
             Ticket.status.notin_((MERGED, INVALID))]
    near = []
    if ticket.caller_phone:
        near.append(Ticket.caller_phone == ticket.caller_phone)
    if ticket.town_id:
        near.append(Ticket.town_id == ticket.town_id)
    if ticket.address:
        near.append(Ticket.address.is_not(None))
    if not near:
        near.append(Ticket.id.is_not(None))
    stmt = select(Ticket).where(*conds, or_(*near)).order_by(Ticket.received_at.desc()).limit(CANDIDATE_LIMIT)
    cond = visible_filter(actor)
    if cond is not None:
        stmt = stmt.where(cond)
    out = []
    for other in session.scalars(stmt):
        text_sim = similarity(ticket.content, other.content)
        same_caller = bool(ticket.caller_phone) and other.caller_phone == ticket.caller_phone
        place_sim = similarity(_place(ticket), _place(other)) if ticket.address and other.address else 0.0
        same_place = place_sim >= 0.6 or (ticket.town_id is not None and other.town_id == ticket.town_id
                                          and place_sim >= 0.3)
        reasons = []
        if same_caller:
            reasons.append("same_caller")
        if same_place:
            reasons.append("same_place")
        if same_caller and text_sim >= SAME_CALLER_MIN:
            score = 0.4 + 0.6 * text_sim
        elif same_place and text_sim >= SAME_PLACE_MIN * 0.7:
            score = 0.25 + 0.75 * text_sim
        elif text_sim >= 0.75:
            score, reasons = 0.7 * text_sim, ["similar_text"]
        else:
            continue
        out.append({"number": other.number, "score": round(min(score, 1.0), 3),
                    "text_similarity": round(text_sim, 3), "reasons": reasons, "status": other.status,
                    "received_at": other.received_at.isoformat(), "content": other.content[:200]})
    out.sort(key=lambda c: -c["score"])
    return out[:limit]
