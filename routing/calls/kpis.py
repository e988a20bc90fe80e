"""The one definition of the call KPIs: which call counts as offered, answered, answered within
the target, abandoned; and the rates computed from the summed counts. Supervision's rollup applies
``call_counts`` to every ``call.ended``; the supervisor views and the console's wallboard read
those sums back through ``call_rates``. The answer target is ``HOTLINE_ANSWER_TARGET_SECONDS``
(GB/T 33358: 15 s).

An offered call is an inbound citizen call that reached the hotline within service hours (a call
outside them, outcome ``out_of_hours``, was never offered to an operator), whether or not it was
answered: cancelled while ringing, abandoned in the queue, sent to voice intake. With the queue it
is answered when an operator took it (``answered`` in the queue's facts); without a queue, when
the endpoint answered it.
"""
from __future__ import annotations

from datetime import datetime

#: counters summed per day (``answered_15s`` keeps its name: answered within the target)
CALL_COUNTERS = ("offered", "answered", "answered_15s", "abandoned", "wait_seconds", "talk_seconds")
NOT_ABANDONED = ("answered", "missed", "voice_intake", "interrupted")  # outcomes the caller did not give up in


def call_counts(facts: dict, target_seconds: float) -> dict | None:
    """Counters of one ended call (a ``call.ended`` payload), or None when it is not counted.

    Keys used: direction ("inbound" when absent), outcome, answered, answered_at, ringing_at,
    ended_at, wait_seconds, talk_seconds, duration. Missing seconds come from the timestamps.
    """
    if facts.get("direction", "inbound") != "inbound" or facts.get("outcome") == "out_of_hours":
        return None
    ringing, answered_at, ended = (parse_time(facts.get(k)) for k in ("ringing_at", "answered_at", "ended_at"))
    answered = bool(facts.get("answered", answered_at is not None))
    wait = facts.get("wait_seconds")
    if wait is None:
        wait = ((answered_at or ended) - ringing).total_seconds() if ringing and (answered_at or ended) else 0.0
    talk = facts.get("talk_seconds")
    if talk is None:
        talk = (ended - answered_at).total_seconds() if answered_at and ended else float(facts.get("duration") or 0)
    outcome = facts.get("outcome")
    return {"offered": 1, "answered": int(answered),
            "answered_15s": int(answered and float(wait) <= target_seconds),
            "abandoned": int(not answered and outcome not in NOT_ABANDONED),
            "wait_seconds": float(wait) if answered else 0.0, "talk_seconds": float(talk or 0) if answered else 0.0}


def parse_time(value) -> datetime | None:
    from hotline.clock import to_utc_naive

    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, (int, float)):
        return datetime.utcfromtimestamp(value)
    return to_utc_naive(datetime.fromisoformat(str(value)))


def definitions(target_seconds: float) -> tuple[tuple[str, str, str, str], ...]:
    """(key, label, numerator, denominator) of each call KPI; the label names the target."""
    return (
        ("answer_rate", "接通率", "answered", "offered"),
        ("answer_15s_rate", f"{_seconds(target_seconds)}秒接通率", "answered_15s", "offered"),
        ("avg_wait", "平均等待时长(秒)", "wait_seconds", "answered"),
        ("avg_talk", "平均通话时长(秒)", "talk_seconds", "answered"),
    )


def _seconds(value: float) -> str:
    return f"{value:g}"


def call_rates(counts: dict, target_seconds: float) -> dict:
    """The KPIs from summed counters (None where the denominator is 0)."""
    out = {}
    for key, _label, num, den in definitions(target_seconds):
        d = counts.get(den) or 0
        out[key] = (round(counts[num] / d, 1) if key.startswith("avg") else round(counts[num] / d, 4)) if d else None
    return out


def labels(target_seconds: float) -> dict:
    return {key: label for key, label, *_ in definitions(target_seconds)} | {"abandoned": "放弃来电"}
