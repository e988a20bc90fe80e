"""Helpers for the supervision tests: literal China-time instants and tickets built through the API."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from hotline.clock import CST, to_utc_naive


def cst(*args) -> datetime:
    """A China-time wall-clock literal as the naive UTC the database stores."""
    return to_utc_naive(datetime(*args, tzinfo=CST))


def iso_cst(*args) -> str:
    return datetime(*args, tzinfo=CST).isoformat()


def new_ticket(api, received: tuple, *, type_="求助", phone=None, dept: str | None = "housing",
               content="小区路灯损坏，请尽快维修") -> str:
    """Register (received at a literal China time), accept and, with ``dept``, dispatch a ticket."""
    op = api("operator1")
    caller = {"phone": phone} if phone else {}
    r = op.post("/api/v1/tickets", json={"type": type_, "content": content, "caller": caller,
                                         "received_at": iso_cst(*received)})
    assert r.status_code == 201, r.get_json()
    number = r.get_json()["number"]
    assert op.act(number, "accept").status_code == 200
    if dept:
        r = op.act(number, "dispatch", {"main_department": dept})
        assert r.status_code == 200, r.get_json()
    return number


def set_times(session, number: str, **values) -> None:
    """Pin lifecycle timestamps (signed_at, replied_at...) of a hand-built ticket to literal times."""
    from ticketing.models import Ticket

    session.execute(update(Ticket).where(Ticket.number == number).values(**values)
                    .execution_options(synchronize_session=False))
    session.commit()


def events_of(session, number: str, action: str) -> list:
    from ticketing.models import Ticket, TicketEvent

    return session.scalars(select(TicketEvent).join(Ticket).where(Ticket.number == number,
                                                                TicketEvent.action == action)).all()
