"""One `web` process killed, and Redis restarted (issue 15, point 3): consoles reconnect to the
other `web` and resync; no committed event is lost.

Two gunicorn `web` processes as the Procfile starts them, one Redis (the event bus and Flask-SocketIO's
message queue), PostgreSQL. A supervisor console (python-socketio client with the browser's session
cookie) is connected to web A; A is killed with ``kill -9`` (master and worker). The console then
connects to web B and resyncs: it re-reads its state over HTTP on every (re)connect, as the console
pages do (agent_console/static/console/common.js calls onConnect on each connect), so what was
committed while it had no socket is in that read, and events after the reconnect arrive through B
exactly once. Before that, the test's own redis-server is killed and restarted while web B commits
tickets: the console on A gets each of them exactly once (B's outbox is relayed when Redis is back) and
A's /healthz says `degraded` meanwhile.

In production the front proxy (nginx, sticky) sends the reconnecting console to a live `web`; this
test gives the client both addresses instead (a client-side failover list) and holds its reconnect
until a ticket has certainly been created during the gap.
"""
from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.conftest import free_port
from tests.console_helpers import wait_until
from tests.failover_helpers import Web, login_session, secure_demo_logins, token
from tests.redis_helpers import private_redis  # noqa: F401 - fixture


class FailoverConsole:
    """A console with a list of web addresses: on a lost connection it connects to the next one
    (once ``allow_reconnect`` is set) and re-reads its ticket list there, as the page does."""

    def __init__(self, urls: list[str], session: requests.Session):
        self.urls, self.session = urls, session
        self.frames: list[tuple[str, dict]] = []  # (web address, frame)
        self.snapshots: list[tuple[str, set[str]]] = []  # (web address, ticket numbers read on connect)
        self.allow_reconnect = threading.Event()
        self.disconnected = threading.Event()
        self.lock = threading.Lock()
        self.client = None
        self.current = None
        self.closing = False

    def connect(self, url: str) -> None:
        import socketio

        client = socketio.Client(http_session=self.session, reconnection=False)
        client.on("event", lambda frame: self._frame(url, frame), namespace="/console")
        client.on("disconnect", self._lost, namespace="/console")
        client.connect(url, namespaces=["/console"], transports=["websocket"], wait_timeout=30)
        self.client, self.current = client, url
        listing = self.session.get(url + "/api/v1/tickets", params={"per_page": 200}, timeout=60)
        assert listing.status_code == 200, listing.text
        with self.lock:
            self.snapshots.append((url, {t["number"] for t in listing.json()["items"]}))

    def _frame(self, url, frame):
        with self.lock:
            self.frames.append((url, frame))

    def close(self):
        self.closing = True
        if self.client is not None:
            self.client.disconnect()

    def _lost(self, *_args):
        if self.closing:
            return
        self.disconnected.set()
        threading.Thread(target=self._failover, daemon=True, name="console-failover").start()

    def _failover(self):
        self.allow_reconnect.wait(120)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for url in self.urls:
                if url == self.current:
                    continue
                try:
                    self.connect(url)
                    return
                except Exception:  # noqa: BLE001 - try the next address, as a proxy would
                    time.sleep(0.5)

    def ids(self):
        with self.lock:
            return [f["id"] for _, f in self.frames]

    def created(self, number):
        with self.lock:
            return [url for url, f in self.frames if f["name"] == "ticket.created" and f["payload"].get("number") == number]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_web_killed_console_reconnects_to_the_other_and_resyncs(app, database_url, private_redis, tmp_path):
    secure_demo_logins(database_url)
    webs = [Web(free_port(), database_url, private_redis.url, tmp_path / f"web-{i}.log") for i in range(2)]
    console = None
    try:
        a, b = (w.wait_up().url for w in webs)
        h = token(b, "operator1")

        def create(content):
            r = requests.post(b + "/api/v1/tickets", json={"type": "求助", "content": content}, headers=h, timeout=60)
            assert r.status_code == 201, r.text
            return r.json()["number"]

        console = FailoverConsole([a, b], login_session(a, "supervisor"))
        console.connect(a)
        before = create("路灯不亮 故障前")
        wait_until(lambda: console.created(before) == [a], timeout=60)  # B's commit reaches A's console

        # Redis killed (everything it held is lost) and restarted while B commits: the console on A
        # gets every event committed meanwhile exactly once (B's outbox, relayed when Redis is back)
        private_redis.kill()
        outage = [create(f"噪音扰民 {i}") for i in range(3)]
        wait_until(lambda: requests.get(a + "/healthz", timeout=30).json()["status"] == "degraded", timeout=60)
        private_redis.start()
        wait_until(lambda: all(console.created(n) for n in outage), timeout=90, interval=0.1)
        wait_until(lambda: all(requests.get(u + "/healthz", timeout=30).json()["status"] == "ok" for u in (a, b)),
                   timeout=60)

        webs[0].kill9()
        assert console.disconnected.wait(60), "the console did not notice that web A died"
        during = create("井盖缺失 故障期间")  # committed while the console has no socket at all
        console.allow_reconnect.set()
        wait_until(lambda: len(console.snapshots) == 2, timeout=120, interval=0.1)
        url, numbers = console.snapshots[1]
        assert url == b and {before, during} <= numbers  # the resync read on B has the gap's ticket

        after = create("路面塌陷 恢复后")
        wait_until(lambda: console.created(after), timeout=60)
        time.sleep(1.0)  # time for any duplicate to arrive
        assert console.created(after) == [b]
        assert console.created(before) == [a]
        assert all(console.created(n) == [a] for n in outage)
        assert len(console.ids()) == len(set(console.ids()))  # no event twice, across both processes
        assert webs[1].proc.poll() is None
    finally:
        if console is not None:
            console.close()
        for w in webs:
            w.stop()
