"""督办 acknowledgement: the urged unit confirms it has seen the urging.

An ``Urging`` is a ticketing sub-record, so the change to it and the ``acknowledge_urge`` event on
the ticket's chain are written here, in one transaction. Only a user of the urged unit (the
urging's department, or the ticket's current main unit) may acknowledge, and only once.
"""
from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from hotline.events import publish_after_commit

from hotline.clock import iso, utcnow
from hotline.exceptions import Conflict, Forbidden, NotFound
from hotline.identity import Actor
from .lifecycle import DEPARTMENT
from .models import Department, Ticket, Urging
from .service import record_event

log = logging.getLogger("hotline.ticketing")


def acknowledge(session, urging_id: int, actor: Actor, note: str | None = None) -> Urging:
    try:
        urging = session.scalar(select(Urging).where(Urging.id == urging_id).with_for_update())
        if urging is None:
            raise NotFound(f"urging {urging_id} not found")
        ticket = session.get(Ticket, urging.ticket_id)
        units = {urging.department_id, ticket.main_department_id} - {None}
        if actor.role != DEPARTMENT or actor.department_id not in units:
            if actor.role == DEPARTMENT and actor.department_id not in ticket.department_ids():
                raise NotFound(f"urging {urging_id} not found")
            raise Forbidden("only the urged unit acknowledges an urging")
        if urging.acknowledged_at is not None:
            raise Conflict(f"urging {urging_id} was already acknowledged by {urging.acknowledged_by} "
                           f"at {iso(urging.acknowledged_at)}")
        urging.acknowledged_at = utcnow()
        urging.acknowledged_by = actor.username
        dept = session.get(Department, actor.department_id)
        record_event(session, ticket.number, "acknowledge_urge", actor, note=note,
                     data={"urging_id": urging.id, "department": {"code": dept.code, "name": dept.name}},
                     commit=False)
        publish_after_commit(session, "urging.acknowledged", {
            "number": ticket.number, "urging_id": urging.id, "department": dept.code,
            "acknowledged_by": actor.username})
        session.commit()
    except (StaleDataError, IntegrityError):
        session.rollback()
        raise Conflict(f"urging {urging_id} was changed at the same time; reload and retry")
    except Exception:
        session.rollback()
        raise
    log.info("ticket.acknowledge_urge number=%s urging=%s actor=%s", ticket.number, urging_id, actor.username)
    return urging
