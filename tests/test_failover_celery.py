"""A Celery worker killed with ``kill -9`` in the middle of its tasks (issue 15, point 3): every task
still runs to completion, and none has its effect twice.

The worker is the Procfile's (prefork, concurrency 2) on Redis; its whole process group is SIGKILLed
while it is working through a queue of call-rollup tasks and batches of routing suggestions, so the
tasks it was running or had reserved die unacknowledged (``task_acks_late``). A second worker gets
them again after the visibility timeout (HOTLINE_CELERY_VISIBILITY_TIMEOUT, short here) and runs them;
tasks whose effect had committed before the kill run again as no-ops (each task is idempotent).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hotline.extensions import db
from tests.conftest import use_broker
from tests.console_helpers import wait_until
from tests.redis_helpers import private_redis  # noqa: F401 - fixture

CALLS = 50
TICKETS = 40
VISIBILITY = 10  # seconds; a batch here takes about a second


def _worker(database_url, redis_url, log_path):
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, HOTLINE_BACKGROUND_JOBS="celery",
               HOTLINE_INSTANCE_DIR=str(log_path.parent / "worker-instance"), HOTLINE_SIP_ENABLED="false",
               HOTLINE_CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY))
    with open(log_path, "w") as log:
        return subprocess.Popen([str(Path(sys.executable).parent / "celery"), "-A", "hotline.app.worker", "worker",
                                 "--concurrency", "2", "--loglevel", "WARNING", "-Q", "celery"],
                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _kill9(proc):
    """SIGKILL to the worker and its pool processes at once (the process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)


def _call(i, now):
    ringing = now - timedelta(minutes=30, seconds=i)
    return {"call_id": f"kill9-{i}", "direction": "inbound", "ringing_at": ringing.isoformat(),
            "answered_at": (ringing + timedelta(seconds=5)).isoformat(),
            "ended_at": (ringing + timedelta(seconds=65)).isoformat()}


def _small_current_model(app, monkeypatch):
    """A routing model covering the current catalogue, fitted on a few samples: the workers then
    suggest with it at once instead of queueing a full retraining (tens of seconds of CPU that
    this test is not about)."""
    from routing import catalogue, service

    full = service.training_samples
    monkeypatch.setattr(service, "training_samples", lambda session: full(session)[:300])
    with app.app_context():
        catalogue.ensure_seeded(db.session)
        assert service.train(db.session, force=True) is not None
        db.Session.remove()
    monkeypatch.setattr(service, "training_samples", full)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_worker_killed_mid_task_every_task_done_once(app, api, database_url, private_redis, tmp_path, monkeypatch):
    """On a redis-server of its own: no other test run's worker can take (or add) a message."""
    redis_url = private_redis.url
    from hotline import jobs
    from hotline.clock import utcnow
    from hotline.extensions import celery
    from hotline.plugins import shutdown
    from routing.tasks import suggest_for_tickets
    from supervision.models import CallDaily, CallFact
    from supervision.tasks import record_call
    from ticketing.models import Ticket, TicketEvent

    _small_current_model(app, monkeypatch)
    old = use_broker(celery, broker_url=redis_url, result_backend=redis_url)  # its own Redis
    jobs.configure(app, "celery")  # this process's jobs go to the queue; no worker runs yet
    first = second = None
    try:
        op = api("operator1")
        numbers = []
        for i in range(TICKETS):
            r = op.post("/api/v1/tickets", json={"type": "投诉", "content": f"小区楼下饭店油烟太大，噪音扰民 {i}"})
            assert r.status_code == 201, r.get_json()
            numbers.append(r.get_json()["number"])
        # the batchers' small jobs (suggestions for a few new tickets, KPI nudges) would do the
        # suggestions one by one before the long batches below start: this process's subscribers
        # stop and flush (what its shutdown does), then the queue is purged
        shutdown(app)
        celery.control.purge()
        first = _worker(database_url, redis_url, tmp_path / "worker-1.log")
        wait_until(lambda: celery.control.ping(timeout=1.0), timeout=240, interval=0.5)  # ready
        # four long batches over the same tickets, two in reverse order: the worker's two pool
        # processes run one each and meet on the same tickets (the lock decides)
        results = [suggest_for_tickets.apply_async(args=[batch])
                   for batch in (numbers, numbers[::-1], numbers, numbers[::-1])]
        now = utcnow()
        results += [record_call.apply_async(args=[_call(i, now)]) for i in range(CALLS)]

        def suggested():
            with app.app_context():
                try:
                    return dict(db.session.execute(
                        select(Ticket.number, func.count(TicketEvent.id))
                        .join(TicketEvent, TicketEvent.ticket_id == Ticket.id)
                        .where(TicketEvent.action == "routing_suggested").group_by(Ticket.number)).all())
                finally:
                    db.Session.remove()

        # kill while the long batches run: the worker then holds only them (prefetch 1 per process)
        # and is not fetching, so no message is between Redis and its unacked set (see README)
        wait_until(lambda: len(suggested()) >= 5, timeout=240, interval=0.02)
        _kill9(first)
        at_kill = len(suggested())
        assert at_kill < TICKETS, "the worker finished the batches before it was killed"
        assert not any(r.ready() for r in results[:4]), "a batch was done before the worker was killed"

        second = _worker(database_url, redis_url, tmp_path / "worker-2.log")
        wait_until(lambda: all(r.ready() for r in results), timeout=240, interval=0.5)
        assert {r.state for r in results} == {"SUCCESS"}, {r.state for r in results}
        assert suggested() == {n: 1 for n in numbers}

        with app.app_context():
            session = db.session
            assert session.scalar(select(func.count()).select_from(CallFact)) == CALLS
            assert session.scalar(select(func.sum(CallDaily.offered))) == CALLS
            assert session.scalar(select(func.sum(CallDaily.answered))) == CALLS
            db.Session.remove()
    finally:
        jobs.configure(app, "inprocess")
        use_broker(celery, **old)
        for proc in (first, second):
            if proc is not None:
                _kill9(proc)  # the test is over: a retraining it queued need not finish
