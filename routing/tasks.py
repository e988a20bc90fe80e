"""Background jobs of routing. Tasks take ids, reload rows and are safe to retry."""
from __future__ import annotations

from hotline.celery_app import celery
from hotline.extensions import db


@celery.task(name="routing.retrain")
def retrain(force: bool = False):
    """Retrain on the catalogue + dispatch history; a no-op when nothing changed."""
    from . import service

    row = service.train(db.session, force=force)
    return None if row is None else row.id


@celery.task(name="routing.learn")
def learn(number: str, action: str, data: dict | None = None):
    """Record a dispatch outcome as an example, then retrain in the background."""
    from . import service

    ex = service.learn_from_change(db.session, number, action, data)
    if ex is not None:
        service.request_retrain()
    return None if ex is None else ex.id


@celery.task(name="routing.suggest_for_ticket")
def suggest_for_ticket(number: str):
    from . import service

    result = service.suggest_for_ticket(db.session, number)
    return None if result is None else [d["code"] for d in result["departments"]]
