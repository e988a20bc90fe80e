"""Choosing the operator, against the real database (SQLite and PostgreSQL): who is ready, in
which order each strategy takes them, and what the offers table proves afterwards."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import both_databases


@pytest.fixture
def db_session(app):
    from hotline.extensions import db

    with app.app_context():
        yield db.session
        db.Session.remove()


def _users(session):
    from hotline.auth import User, create_user

    create_user(session, "operator3", "operator3-pass", "operator", sip_extension="1003")
    create_user(session, "operator4", "operator4-pass", "operator", sip_extension=None)  # no phone
    session.commit()
    return {u.username: u for u in session.scalars(select(User).where(User.role == "operator"))}


def _ready(session, users, order, *, others=None):
    """Set 示闲 through the console service, then date ready-since so ``order[0]`` waited longest."""
    from routing.calls import presence
    from routing.calls.models import AgentState
    from hotline.clock import utcnow

    for name in order:
        presence.set_state(session, users[name], "idle")
    for name, state in (others or {}).items():
        presence.set_state(session, users[name], state)
    now = utcnow()
    for i, name in enumerate(order):
        session.get(AgentState, users[name].id).since = now - timedelta(minutes=len(order) - i)
    session.commit()


@both_databases
def test_longest_idle_reads_ready_operators_oldest_first(db_session):
    from routing.calls import store as data
    from routing.calls import strategies

    users = _users(db_session)
    _ready(db_session, users, ["operator3", "operator1", "operator4"], others={"operator2": "break"})
    ready = data.ready_operators(db_session)
    # operator4 has no extension, operator2 is on break: neither can take a call
    assert [c.username for c in ready] == ["operator3", "operator1"]
    assert strategies.choose(ready, "longest_idle").username == "operator3"
    assert [c.username for c in data.ready_operators(db_session, exclude={users["operator3"].id})] == ["operator1"]
    assert data.operators_on_duty(db_session) == 4


@both_databases
def test_fewest_calls_counts_answered_offers_today(db_session):
    from routing.calls import store as data
    from routing.calls import strategies

    users = _users(db_session)
    _ready(db_session, users, ["operator1", "operator2", "operator3"])
    ready = data.ready_operators(db_session)
    # operator1 answered two calls today, operator2 one (plus a missed ring), operator3 none
    for name, results in (("operator1", ["answered", "answered"]), ("operator2", ["answered", "no_answer"])):
        cand = next(c for c in ready if c.username == name)
        for result in results:
            data.close_offer(db_session, data.open_offer(db_session, "c" * 32, cand, "fewest_calls"), result)
    ready = data.ready_operators(db_session)
    assert {c.username: c.answered_today for c in ready} == {"operator1": 2, "operator2": 1, "operator3": 0}
    assert strategies.choose(ready, "fewest_calls").username == "operator3"
    assert strategies.choose([c for c in ready if c.username != "operator3"], "fewest_calls").username == "operator2"


def test_round_robin_cycles_in_user_order(db_session):
    from routing.calls import store as data
    from routing.calls import strategies

    users = _users(db_session)
    _ready(db_session, users, ["operator3", "operator2", "operator1"])
    ready = data.ready_operators(db_session)
    picked, last = [], None
    for _ in range(4):
        cand = strategies.choose(ready, "round_robin", last)
        picked.append(cand.username)
        last = cand.user_id
    assert picked == ["operator1", "operator2", "operator3", "operator1"]


def test_nobody_on_duty_when_every_operator_is_offline(db_session):
    from routing.calls import store as data
    from routing.calls import strategies

    users = _users(db_session)
    assert data.operators_on_duty(db_session) == 0  # no presence row yet = 离线
    _ready(db_session, users, [], others={"operator1": "offline", "operator2": "busy"})
    assert data.operators_on_duty(db_session) == 1
    assert data.ready_operators(db_session) == []


def test_service_hours_are_china_time():
    from datetime import datetime

    from hotline.config import ConfigError, parse_service_hours
    from routing.calls.store import in_service_hours

    spans = parse_service_hours("08:00-12:00,13:30-21:00")
    assert in_service_hours(spans, datetime(2026, 3, 2, 1, 0))  # 09:00 in Beijing
    assert not in_service_hours(spans, datetime(2026, 3, 2, 4, 45))  # 12:45: lunch break
    assert not in_service_hours(spans, datetime(2026, 3, 2, 13, 30))  # 21:30
    assert in_service_hours(parse_service_hours(""), datetime(2026, 3, 2, 19, 0))  # empty = 24 h
    for bad in ("8-20", "20:00-08:00", "08:00-25:00"):
        with pytest.raises(ConfigError):
            parse_service_hours(bad)
