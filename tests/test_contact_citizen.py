"""联系诉求人 (issue 12 point 5): a department clerk talks to the citizen without seeing the number.

Real pieces: Kamailio on loopback, the hotline endpoint registered there, the clerk's desk phone and
the citizen's phone as SIPp UAS registered at the proxy (the citizen's by their number, as a trunk
would route it), the web app served for real with a Socket.IO client on the clerk's session, on
PostgreSQL. The clerk presses the button through the HTTP API the console uses; the SIP side runs
in this process as it does in ``hotline run``.
"""
from __future__ import annotations

import json
import re
import threading

import pytest

from tests.bridge_helpers import (SippPhone, bridge_endpoint, cyclic_runs, describe_breaks, make_source, payloads,
                                  proxy, without_fill)  # noqa: F401 - fixture
from tests.conftest import free_port
from tests.console_helpers import PASSWORDS, LiveServer, browser, login, new_context  # noqa: F401 - fixture
from tests.telephony_helpers import wait_for

CITIZEN = "13812345678"
OTHER = "13912340000"
SECRET = "13700001111"
CLERK_EXT = "2001"


@pytest.fixture
def app_config():
    return {"contact_daily_limit": 3, "contact_ring_seconds": 10}


def _ticket(api, phone: str, dept: str = "housing", *, confidential: bool = False) -> str:
    op = api("operator1")
    r = op.post("/api/v1/tickets", json={"type": "求助", "content": "楼道灯坏了，请联系我", "address": "北门路1号",
                                         "caller": {"name": "王先生", "phone": phone, "confidential": confidential}})
    assert r.status_code == 201, r.get_json()
    number = r.get_json()["number"]
    for action, body in (("accept", {}), ("dispatch", {"main_department": dept})):
        assert op.act(number, action, body).status_code == 200
    return number


def _set_extension(app, username: str, extension: str | None) -> None:
    from sqlalchemy import select

    from hotline.auth import User
    from hotline.extensions import db

    with app.app_context(), db.session_scope() as s:
        s.scalar(select(User).where(User.username == username)).sip_extension = extension
        s.commit()


class Clerk:
    """The clerk's browser session (cookie + CSRF, as the console) and its Socket.IO frames; every
    body and frame it receives is kept for the scan."""

    def __init__(self, base: str, username: str):
        import requests
        import socketio

        self.base, self.texts, self.frames = base, [], []
        self.s = requests.Session()
        token = re.search(r'name="csrf_token" value="([^"]+)"', self.s.get(base + "/login").text).group(1)
        r = self.s.post(base + "/login", data={"csrf_token": token, "username": username,
                                                "password": PASSWORDS[username]}, allow_redirects=False)
        assert r.status_code == 302
        page = self.get("/console/department")
        self.csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
        self.lock = threading.Lock()
        self.sio = socketio.Client(http_session=self.s, reconnection=False)
        self.sio.on("event", self._frame, namespace="/console")
        self.sio.connect(base, namespaces=["/console"], transports=["websocket"], wait_timeout=10)

    def _frame(self, frame):
        with self.lock:
            self.frames.append(frame)
            self.texts.append(json.dumps(frame, ensure_ascii=False))

    def get(self, path: str) -> str:
        r = self.s.get(self.base + path)
        self.texts.append(r.text)
        return r.text

    def post(self, path: str):
        r = self.s.post(self.base + path, json={}, headers={"X-CSRFToken": self.csrf})
        self.texts.append(r.text)
        return r

    def progress(self, contact_id: int) -> list[dict]:
        with self.lock:
            return [f["payload"] for f in self.frames
                    if f["name"] == "contact.progress" and f["payload"]["contact_id"] == contact_id]

    def ended(self, contact_id: int) -> dict | None:
        return next((p for p in self.progress(contact_id) if p["state"] == "ended"), None)

    def close(self):
        self.sio.disconnect()


class Page:
    """The clerk's console in Chromium, with every HTTP body and Socket.IO frame it received."""

    def __init__(self, browser, base: str, username: str):
        self.ctx = new_context(browser)
        self.responses, self.frames = [], []
        self.page = login(self.ctx, base, username)
        self.page.on("response", lambda r: self.responses.append(r))
        self.page.on("websocket", lambda ws: ws.on("framereceived", lambda f: self.frames.append(f)))

    def texts(self) -> list[str]:
        out = [f if isinstance(f, str) else f.decode("utf-8", "replace") for f in self.frames]
        for r in self.responses:
            try:
                out.append(r.text())
            except Exception:  # noqa: BLE001 - a redirect or an evicted body has none
                pass
        return out


