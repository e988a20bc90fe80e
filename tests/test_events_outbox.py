"""Events survive Redis outages (issue 11, defect 4): the Redis listener reconnects and resubscribes;
events committed while Redis is unreachable wait in the outbox and arrive once it is back;
/healthz says `degraded` and why meanwhile. Each test has a redis-server of its own (killing the
machine's shared one would hit every other test run)."""
from __future__ import annotations

import pytest
import redis
from sqlalchemy import text

from hotline.events import EventBus
from tests.console_helpers import wait_until
from tests.redis_helpers import RedisServer, private_redis  # noqa: F401 - fixture


@pytest.fixture
def app_config(private_redis):
    return {"redis_url": private_redis.url}


def _calls(events, call_id):
    return [p for n, p in events if n == "call.ringing" and p.get("call_id") == call_id]


def test_listener_resubscribes_after_client_kill(app, private_redis, events):
    """Before: after `CLIENT KILL TYPE pubsub` the listener thread ended and every later event
    from another process was lost. (Events without an outbox row, like this call progress, sent
    while the listener is away are lost by pub/sub; committed ones are replayed: see below.)"""
    from hotline.events import bus

    other = EventBus()
    other.connect_redis(private_redis.url, listen=False)
    try:
        other.publish("call.ringing", {"call_id": "before", "caller": "13800138000", "called": "12345"})
        wait_until(lambda: _calls(events, "before"), timeout=30)
        assert bus._listener.connects == 1
        killed = redis.Redis.from_url(private_redis.url).client_kill_filter(_type="pubsub")
        assert killed >= 1
        wait_until(lambda: bus._listener.connects == 2, timeout=30)
        other.publish("call.ringing", {"call_id": "after", "caller": "13800138000", "called": "12345"})
        wait_until(lambda: _calls(events, "after"), timeout=30)
        assert len(_calls(events, "before")) == 1 and len(_calls(events, "after")) == 1
    finally:
        other.disconnect_redis()


@pytest.fixture
def dead_redis(tmp_path):
    """A port where no Redis listens yet (a wrong REDIS_URL); `.start()` brings one up there."""
    server = RedisServer(tmp_path)
    yield server
    server.stop()


class TestWrongRedisUrl:
    @pytest.fixture
    def app_config(self, dead_redis):
        return {"redis_url": dead_redis.url}

    def test_events_wait_in_the_outbox_and_health_says_why(self, app, api, client, dead_redis, events):
        """Before: ticket creation succeeded, the event went nowhere and /healthz said ok."""
        from hotline.extensions import db

        op = api("operator1")
        r = op.post("/api/v1/tickets", json={"type": "求助", "content": "路灯不亮"})
        assert r.status_code == 201, r.get_json()
        number = r.get_json()["number"]
        assert ("ticket.created", number) in [(n, p.get("number")) for n, p in events]  # in-process delivery

        health = wait_until(lambda: (h := client.get("/healthz").get_json())["status"] == "degraded" and h,
                            timeout=30)
        assert any("redis" in reason for reason in health["reasons"]), health
        with app.app_context():
            rows = db.session.execute(text("SELECT name, relayed_at FROM event_outbox")).all()
            db.Session.remove()
        assert rows == [("ticket.created", None)]

        # another process's bus on the same (dead) URL: it gets the event once Redis is there
        other = EventBus()
        received: list[tuple[str, dict]] = []
        other.subscribe("ticket.created", lambda n, p: received.append((n, p)))
        other.connect_redis(dead_redis.url, engine=db.engine)
        try:
            dead_redis.start()
            wait_until(lambda: [p["number"] for _, p in received] == [number], timeout=60)

            def relayed():
                with app.app_context():
                    try:
                        return db.session.execute(text("SELECT relayed_at FROM event_outbox")).scalar() is not None
                    finally:
                        db.Session.remove()

            wait_until(relayed, timeout=60)
            wait_until(lambda: client.get("/healthz").get_json()["status"] == "ok", timeout=60)
            assert [p["number"] for _, p in received] == [number]
        finally:
            other.disconnect_redis()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_redis_killed_and_restarted_every_committed_event_reaches_another_process_once(app, database_url,
                                                                                       private_redis):
    """Web processes A and B share a Redis that is SIGKILLed (losing everything it held) and then
    restarted while tickets are created and moved on A. A supervisor's console on B gets every
    event committed on A exactly once, and A's /healthz says `degraded` while Redis is away."""
    import time
    from collections import Counter

    import requests

    from tests.test_console_api import Listener
    from tests.test_console_redis import _server, _stop

    from tests.conftest import free_port

    ports = [free_port(), free_port()]
    procs = [_server(p, database_url, private_redis.url) for p in ports]
    a, b = (f"http://127.0.0.1:{p}" for p in ports)
    sup = Listener(b, "supervisor").connect()
    try:
        token = requests.post(a + "/api/v1/auth/token", json={"username": "operator1",
                                                               "password": "operator1-pass"}).json()["token"]
        h = {"Authorization": f"Bearer {token}"}

        def ticket_actions(i):
            r = requests.post(a + "/api/v1/tickets", json={"type": "求助", "content": f"井盖缺失 {i}"}, headers=h)
            assert r.status_code == 201, r.text
            number = r.json()["number"]
            for action, body in (("accept", {}), ("dispatch", {"main_department": "housing"})):
                r = requests.post(f"{a}/api/v1/tickets/{number}/actions/{action}", json=body, headers=h)
                assert r.status_code == 200, r.text

        for i in range(4):
            ticket_actions(i)
        wait_until(lambda: len(sup.frames) == 12, timeout=30)  # the path works before the outage

        private_redis.kill()
        for i in range(4, 8):
            ticket_actions(i)
        health = wait_until(lambda: (h_ := requests.get(a + "/healthz").json())["status"] == "degraded" and h_,
                            timeout=30)
        assert any("redis" in reason for reason in health["reasons"]), health
        private_redis.start()
        for i in range(8, 12):
            ticket_actions(i)

        with app.app_context():
            from hotline.extensions import db

            committed = {row.event_id: row.name for row in db.session.execute(
                text("SELECT event_id, name FROM event_outbox"))}
            db.Session.remove()
        assert len(committed) == 36 and set(committed.values()) == {"ticket.created", "ticket.changed"}
        wait_until(lambda: {f["id"] for f in sup.frames} == set(committed), timeout=90)
        wait_until(lambda: requests.get(a + "/healthz").json()["status"] == "ok", timeout=60)
        time.sleep(1.0)  # time for any duplicate to arrive
        counts = Counter(f["id"] for f in sup.frames)
        assert set(counts) == set(committed) and set(counts.values()) == {1}, counts.most_common(3)
    finally:
        sup.client.disconnect()
        _stop(procs)


def test_outbox_migration_matches_the_model_and_goes_down_and_up(tmp_path):
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine, inspect

    from hotline.app.dbadmin import alembic_config, import_models, upgrade
    from hotline.extensions import Base

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    import_models()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert [d for d in diff if "event_outbox" in str(d)] == []
        command.downgrade(alembic_config(url), "0006")
        assert "event_outbox" not in inspect(engine).get_table_names()
        upgrade(url)
        assert "event_outbox" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
