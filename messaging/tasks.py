"""Celery tasks of SMS notices (the embedded default runs them in-process). All safe to retry."""
from __future__ import annotations

import logging

from hotline.extensions import celery

log = logging.getLogger("hotline.messaging")


@celery.task(name="messaging.notify")
def notify(number: str, kind: str):
    """One notice: nothing sends it any more (``notify_many``); kept registered so that messages an
    older version queued before an upgrade still run."""
    from hotline.extensions import db

    from .notices import notify as queue_notice

    return queue_notice(db.session, number, kind)


@celery.task(name="messaging.notify_many")
def notify_many(items: list) -> int:
    """``notify`` for each ``[number, kind]`` of a batch (runner.Notices, one per app); every item is tried, a
    failure is raised after the others (a retry repeats the whole batch: notices are deduplicated)."""
    from hotline.extensions import db

    from .notices import notify as queue_notice

    queued, failed = 0, None
    for number, kind in items:
        try:
            queued += queue_notice(db.session, number, kind) is not None
        except Exception as exc:  # noqa: BLE001 - one ticket's failure must not drop the others
            db.session.rollback()
            log.exception("sms.notice_failed number=%s kind=%s", number, kind)
            failed = exc
    if failed is not None:
        raise failed
    return queued


@celery.task(name="messaging.send_due")
def send_due() -> dict:
    """Send every message that is due (queued, or waiting for its retry)."""
    from flask import current_app

    from hotline.extensions import db

    from .sender import gateway_from_config, send_due as run

    gateway = gateway_from_config(current_app.config["HOTLINE"])
    if gateway is None:
        return {"sent": 0, "failed": 0, "gateway": None}
    return run(db.session, gateway, current_app.config["HOTLINE"])


@celery.task(name="messaging.catch_up")
def catch_up() -> int:
    """Notices whose job was lost (a crash between the ticket's commit and the job)."""
    from hotline.extensions import db

    from .notices import catch_up as run

    return run(db.session)
