"""Celery tasks of SMS notices (the embedded default runs them in-process). All safe to retry."""
from __future__ import annotations

from hotline.extensions import celery


@celery.task(name="messaging.notify")
def notify(number: str, kind: str):
    from hotline.extensions import db

    from .notices import notify as queue_notice

    return queue_notice(db.session, number, kind)


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
