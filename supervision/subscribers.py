"""Event subscribers: call facts from ``call.ended``; KPI catch-up nudges from ticket events.

Installed when the supervision blueprint is registered on an app (every web process and worker).
``call.ended`` may reach several processes over Redis: the call rollup is insert-or-ignore by call
id, so counting stays exact. Ticket events only nudge a background catch-up, at most one per
NUDGE_EVERY seconds per process and always one after the last event (jobs.Batcher: the job runs in
another process under Celery, so this process cannot know when it finished); the periodic scan
catches up as well, so a lost nudge only delays the figures.
"""
from __future__ import annotations

import logging

from hotline.events import bus

log = logging.getLogger("hotline.supervision")

_unsubscribe: list = []
from hotline.jobs import Batcher

NUDGE_EVERY = 1.0  # seconds


def _catch_up_task():
    from .tasks import kpi_catch_up

    return kpi_catch_up


_nudges = Batcher(_catch_up_task, window=NUDGE_EVERY, items=False)


def install(app) -> None:
    for off in _unsubscribe:
        off()
    _unsubscribe.clear()
    config = app.config["HOTLINE"]
    _unsubscribe.append(bus.subscribe("call.ended", _on_call_ended, remote=False))
    if config.kpi_live_rollup and not config.testing:
        _unsubscribe.append(bus.subscribe("ticket.created", _nudge, remote=False))
        _unsubscribe.append(bus.subscribe("ticket.changed", _nudge, remote=False))


def _on_call_ended(_name: str, payload: dict) -> None:
    """Count the call in the rollup as a background job: the publisher (the SIP process's
    ``call-facts`` worker, an after-commit hook) never waits on the database."""
    from hotline import jobs

    from .tasks import record_call

    jobs.enqueue(record_call, payload)


def _nudge(_name: str, _payload: dict) -> None:
    _nudges.add()
