"""Console JSON endpoints and the Socket.IO namespace, with real HTTP and real Socket.IO clients."""
from __future__ import annotations

import io
import re
import threading

import pytest

from tests.conftest import free_port
from tests.console_helpers import PASSWORDS, LiveServer, publish, wait_until


def _ticket(op, dept="housing", content="小区路灯不亮"):
    number = op.post("/api/v1/tickets", json={"type": "求助", "content": content,
                                              "caller": {"phone": "13800138000"}}).get_json()["number"]
    assert op.act(number, "accept").status_code == 200
    if dept:
        assert op.act(number, "dispatch", {"main_department": dept}).status_code == 200
    return number


def test_presence_changes_publish_agent_state(app, api, client):
    from hotline.events import bus

    seen = []
    bus.subscribe("agent.state", lambda n, p: seen.append(p))
    op = api("operator1")
    assert op.get("/api/v1/console/state").get_json()["state"] == "offline"
    r = op.post("/api/v1/console/state", json={"state": "idle"})
    assert r.status_code == 200 and r.get_json()["label"] == "示闲"
    assert seen[-1]["user"] == "operator1" and seen[-1]["state"] == "idle" and seen[-1]["extension"] == "1001"
    assert op.post("/api/v1/console/state", json={"state": "sleeping"}).status_code == 422
    assert api("housing").post("/api/v1/console/state", json={"state": "idle"}).status_code == 403
    board = api("supervisor").get("/api/v1/console/wallboard").get_json()
    states = {s["state"]: s["count"] for s in board["operator_states"]}
    assert states["idle"] == 1 and states["offline"] == 1
    assert api("operator1").get("/api/v1/console/wallboard").status_code == 403


def test_wallboard_counts_calls_and_todays_tickets(app, api):
    op, sup = api("operator1"), api("supervisor")
    _ticket(op)
    publish(app, "call.ringing", {"call_id": "w1", "caller": "13800138000", "called": "12345"})
    publish(app, "call.ringing", {"call_id": "w2", "caller": "13900139000", "called": "12345"})
    publish(app, "call.answered", {"call_id": "w1", "caller": "13800138000", "called": "12345"})
    w = sup.get("/api/v1/console/wallboard").get_json()
    assert w["calls"]["waiting"] == 1 and w["calls"]["talking"] == 1
    assert w["tickets_today"]["total"] == 1
    assert {r["type"]: r["count"] for r in w["tickets_today"]["by_type"]}["求助"] == 1
    assert {r["status"]: r["count"] for r in w["tickets_today"]["by_status"]}["dispatched"] == 1
    publish(app, "call.ended", {"call_id": "w2", "caller": "13900139000", "duration": 0, "cause": "cancel"})
    # today's figures count ended calls (the rollup, a background job): w2 rang and was cancelled
    assert wait_until(lambda: sup.get("/api/v1/console/wallboard").get_json()["call_kpis"]["offered"] == 1, 30)
    w = sup.get("/api/v1/console/wallboard").get_json()
    assert w["calls"]["waiting"] == 0
    assert (w["call_kpis"]["offered"], w["call_kpis"]["abandoned"], w["call_kpis"]["answer_rate"]) == (1, 1, 0.0)


def test_calls_catch_up_and_link_to_ticket(app, api):
    op = api("operator1")
    publish(app, "call.ringing", {"call_id": "k1", "caller": "13800138000", "called": "12345"})
    publish(app, "call.answered", {"call_id": "k1", "caller": "13800138000", "called": "12345"})
    publish(app, "transcript.final", {"call_id": "k1", "text": "楼道灯坏了", "start": 0, "end": 1, "speaker": "caller"})
    publish(app, "transcript.partial", {"call_id": "k1", "text": "请尽快", "start": 1, "end": 2, "speaker": "caller"})
    calls = op.get("/api/v1/console/calls").get_json()["items"]
    call = next(c for c in calls if c["call_id"] == "k1")
    assert call["state"] == "talking" and call["segments"][0]["text"] == "楼道灯坏了"
    assert call["partial"] == {"caller": "请尽快"}
    # a call ringing at operator2's extension is not operator1's
    publish(app, "call.ringing", {"call_id": "k2", "caller": "13700137000", "called": "12345"})
    publish(app, "call.offered", {"call_id": "k2", "caller": "13700137000", "called": "12345", "operator": "operator2",
                                  "extension": "1002"})
    assert "k2" not in [c["call_id"] for c in op.get("/api/v1/console/calls").get_json()["items"]]
    assert "k2" in [c["call_id"] for c in api("operator2").get("/api/v1/console/calls").get_json()["items"]]

    number = _ticket(op, dept=None, content="楼道灯坏了")
    r = op.post("/api/v1/console/calls/link", json={"call_id": "k1", "number": number})
    assert r.status_code == 200, r.get_json()
    events = op.get(f"/api/v1/tickets/{number}").get_json()["events"]
    linked = [e for e in events if e["action"] == "call_linked"]
    assert linked and linked[0]["data"]["transcript"][0]["text"] == "楼道灯坏了"
    assert op.post("/api/v1/console/calls/link", json={"call_id": "nope", "number": number}).status_code == 404
    assert op.post("/api/v1/console/calls/link", json={"number": number}).status_code == 422
    assert api("housing").get("/api/v1/console/calls").status_code == 403


