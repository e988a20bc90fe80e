"""Wire routing to the event bus (called by ``hotline run`` and by every process that serves the
API or runs jobs).

Handlers only enqueue jobs: storing a suggestion for a new ticket and learning from a dispatch
outcome both happen off the request thread.
"""
from __future__ import annotations

import atexit
import logging

from hotline import jobs
from hotline.events import subscribe

log = logging.getLogger("hotline.routing")
_unsubscribe: list = []


def _suggest_task():
    from .tasks import suggest_for_tickets

    return suggest_for_tickets


# New tickets are suggested for in small batches: one job per ~50 ms instead of one per ticket.
_suggestions = jobs.Batcher(_suggest_task, window=0.05, max_items=100)
atexit.register(_suggestions.flush)


def on_ticket_created(_name: str, payload: dict) -> None:
    _suggestions.add(payload["number"])


def on_ticket_changed(_name: str, payload: dict) -> None:
    if payload.get("action") not in ("sign", "return"):
        return
    from .tasks import learn

    jobs.enqueue(learn, payload["number"], payload["action"], payload.get("data") or {})


def wire() -> None:
    """Subscribe to ticket events published in this process (idempotent).

    Called whenever the routing blueprint is registered, so every process that changes tickets
    (web, sip, worker) feeds routing; ``remote=False`` keeps Redis copies of the same event from
    being handled again in other processes.
    """
    stop()
    _unsubscribe.append(subscribe("ticket.created", on_ticket_created, remote=False))
    _unsubscribe.append(subscribe("ticket.changed", on_ticket_changed, remote=False))


def start(app, train: bool = True) -> None:
    """Embedded default: wire and, by default, make sure a trained model exists."""
    wire()
    if train:
        from .tasks import retrain

        jobs.enqueue(retrain)
    log.info("routing.runner started")


def stop() -> None:
    while _unsubscribe:
        _unsubscribe.pop()()
