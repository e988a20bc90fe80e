"""Which ready operator the next call goes to: pure functions of the candidates, so every
strategy is checkable against the rows it was given (``call_offers.idle_since``)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

STRATEGIES = ("longest_idle", "round_robin", "fewest_calls")


@dataclass(frozen=True)
class Candidate:
    user_id: int
    username: str
    extension: str
    idle_since: datetime
    answered_today: int = 0


def choose(candidates: list[Candidate], strategy: str, last_user_id: int | None = None) -> Candidate | None:
    """The operator the next call goes to.

    longest_idle  the one ready (示闲) for the longest time
    round_robin   the next one after ``last_user_id`` in user order, wrapping around
    fewest_calls  the one who answered the fewest calls today; ties: longest idle
    """
    if not candidates:
        return None
    if strategy == "round_robin":
        ordered = sorted(candidates, key=lambda c: c.user_id)
        after = [c for c in ordered if last_user_id is not None and c.user_id > last_user_id]
        return (after or ordered)[0]
    if strategy == "fewest_calls":
        return min(candidates, key=lambda c: (c.answered_today, c.idle_since, c.user_id))
    return min(candidates, key=lambda c: (c.idle_since, c.user_id))
