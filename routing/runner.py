"""Routing's subscribers to ticket events, owned by the app (``app.extensions["routing"]``).

Handlers only enqueue jobs: storing a suggestion for a new ticket and learning from a dispatch
outcome both happen off the request thread. routing/plugin.py wires them on every app that serves
the API or runs jobs (web, sip, worker); tests wire them where they exercise them.
"""
from __future__ import annotations

import logging

from hotline import jobs
from hotline.events import Subscriptions
from hotline.plugins import on_shutdown

log = logging.getLogger("hotline.routing")


def _suggest_task():
    from .tasks import suggest_for_tickets

    return suggest_for_tickets


def on_ticket_changed(_name: str, payload: dict) -> None:
    if payload.get("action") not in ("sign", "return"):
        return
    from .tasks import learn

    jobs.enqueue(learn, payload["number"], payload["action"], payload.get("data") or {})


class Subscribers:
    """One app's subscriptions and its suggestion batcher.

    New tickets are suggested for in small batches: one job per 0.2 s instead of one per ticket
    (a Celery message costs the sending process about 1 ms of CPU: at 200 tickets/s over three `api`
    processes a 50 ms window cost ~0.3 ms per ticket, a 0.2 s window ~0.07 ms; a suggestion is a
    background hint, a fraction of a second later is fine).
    What is still buffered when the app shuts down is flushed (the app shell runs ``close``).
    """

    def __init__(self) -> None:
        self.suggestions = jobs.Batcher(_suggest_task, window=0.2, max_items=100)
        self.subscriptions = Subscriptions()

    def on_ticket_created(self, _name: str, payload: dict) -> None:
        self.suggestions.add(payload["number"])

    def wire(self) -> None:
        """Subscribe to ticket events published in this process (idempotent): Redis copies of the
        same event are not handled again in other processes."""
        self.subscriptions.replace([("ticket.created", self.on_ticket_created),
                                    ("ticket.changed", on_ticket_changed)])

    def stop(self) -> None:
        self.subscriptions.stop()

    def close(self) -> None:
        self.stop()
        self.suggestions.flush()


def subscribers(app) -> Subscribers:
    state = app.extensions.get("routing")
    if state is None:
        state = app.extensions["routing"] = Subscribers()
        on_shutdown(app, state.close)
    return state


def wire(app) -> None:
    subscribers(app).wire()


def start(app, train: bool = True) -> None:
    """Embedded default: wire and, by default, make sure a trained model exists."""
    wire(app)
    if train:
        from .tasks import retrain

        jobs.enqueue(retrain)
    log.info("routing.runner started")


def stop(app) -> None:
    subscribers(app).stop()
