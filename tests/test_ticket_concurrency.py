"""Two operators acting on one ticket at once on PostgreSQL: exactly one wins."""
from __future__ import annotations

import threading

import pytest

from hotline.extensions import db
from ticketing import service
from hotline.exceptions import Conflict
from ticketing.models import Ticket, TicketEvent

from .ticket_helpers import COMPLAINT, PATHS as PATH_LEN, actors, make_ticket

postgres = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


def race(app, fn, n=2):
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        with app.app_context():
            barrier.wait()
            try:
                results[i] = ("ok", fn(i))
            except Conflict as exc:
                results[i] = ("conflict", exc.status)
            finally:
                db.Session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


@postgres
@pytest.mark.parametrize("action,body", [("sign", {}), ("dispatch", {"main_department": "water"})])
def test_simultaneous_actions_one_wins(app, action, body):
    status = "dispatched" if action == "sign" else "accepted"
    for _round in range(3):  # the race must hold every time, not once by luck
        with app.app_context():
            number = make_ticket(db.session, status)
            who = actors(db.session)
            db.Session.remove()
        actor = who["department"] if action == "sign" else who["operator"]
        results = race(app, lambda i: service.perform(db.session, number, action, actor, body).status)
        assert sorted(r[0] for r in results) == ["conflict", "ok"], results
        assert [r[1] for r in results if r[0] == "conflict"] == [409]
        with app.app_context():
            t = db.session.query(Ticket).filter_by(number=number).one()
            assert db.session.query(TicketEvent).filter_by(ticket_id=t.id, action=action).count() == 1
            assert t.event_count == len(PATH_LEN[status]) + 2
            db.Session.remove()


@postgres
def test_ticket_numbers_unique_under_concurrent_creation(app):
    with app.app_context():
        op = actors(db.session)["operator"]
        db.Session.remove()
    results = race(app, lambda i: [service.create_ticket(db.session, COMPLAINT, op).number for _ in range(20)], n=8)
    numbers = [n for r in results for n in r[1]]
    assert len(numbers) == 160 and len(set(numbers)) == 160
    seqs = sorted(int(n[8:]) for n in numbers)
    assert seqs == list(range(1, 161))
