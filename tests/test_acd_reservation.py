"""The operator reservation is one conditional UPDATE in the database: however many SIP processes
(here: threads with connections of their own) reach for one ready operator at the same moment,
exactly one wins, on PostgreSQL (row lock, WHERE re-checked after the wait) and on SQLite."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import both_databases


def _ready_operator(app, username="operator1"):
    from hotline.auth import User
    from hotline.extensions import db
    from routing.calls import presence

    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        presence.set_state(db.session, user, "idle")
        uid = user.id
        db.Session.remove()
    return uid


def _race(app, user_id: int, contenders: int) -> list[str]:
    """``contenders`` threads, each its own connection, reserve ``user_id`` at once; the winners."""
    from hotline.extensions import db
    from routing.calls import store

    barrier, winners, errors = threading.Barrier(contenders), [], []

    def reach(n: int) -> None:
        call_uuid = f"{n:032x}"
        try:
            with app.app_context():
                session = db.Session()
                barrier.wait(30)
                if store.reserve(session, user_id, call_uuid, lease=60):
                    winners.append(call_uuid)
                db.Session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=reach, args=(n,)) for n in range(contenders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return winners


@both_databases
def test_two_reservations_racing_for_one_operator_have_one_winner(app):
    from hotline.extensions import db
    from routing.calls import store
    from routing.calls.models import AgentState

    uid = _ready_operator(app)
    for _round in range(10):
        winners = _race(app, uid, 2)
        assert len(winners) == 1, winners
        with app.app_context():
            assert db.session.get(AgentState, uid).reserved_call == winners[0]
            assert uid not in {c.user_id for c in store.ready_operators(db.session, lease=60)}
            store.release(db.session, uid, winners[0])
            db.Session.remove()
    assert len(_race(app, uid, 8)) == 1


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_reservation_waiting_on_the_row_lock_loses_once_the_first_commits(app):
    """Deterministic interleaving on PostgreSQL: A updates (row locked, not committed), B's UPDATE
    blocks on the lock; A commits; B re-checks its WHERE on the new row version and changes nothing."""
    from sqlalchemy import update

    from hotline.extensions import db
    from routing.calls import store
    from routing.calls.models import AgentState
    from hotline.clock import utcnow

    uid = _ready_operator(app)
    with app.app_context():
        first = db.Session()
        taken = first.execute(update(AgentState).where(AgentState.user_id == uid, AgentState.state == "idle",
                                                       AgentState.reserved_call.is_(None))
                              .values(reserved_call="a" * 32, reserved_at=utcnow())).rowcount
        assert taken == 1  # locked, not yet committed
        result = {}

        def second():
            with app.app_context():
                result["won"] = store.reserve(db.Session(), uid, "b" * 32, lease=60)
                db.Session.remove()

        t = threading.Thread(target=second)
        t.start()
        t.join(1.0)
        assert t.is_alive()  # B waits for A's row lock
        first.commit()
        t.join(30)
        assert result == {"won": False}
        assert db.session.get(AgentState, uid).reserved_call == "a" * 32
        db.Session.remove()


@both_databases
def test_a_lapsed_reservation_frees_the_operator(app):
    """A SIP process that died while the phone rang cannot hold the operator beyond the lease."""
    from hotline.extensions import db
    from routing.calls import store
    from routing.calls.models import AgentState

    uid = _ready_operator(app)
    with app.app_context():
        assert store.reserve(db.session, uid, "a" * 32, lease=60)
        assert not store.reserve(db.session, uid, "b" * 32, lease=60)
        row = db.session.get(AgentState, uid)
        row.reserved_at = row.reserved_at - timedelta(seconds=61)
        db.session.commit()
        assert uid in {c.user_id for c in store.ready_operators(db.session, lease=60)}
        assert store.reserve(db.session, uid, "b" * 32, lease=60)
        db.Session.remove()