def test_attachments_stay_within_the_unit(app, api):
    housing, water, op = api("housing"), api("water"), api("operator1")
    r = housing.client.post("/api/v1/console/attachments", headers=housing.headers,
                            data={"file": (io.BytesIO(b"%PDF-1.4 test"), "现场照片.pdf", "application/pdf")})
    assert r.status_code == 201, r.get_json()
    att = r.get_json()
    assert att["name"] == "现场照片.pdf" and re.fullmatch(r"[0-9a-f]{32}", att["id"])
    assert housing.get(f"/api/v1/console/attachments/{att['id']}").status_code == 200
    assert op.get(f"/api/v1/console/attachments/{att['id']}").data == b"%PDF-1.4 test"
    assert water.get(f"/api/v1/console/attachments/{att['id']}").status_code == 404
    assert op.get("/api/v1/console/attachments/..%2F..%2Fetc").status_code == 404
    bad = housing.client.post("/api/v1/console/attachments", headers=housing.headers,
                              data={"file": (io.BytesIO(b"MZ..."), "run.exe", "application/x-msdownload")})
    assert bad.status_code == 422 and "file" in bad.get_json()["error"]["fields"]


def test_department_sees_only_its_own_lists(app, api):
    op = api("operator1")
    mine = _ticket(op, "housing", "房屋漏水")
    other = _ticket(op, "water", "水管爆裂")
    housing = api("housing")
    numbers = [t["number"] for t in housing.get("/api/v1/tickets").get_json()["items"]]
    assert mine in numbers and other not in numbers
    assert housing.get("/api/v1/console/deadlines").status_code == 403
    assert housing.get("/api/v1/console/my-tickets").status_code == 403
    assert housing.get(f"/console/tickets/{other}").status_code == 404
    assert housing.get(f"/console/tickets/{mine}").status_code == 200
    assert op.get("/api/v1/console/my-tickets", query_string={"q": "漏水"}).get_json()["items"][0]["number"] == mine


def test_pages_require_login_and_the_right_role(client, api):
    assert client.get("/console/operator").status_code == 302
    assert api("housing").get("/console/operator").status_code == 302
    assert api("operator1").get("/console/supervisor").status_code == 302
    assert api("admin").get("/console/supervisor").status_code == 200
    assert api("supervisor").get("/console/knowledge").status_code == 200


# -- Socket.IO --------------------------------------------------------------------------------------
def _session(base, username):
    import requests

    s = requests.Session()
    page = s.get(base + "/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = s.post(base + "/login", data={"csrf_token": token, "username": username, "password": PASSWORDS[username]},
               allow_redirects=False)
    assert r.status_code == 302
    return s


class Listener:
    def __init__(self, base, username=None):
        import socketio

        self.frames = []
        self.lock = threading.Lock()
        self.client = socketio.Client(http_session=_session(base, username) if username else None,
                                      reconnection=False)
        self.client.on("event", self._on, namespace="/console")
        self.base = base

    def _on(self, frame):
        with self.lock:
            self.frames.append(frame)

    def connect(self):
        self.client.connect(self.base, namespaces=["/console"], transports=["websocket"], wait_timeout=5)
        return self

    def names(self, number=None):
        with self.lock:
            return [(f["name"], f["payload"].get("action")) for f in self.frames
                    if number is None or f["payload"].get("number") == number]


@pytest.fixture
def live(app):
    with LiveServer(app, free_port()) as server:
        yield server


def test_socket_rooms_keep_departments_apart(live, app, api):
    import socketio

    housing = Listener(live.url, "housing").connect()
    water = Listener(live.url, "water").connect()
    sup = Listener(live.url, "supervisor").connect()
    op1 = Listener(live.url, "operator1").connect()
    with pytest.raises(socketio.exceptions.ConnectionError):
        Listener(live.url).connect()
    try:
        number = _ticket(api("operator1"), "housing", "电梯困人")
        wait_until(lambda: ("ticket.changed", "dispatch") in housing.names(number))
        wait_until(lambda: ("ticket.changed", "dispatch") in sup.names(number))
        publish(app, "call.ringing", {"call_id": "s1", "caller": "13800138000", "called": "12345"})
        wait_until(lambda: ("call.ringing", None) in op1.names())
        publish(app, "deadline.card", {"number": number, "card": "yellow", "deadline_kind": "reply", "department": "housing"})
        wait_until(lambda: ("deadline.card", None) in housing.names(number))
        assert water.names() == []
        assert all(n != "call.ringing" for n, _ in housing.names())
        ticket_frames = [f for f in housing.frames if f["name"] == "ticket.created"]
        assert ticket_frames == []  # the caller's phone travels only to desk rooms
    finally:
        for listener in (housing, water, sup, op1):
            listener.client.disconnect()
