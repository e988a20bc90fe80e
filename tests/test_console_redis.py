"""Several processes, one Redis: a write in web process A and an event from a SIP-like process both
reach a console connected to web process B, exactly once (Flask-SocketIO's Redis message queue;
each process emits only the events published in it)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port
from tests.console_helpers import wait_until
from tests.telephony_helpers import stop_process
from tests.test_console_api import Listener

ROOT = Path(__file__).resolve().parent.parent


def _server(port, database_url, redis_url, role="full"):
    proc = subprocess.Popen([sys.executable, "-m", "tests.console_server", str(port), database_url, redis_url, role],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.3)
    proc.kill()
    raise AssertionError("web process did not start")


def _stop(procs):
    for p in procs:
        stop_process(p, 10)


@pytest.fixture
def two_web_processes(app, database_url, redis_url):
    ports = [free_port(), free_port()]
    procs = [_server(p, database_url, redis_url) for p in ports]
    yield [f"http://127.0.0.1:{p}" for p in ports], database_url, redis_url
    _stop(procs)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_events_cross_processes_once(two_web_processes):
    (a, b), database_url, redis_url = two_web_processes
    housing_b = Listener(b, "housing").connect()
    operator_b = Listener(b, "operator1").connect()
    operator_a = Listener(a, "operator1").connect()
    try:
        token = requests.post(a + "/api/v1/auth/token", json={"username": "operator1",
                                                               "password": "operator1-pass"}).json()["token"]
        h = {"Authorization": f"Bearer {token}"}
        number = requests.post(a + "/api/v1/tickets", json={"type": "求助", "content": "井盖缺失"}, headers=h).json()["number"]
        requests.post(f"{a}/api/v1/tickets/{number}/actions/accept", json={}, headers=h)
        requests.post(f"{a}/api/v1/tickets/{number}/actions/dispatch", json={"main_department": "housing"}, headers=h)
        wait_until(lambda: ("ticket.changed", "dispatch") in housing_b.names(number))

        # the SIP process: another process publishing telephony events
        subprocess.run([sys.executable, "-m", "tests.console_server", "--publish", database_url, redis_url,
                        "call.ringing", json.dumps({"call_id": "x-1", "caller": "13800138000", "called": "12345"})],
                       cwd=ROOT, check=True, timeout=60)
        wait_until(lambda: ("call.ringing", None) in operator_b.names())
        wait_until(lambda: ("call.ringing", None) in operator_a.names())
        time.sleep(1.0)  # time for any duplicate to arrive
        assert housing_b.names(number) == [("ticket.changed", "dispatch")]
        assert operator_b.names(number) == [("ticket.created", None), ("ticket.changed", "accept"),
                                            ("ticket.changed", "dispatch")]
        assert [n for n in operator_b.names() if n[0] == "call.ringing"] == [("call.ringing", None)]
        assert [n for n in operator_a.names() if n[0] == "call.ringing"] == [("call.ringing", None)]
        # web process B's call board learnt of the call through the event bus on Redis
        s = requests.Session()
        tok = requests.post(b + "/api/v1/auth/token", json={"username": "supervisor", "password": "supervisor-pass"}).json()["token"]
        board = s.get(b + "/api/v1/console/wallboard", headers={"Authorization": f"Bearer {tok}"}).json()
        assert board["calls"]["waiting"] == 1
    finally:
        for listener in (housing_b, operator_b, operator_a):
            listener.client.disconnect()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_an_api_role_process_reaches_consoles_on_the_web_process(app, database_url, redis_url):
    """The Procfile's `api` process has no sockets of its own: what it commits reaches the consoles
    connected to `web` through Redis, exactly once."""
    web_port, api_port = free_port(), free_port()
    procs = [_server(web_port, database_url, redis_url), _server(api_port, database_url, redis_url, "api")]
    web, api = f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{api_port}"
    operator = Listener(web, "operator1").connect()
    try:
        token = requests.post(api + "/api/v1/auth/token", json={"username": "operator1",
                                                                 "password": "operator1-pass"}).json()["token"]
        r = requests.post(api + "/api/v1/tickets", json={"type": "求助", "content": "井盖缺失"},
                          headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201, r.text
        number = r.json()["number"]
        wait_until(lambda: ("ticket.created", None) in operator.names(number))
        time.sleep(1.0)  # time for any duplicate to arrive
        assert operator.names(number) == [("ticket.created", None)]
        # the live call board is `web`'s: the api role does not receive other processes' events,
        # so it serves no console endpoints (nginx routes them to `web`) rather than an empty board
        r = requests.get(api + "/api/v1/console/calls", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 404, r.text
        r = requests.get(web + "/api/v1/console/calls", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json() == {"items": []}, r.text
        assert requests.get(api + "/healthz").status_code == 200
        # nor a Socket.IO endpoint: a browser's handshake there is refused, on `web` it is answered
        handshake = "/socket.io/?EIO=4&transport=polling"
        assert requests.get(api + handshake).status_code == 404
        assert requests.get(web + handshake).status_code == 200
    finally:
        operator.client.disconnect()
        _stop(procs)


def test_deployments_on_different_redis_databases_do_not_hear_each_other(redis_url):
    """Redis pub/sub ignores the database number: the channels carry it, so a second deployment
    (or test run) on the same Redis server but another database never gets our events."""
    import redis

    from hotline.events import CHANNEL, redis_channel

    base = redis_url.rsplit("/", 1)[0]
    ours, theirs = redis_channel(CHANNEL, f"{base}/3"), redis_channel(CHANNEL, f"{base}/4")
    assert ours != theirs and ours.startswith("hotline:events")
    listener = redis.Redis.from_url(f"{base}/4").pubsub(ignore_subscribe_messages=True)
    listener.subscribe(theirs)
    try:
        redis.Redis.from_url(f"{base}/3").publish(ours, "ours")
        redis.Redis.from_url(f"{base}/4").publish(theirs, "theirs")
        got = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and len(got) < 1:
            message = listener.get_message(timeout=0.2)
            if message:
                got.append(message["data"])
        time.sleep(0.3)
        message = listener.get_message(timeout=0.2)
        if message:
            got.append(message["data"])
        assert got == [b"theirs"]
    finally:
        listener.close()
