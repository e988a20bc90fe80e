"""Event subscribers: call facts from ``call.ended``; KPI catch-up nudges from ticket events.

Installed by supervision/plugin.py on every app (every web process, worker and SIP process).
``call.ended`` may reach several processes over Redis: the call rollup is insert-or-ignore by call
id, so counting stays exact. Ticket events only nudge a background catch-up, at most one per
NUDGE_EVERY seconds per process and always one after the last event (jobs.Batcher: the job runs in
another process under Celery, so this process cannot know when it finished); the periodic scan
catches up as well, so a lost nudge only delays the figures.
"""
from __future__ import annotations

import logging

from hotline.events import Subscriptions
from hotline.jobs import Batcher
from hotline.plugins import on_shutdown

log = logging.getLogger("hotline.supervision")

NUDGE_EVERY = 1.0  # seconds


def _catch_up_task():
    from .tasks import kpi_catch_up

    return kpi_catch_up


class Subscribers:
    """One app's subscriptions (``app.extensions["supervision"]``) and its KPI nudge batcher."""

    def __init__(self) -> None:
        self.nudges = Batcher(_catch_up_task, window=NUDGE_EVERY, items=False)
        self.subscriptions = Subscriptions()

    def nudge(self, _name: str, _payload: dict) -> None:
        self.nudges.add()

    def install(self, config) -> None:
        live = config.kpi_live_rollup and not config.testing
        self.subscriptions.replace([("call.ended", _on_call_ended),
                                    *([("ticket.created", self.nudge), ("ticket.changed", self.nudge)] if live else [])])

    def stop(self) -> None:
        self.subscriptions.stop()



def install(app) -> None:
    state = app.extensions.get("supervision")
    if state is None:
        state = app.extensions["supervision"] = Subscribers()
        on_shutdown(app, state.stop)  # a lost nudge only delays the figures: no flush
    state.install(app.config["HOTLINE"])


def _on_call_ended(_name: str, payload: dict) -> None:
    """Count the call in the rollup as a background job: the publisher (the SIP process's
    ``call-facts`` worker, an after-commit hook) never waits on the database."""
    from hotline import jobs

    from .tasks import record_call

    jobs.enqueue(record_call, payload)