@pytest.mark.sip
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_clerk_talks_to_the_citizen_without_ever_receiving_the_number(app, api, proxy, browser, tmp_path):
    from playwright.sync_api import expect

    from telephony.contact import ContactCaller

    number = _ticket(api, CITIZEN)
    _set_extension(app, "housing", CLERK_EXT)
    citizen_frames = make_source(tmp_path / "citizen.ulaw", 2.0, 440, seed=1)
    clerk_frames = make_source(tmp_path / "clerk.ulaw", 2.0, 660, seed=2)
    endpoint = bridge_endpoint(app, proxy)
    caller = ContactCaller(app, endpoint, endpoint.config)
    phones, clerk, console = [], None, None
    try:
        with LiveServer(app, free_port()) as live:
            clerk = Clerk(live.url, "housing")
            clerk.get(f"/api/v1/tickets/{number}")
            # 0. the clerk's own phone is busy: nobody else is called
            (tmp_path / "desk").mkdir()
            desk = SippPhone(proxy, CLERK_EXT, tmp_path / "desk", kind="busy", timeout=30, trace=True)
            phones.append(desk)
            r = clerk.post(f"/api/v1/tickets/{number}/contact")
            assert r.status_code == 202, r.text
            zero = r.json()["contact_id"]
            assert wait_for(lambda: clerk.ended(zero), 30), clerk.frames
            assert clerk.ended(zero)["outcome"] == "clerk_busy"
            assert desk.wait(20) == 0, desk.errors()
            # 1. the citizen's line is busy: the clerk answered, the outcome is logged as busy
            (tmp_path / "busy").mkdir()
            desk = SippPhone(proxy, CLERK_EXT, tmp_path / "busy", audio=tmp_path / "clerk.ulaw", end="wait_bye",
                             timeout=30, trace=True)
            line = SippPhone(proxy, CITIZEN, tmp_path / "busy", kind="busy", timeout=30, trace=True)
            phones += [desk, line]
            r = clerk.post(f"/api/v1/tickets/{number}/contact")
            assert r.status_code == 202, r.text
            first = r.json()
            assert first["used_today"] == 2 and first["daily_limit"] == 3 and first["extension"] == CLERK_EXT
            assert wait_for(lambda: clerk.ended(first["contact_id"]), 30), clerk.frames
            assert clerk.ended(first["contact_id"])["outcome"] == "busy"
            assert desk.wait(20) == 0, desk.errors()
            assert line.wait(20) == 0, line.errors()
            # 2. the clerk presses 联系诉求人 on the ticket page; the citizen answers, both talk
            # through the bridge for ~5 s, the citizen hangs up
            console = Page(browser, live.url, "housing")
            console.page.goto(f"{live.url}/console/tickets/{number}")
            (tmp_path / "talk").mkdir()
            desk = SippPhone(proxy, CLERK_EXT, tmp_path / "talk", audio=tmp_path / "clerk.ulaw", end="wait_bye",
                             timeout=40, trace=True)
            line = SippPhone(proxy, CITIZEN, tmp_path / "talk", audio=tmp_path / "citizen.ulaw", end="send_bye",
                             hold_ms=5000, timeout=40, trace=True)
            phones += [desk, line]
            console.page.get_by_role("button", name="联系诉求人").click()
            expect(console.page.locator("#toasts")).to_contain_text(f"正在呼叫您的分机 {CLERK_EXT}")
            assert wait_for(lambda: [p for f in clerk.frames if f["name"] == "contact.progress"
                                     for p in [f["payload"]] if p["contact_id"] > first["contact_id"]], 20)
            second = max(f["payload"]["contact_id"] for f in clerk.frames if f["name"] == "contact.progress")
            assert wait_for(lambda: clerk.ended(second), 40), (clerk.frames, line.errors(), desk.errors())
            assert desk.wait(20) == 0, desk.errors()
            assert line.wait(20) == 0, line.errors()
            states = [p["state"] for p in clerk.progress(second)]
            assert states == ["calling_clerk", "calling_citizen", "talking", "ended"], states
            done = clerk.ended(second)
            assert done["outcome"] == "answered" and done["duration"] >= 4, done
            timeline = console.page.get_by_label("事件时间线")
            expect(timeline).to_contain_text("联系诉求人：已接通，通话", timeout=15000)
            calls_box = console.page.get_by_label("通话记录")
            expect(calls_box).to_contain_text("联系诉求人（热线外呼）")
            expect(calls_box.locator("audio")).to_have_count(3)  # 市民, 承办单位, 混音
            # 3. the daily limit (3 here) is reached: the page says so
            console.page.get_by_role("button", name="联系诉求人").click()
            expect(console.page.get_by_role("alert")).to_contain_text("已达每日上限 3 次")
            r = clerk.post(f"/api/v1/tickets/{number}/contact")
            assert r.status_code == 409 and "上限" in r.json()["error"]["message"], r.text
            page_texts = console.texts()
            # what the clerk reads afterwards: the history and the call with one recording per speaker
            ticket = json.loads(clerk.get(f"/api/v1/tickets/{number}"))
            calls = json.loads(clerk.get(f"/api/v1/tickets/{number}/calls"))["items"]
            clerk.get(f"/api/v1/calls/{calls[0]['call_id']}")
            clerk.get(f"/api/v1/calls/{calls[0]['call_id']}/recordings")
            clerk.close()
    finally:
        if console is not None:
            console.ctx.close()
        if clerk is not None:
            clerk.sio.disconnect()
        for phone in phones:
            phone.stop()
        endpoint.stop()
        caller.stop()
    # the history: each request and each outcome, with start, duration and outcome
    contacts = [e for e in ticket["events"] if e["action"] == "contact_citizen"]
    assert [e["data"]["outcome"] for e in contacts] == ["clerk_busy", "busy", "answered"], contacts
    talked = contacts[2]["data"]
    assert talked["started_at"] and talked["answered_at"] and talked["duration"] >= 4
    assert "通话" in contacts[2]["note"] and contacts[2]["actor"] == "housing"
    assert len([e for e in ticket["events"] if e["action"] == "contact_requested"]) == 3
    # the call: the citizen's leg and the clerk's (承办单位) recorded apart, plus the mix
    [call] = calls
    assert call["direction"] == "outbound" and call["call_id"] == talked["call_id"]
    assert {r["speaker"] for r in call["recordings"]} == {"caller", "department", "mixed"}
    # audio both ways, frame by frame: the clerk heard the citizen, the citizen heard the clerk
    heard_by_clerk = without_fill([p for _, p in payloads(desk.capture)])
    runs = cyclic_runs(heard_by_clerk, citizen_frames)
    assert max(runs, default=0) >= 150, (runs[:20], describe_breaks(heard_by_clerk, citizen_frames))
    heard_by_citizen = without_fill([p for _, p in payloads(line.capture)])
    runs = cyclic_runs(heard_by_citizen, clerk_frames)
    assert max(runs, default=0) >= 150, (runs[:20], describe_breaks(heard_by_citizen, clerk_frames))
    # the citizen saw the hotline's number as the caller
    citizen_sip = (tmp_path / "talk" / f"sipp-{CITIZEN}-msg.log").read_text()
    invite = citizen_sip[citizen_sip.index("INVITE sip:"):]
    assert re.search(r'^From: "12345" <sip:12345@', invite, re.M), invite[:600]
    # nothing the clerk's session or phone received holds the citizen's number
    clerk_sip = "".join((tmp_path / d / f"sipp-{CLERK_EXT}-msg.log").read_text() for d in ("desk", "busy", "talk"))
    assert clerk_sip.count("INVITE sip:") >= 3 and number in clerk_sip  # the clerk's phone shows the ticket
    received = clerk.texts + page_texts + [clerk_sip]
    assert len(clerk.texts) > 10 and any("contact.progress" in t for t in clerk.texts)
    assert any("contact.progress" in t for t in page_texts) and any(number in t for t in page_texts)
    leaks = [t[:300] for t in received if CITIZEN in t or CITIZEN[-8:] in t]
    assert not leaks, leaks


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_contact_is_refused_with_a_clear_error(app, api):
    """Closed, confidential, another unit's ticket, a clerk without an extension, a role other
    than department: a JSON error, nothing recorded and nothing sent to the SIP process."""
    from hotline.events import bus

    sent = []
    off = bus.subscribe("contact.requested", lambda _n, p: sent.append(p))
    housing, water, op = api("housing"), api("water"), api("operator1")
    closed = _ticket(api, OTHER)
    for action, body in (("sign", {}), ("reply", {"text": "已修复"})):
        assert housing.act(closed, action, body).status_code == 200, action
    for action, body in (("approve_reply", {}), ("callback", {"satisfaction": "满意", "solved": True})):
        r = op.act(closed, action, body)
        assert r.status_code == 200, (action, r.get_json())
    secret = _ticket(api, SECRET, confidential=True)
    open_ = _ticket(api, CITIZEN)

    def contact(who, number):
        r = who.post(f"/api/v1/tickets/{number}/contact")
        assert r.is_json
        return r.status_code, r.get_json()["error"]["message"]

    _set_extension(app, "housing", None)
    assert contact(housing, open_) == (409, "您的账号未配置分机号码，请联系管理员配置后再联系诉求人")
    _set_extension(app, "housing", CLERK_EXT)
    assert contact(housing, closed) == (409, "工单已办结（或已并单、无效），不能联系诉求人")
    assert contact(housing, secret) == (409, "诉求人要求保密，不能联系诉求人")
    assert contact(water, open_)[0] == 404  # another unit's ticket: as if it did not exist
    assert contact(op, open_)[0] == 403
    assert contact(housing, "20990101999999")[0] == 404
    try:
        assert not sent
        for number in (closed, secret, open_):
            history = op.get(f"/api/v1/tickets/{number}").get_json()["events"]
            assert not [e for e in history if e["action"].startswith("contact")], number
        # one at a time: a second press while the first request runs is refused too
        r = housing.post(f"/api/v1/tickets/{open_}/contact")
        assert r.status_code == 202 and CITIZEN not in r.get_data(as_text=True)
        assert contact(housing, open_) == (409, "正在联系诉求人，请在本次通话结束后再试")
        assert [p["number"] for p in sent] == [open_] and CITIZEN not in json.dumps(sent)
        # two SIP processes receive the request: one claims it (and alone learns the number)
        from hotline.extensions import db
        from ticketing import contact as contacts

        cid = r.get_json()["contact_id"]
        with app.app_context(), db.session_scope() as s:
            job = contacts.claim(s, cid, "sip-a")
            assert contacts.claim(s, cid, "sip-b") is None
            contacts.finish(s, cid, outcome="no_answer")
        assert job["phone"] == CITIZEN and job["extension"] == CLERK_EXT
        # once it ended, the clerk may try again (within the daily limit)
        assert housing.post(f"/api/v1/tickets/{open_}/contact").status_code == 202
    finally:
        off()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_requests_nobody_finishes_end_on_the_history(app, api):
    """Before: a request that no `sip` process claimed (none running, the event lost), or one
    claimed by a process that then died, stayed unfinished: the clerk saw no outcome and was
    refused a new try for five minutes. Now the reaper (every `sip` heartbeat, and the beat task
    when no `sip` is left) ends the first as `not_started` after two minutes and the second as
    `interrupted` when it reaps the dead process; a call still going on another process is left alone."""
    from datetime import timedelta

    from sqlalchemy import update

    from hotline.clock import utcnow
    from hotline.extensions import db
    from telephony import reaper
    from telephony.models import SipInstance
    from ticketing import contact as contacts
    from ticketing.models import ContactCall

    _set_extension(app, "housing", CLERK_EXT)
    housing = api("housing")
    numbers = [_ticket(api, CITIZEN) for _ in range(4)]
    ids = [housing.post(f"/api/v1/tickets/{n}/contact").get_json()["contact_id"] for n in numbers]
    config = app.config["HOTLINE"]
    with app.app_context(), db.session_scope() as s:
        dead = reaper.register_instance(s, "127.0.0.1:5071")
        alive = reaper.register_instance(s, "127.0.0.1:5072")
        assert contacts.claim(s, ids[2], dead) and contacts.claim(s, ids[3], alive)
        long_ago = utcnow() - timedelta(minutes=10)
        s.execute(update(ContactCall).values(requested_at=long_ago).where(ContactCall.id != ids[1]))
        s.execute(update(SipInstance).values(beat_at=long_ago).where(SipInstance.id == dead))
        s.commit()
        reaped = reaper.reap_dead(s, config, alive)
        assert [r["instance"] for r in reaped] == [dead]
    outcomes = {}
    for number in numbers:
        events = api("operator1").get(f"/api/v1/tickets/{number}").get_json()["events"]
        outcomes[number] = [e["data"]["outcome"] for e in events if e["action"] == "contact_citizen"]
    # ids[0]: never claimed for 10 min; ids[1]: requested just now; ids[2]: its process died; ids[3]: talking
    assert [outcomes[n] for n in numbers] == [["not_started"], [], ["interrupted"], []]
    history = api("housing").get(f"/api/v1/tickets/{numbers[0]}").get_json()["events"]
    assert any("热线话务系统未响应" in (e.get("note") or "") for e in history)
    assert housing.post(f"/api/v1/tickets/{numbers[0]}/contact").status_code == 202  # the clerk may retry
