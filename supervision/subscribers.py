"""Event subscribers: call facts from ``call.ended``; KPI catch-up nudges from ticket events.

Installed when the supervision blueprint is registered on an app (every web process and worker).
``call.ended`` may reach several processes over Redis: the call rollup is insert-or-ignore by call
id, so counting stays exact. Ticket events only nudge a background catch-up (debounced: at most one
queued at a time); the periodic scan catches up as well, so a lost nudge only delays the figures.
"""
from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session

from hotline.events import bus

log = logging.getLogger("hotline.supervision")

_unsubscribe: list = []
_pending = threading.Event()


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
    from hotline.extensions import db

    from .rollup import record_call

    # A session of its own: this runs inside another session's after-commit hook.
    with Session(db.engine) as session:
        record_call(session, payload)


def _nudge(_name: str, _payload: dict) -> None:
    if _pending.is_set():
        return
    _pending.set()
    from hotline.jobs import enqueue

    from .tasks import kpi_catch_up

    try:
        enqueue(kpi_catch_up)
    except Exception:  # the periodic scan catches up anyway
        _pending.clear()
        log.exception("supervision.nudge_failed")


def nudge_done() -> None:
    _pending.clear()
