"""Background jobs of routing. Tasks take ids, reload rows and are safe to retry."""
from __future__ import annotations

import logging

from hotline.extensions import celery
from hotline.extensions import db

log = logging.getLogger("hotline.routing")


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


@celery.task(name="routing.suggest_for_tickets")
def suggest_for_tickets(numbers: list[str]):
    """A batch of new tickets (see runner: coalesced per 0.2 s); each is idempotent."""
    from . import service

    done = 0
    for number in numbers:
        try:
            if service.suggest_for_ticket(db.session, number) is not None:
                done += 1
        except Exception:  # one bad ticket must not cost the rest of the batch their suggestion
            db.session.rollback()
            log.exception("routing.suggest_failed number=%s", number)
    return done


@celery.task(name="routing.suggest_missing")
def suggest_missing(hours: int = 24):
    """Periodic sweep: suggestions for recent tickets that have none (a batch lost in a crash)."""
    from . import service

    return suggest_for_tickets.run(service.tickets_without_suggestion(db.session, hours))
