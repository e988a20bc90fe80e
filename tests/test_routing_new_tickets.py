"""New tickets get a routing suggestion in the background: the event handler batches them into one
job per window, and a periodic sweep fills in any ticket a lost batch left without one."""
from __future__ import annotations

from sqlalchemy import select

from hotline.extensions import db
from ticketing.models import Ticket, TicketEvent

from .conftest import both_databases
from .telephony_helpers import wait_for
from .ticket_helpers import COMPLAINT

STREET_LIGHT = dict(COMPLAINT, type="求助", content="小区路灯坏了三天了没人修，晚上走路很危险")


def _suggested(app, number: str) -> dict | None:
    with app.app_context():
        value = db.session.scalar(select(Ticket.routing_suggestion).where(Ticket.number == number))
        db.Session.remove()
    return value


@both_databases
def test_tickets_created_together_all_get_a_suggestion(app, api):
    from routing import runner

    runner.wire(app)
    try:
        op = api("operator1")
        numbers = [op.post("/api/v1/tickets", json=STREET_LIGHT).get_json()["number"] for _ in range(5)]
        assert wait_for(lambda: all(_suggested(app, n) for n in numbers), timeout=120)
        for n in numbers:
            assert _suggested(app, n)["departments"][0]["code"] == "utilities"
        with app.app_context():  # exactly one suggestion event per ticket, by the routing system
            events = db.session.execute(select(Ticket.number, TicketEvent.actor).join(TicketEvent)
                                        .where(TicketEvent.action == "routing_suggested")).all()
        assert sorted(n for n, _ in events) == sorted(numbers)
        assert {actor for _, actor in events} == {"routing"}
    finally:
        runner.stop(app)


@both_databases
def test_the_sweep_fills_in_tickets_without_a_suggestion(app, api):
    from routing.tasks import suggest_missing

    op = api("operator1")  # the routing runner is not wired here: nothing suggests on creation
    number = op.post("/api/v1/tickets", json=STREET_LIGHT).get_json()["number"]
    assert _suggested(app, number) is None
    with app.app_context():
        assert suggest_missing.run() == 1
        assert suggest_missing.run() == 0  # idempotent: nothing left to do
        db.Session.remove()
    assert _suggested(app, number)["departments"][0]["code"] == "utilities"
