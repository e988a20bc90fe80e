"""When messaging works: ticket subscribers that enqueue notices, the after-commit nudge that sends
a queued message at once, and the embedded default's periodic sweep."""
from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import event

from hotline import jobs
from hotline.events import Subscriptions

from .service import is_mobile
from .sender import gateway_from_config, send_due

log = logging.getLogger("hotline.messaging")


def _notify_many_task():
    from .tasks import notify_many as task

    return task


class Notices:
    """One app's notice subscribers and their batcher (``State.notices`` in messaging/plugin.py).

    The notices of many tickets go out as one job per short window (``messaging.notify_many``), not a
    Celery message per ticket: sending one cost 1-4 ms of CPU in the web/api process, a fifth of a
    ticket's creation or more. An SMS a second later is as good. A crash can lose one window's worth;
    ``messaging.catch_up`` queues those. What is still buffered at app shutdown is flushed (``close``).
    """

    def __init__(self) -> None:
        self.batcher = jobs.Batcher(_notify_many_task, window=1.0, max_items=200)
        self.subscriptions = Subscriptions()

    def on_ticket_created(self, _name: str, payload: dict) -> None:
        if is_mobile(payload.get("caller_phone")):
            self.batcher.add([payload["number"], "accepted"])

    def on_ticket_changed(self, _name: str, payload: dict) -> None:
        if payload.get("action") == "approve_reply" or "approve_reply" in (payload.get("steps") or ()):
            self.batcher.add([payload["number"], "reply"])

    def wire(self) -> None:
        """Subscribe in this process only: the process whose commit produced the event queues the
        notice, once. Idempotent."""
        self.subscriptions.replace([("ticket.created", self.on_ticket_created),
                                    ("ticket.changed", self.on_ticket_changed)])

    def close(self) -> None:
        self.subscriptions.stop()
        self.batcher.flush()


class Nudger:
    """After a commit that queued a message, send soon (one job per short window); a periodic
    sweep (beat / the embedded loop) sends retries and anything a crash left behind.

    One per app (``State.nudger``): its hooks sit on ``session_factory`` from ``install`` until
    ``close``. Where two apps of one process share the factory, the first hook to see the
    commit's mark nudges (the mark is taken once)."""

    def __init__(self, session_factory) -> None:
        self.batcher = jobs.Batcher(_send_task, window=0.05, items=False)
        self.session_factory = session_factory

    def install(self) -> None:
        """Idempotent."""
        for name, hook in self._hooks():
            if not event.contains(self.session_factory, name, hook):
                event.listen(self.session_factory, name, hook)

    def close(self) -> None:
        """Remove the hooks; a nudge still waiting for its window goes out."""
        for name, hook in self._hooks():
            if event.contains(self.session_factory, name, hook):
                event.remove(self.session_factory, name, hook)
        self.batcher.flush()

    def _hooks(self) -> tuple:
        return ("after_commit", self._after_commit), ("after_rollback", self._after_rollback)

    def _after_commit(self, session) -> None:
        if session.info.pop("sms_queued", False):
            self.batcher.add()

    def _after_rollback(self, session) -> None:
        session.info.pop("sms_queued", None)


def _send_task():
    from .tasks import send_due as task

    return task


class Loop(threading.Thread):
    """The embedded default's periodic work (production: Celery beat runs ``messaging.send_due``
    and ``messaging.catch_up``): send what is due, and every few minutes queue lost notices."""

    CATCH_UP_EVERY = 300.0

    def __init__(self, app, every: float) -> None:
        super().__init__(name="sms-sender", daemon=True)
        self.app, self.every = app, every
        self._halt = threading.Event()

    def run(self) -> None:
        from hotline.extensions import db

        from .notices import catch_up

        next_catch_up = 0.0
        while not self._halt.wait(self.every):
            try:
                with self.app.app_context():
                    if time.monotonic() >= next_catch_up:
                        next_catch_up = time.monotonic() + self.CATCH_UP_EVERY
                        catch_up(db.session)
                    gateway = gateway_from_config(self.app.config["HOTLINE"])
                    if gateway is not None:
                        send_due(db.session, gateway, self.app.config["HOTLINE"])
            except Exception:
                log.exception("sms.sweep_failed")
            finally:
                db.Session.remove()

    def stop(self) -> None:
        self._halt.set()
