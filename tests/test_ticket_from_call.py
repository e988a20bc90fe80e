"""Registering a ticket from a call is one server-side operation (issue 14.3).

The operator's registration (``POST /api/v1/console/register``) and the hang-up (``telephony.service
.store_call``) find each other through the ticket's call id, whichever comes first: one ticket per
call, linked to it, no merge; the registration and its next step are one transaction.
"""
from __future__ import annotations

import threading
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from tests.conftest import both_databases
from hotline.clock import utcnow

CALLER = "13912345678"


def _record(call_uuid: str, text: str = "小区路灯坏了三天") -> dict:
    ended = utcnow()
    return {"call_uuid": call_uuid, "sip_call_id": f"{call_uuid}@test", "caller": CALLER, "called": "12345",
            "codec": "PCMU", "ringing_at": ended - timedelta(seconds=30), "answered_at": ended - timedelta(seconds=28),
            "ended_at": ended, "duration": 28.0, "cause": "caller_hangup", "recording_path": None,
            "recording_seconds": None, "transcription": "live", "transcription_note": None,
            "segments": [{"text": text, "start": 0.2, "end": 2.0}], "dtmf": [], "stats": {}}


def _hang_up(app, call_uuid: str):
    from hotline.extensions import db
    from telephony import service

    with app.app_context():
        call = service.store_call(db.session, _record(call_uuid))
        number = call.ticket_number
        db.Session.remove()
    return number


def _tickets_of(app, call_uuid: str) -> list[str]:
    from hotline.extensions import db
    from ticketing.models import Ticket

    with app.app_context():
        rows = list(db.session.scalars(select(Ticket.number).where(Ticket.call_uuid == call_uuid)))
        db.Session.remove()
    return rows


def _form(call_uuid: str | None, **then) -> dict:
    body = {"type": "求助", "urgency": "normal", "channel": "phone", "content": "小区路灯坏了，在罗阳镇人民路",
            "caller": {"name": "张先生", "phone": CALLER}}
    if call_uuid:
        body["call_id"] = call_uuid
    if then:
        body["then"] = then
    return body


def _count_tickets(app) -> int:
    from hotline.extensions import db
    from ticketing.models import Ticket

    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(Ticket))
        db.Session.remove()
    return n


@both_databases
def test_registered_during_the_call_then_hang_up_adopts_it(app, api, events):
    op = api("operator1")
    call_uuid = uuid.uuid4().hex
    r = op.post("/api/v1/console/register", json=_form(call_uuid, action="dispatch", main_department="housing"))
    assert r.status_code == 201, r.get_json()
    ticket = r.get_json()
    assert ticket["status"] == "dispatched" and ticket["main_department"]["code"] == "housing"
    changes = [p for n, p in events if n == "ticket.changed" and p["number"] == ticket["number"]]
    assert [(c["from_status"], c["to_status"], c["steps"]) for c in changes] == [
        ("draft", "dispatched", ["accept", "dispatch"])]  # one change, no passing "accepted"

    assert _hang_up(app, call_uuid) == ticket["number"]  # the hang-up adopts it: no second draft
    assert _tickets_of(app, call_uuid) == [ticket["number"]]
    after = op.get(f"/api/v1/tickets/{ticket['number']}").get_json()
    actions = [e["action"] for e in after["events"]]
    assert actions == ["create", "accept", "dispatch", "call_linked"] and after["status"] == "dispatched"
    assert not [n for n, p in events if n == "ticket.changed" and p["action"] == "merge"]
    calls = op.get(f"/api/v1/tickets/{ticket['number']}/calls").get_json()["items"]
    assert [c["call_id"] for c in calls] == [call_uuid]


@both_databases
def test_hang_up_first_then_registration_completes_the_draft(app, api):
    op = api("operator1")
    call_uuid = uuid.uuid4().hex
    draft = _hang_up(app, call_uuid)
    assert op.get(f"/api/v1/tickets/{draft}").get_json()["status"] == "draft"
    r = op.post("/api/v1/console/register", json=_form(call_uuid, action="dispatch", main_department="housing"))
    assert r.status_code == 200, r.get_json()
    ticket = r.get_json()
    assert ticket["number"] == draft and ticket["status"] == "dispatched" and ticket["type"] == "求助"
    assert ticket["content"] == "小区路灯坏了，在罗阳镇人民路" and ticket["caller"]["name"] == "张先生"
    assert [e["action"] for e in ticket["events"]] == ["create", "call_linked", "accept", "dispatch"]
    assert "话务员整理诉求" in ticket["events"][2]["note"]
    assert _tickets_of(app, call_uuid) == [draft]
    # a second registration of the same call is refused; nothing is written
    before = _count_tickets(app)
    r = op.post("/api/v1/console/register", json=_form(call_uuid))
    assert r.status_code == 409 and draft in r.get_json()["error"]["message"]
    assert _count_tickets(app) == before


@both_databases
def test_registration_is_all_or_nothing(app, api):
    op = api("operator1")
    call_uuid = uuid.uuid4().hex
    before = _count_tickets(app)
    r = op.post("/api/v1/console/register", json=_form(call_uuid, action="dispatch", main_department="nowhere"))
    assert r.status_code == 422 and "main_department" in r.get_json()["error"]["fields"]
    r = op.post("/api/v1/console/register", json=_form(call_uuid, action="close"))
    assert r.status_code == 422 and "then.action" in r.get_json()["error"]["fields"]
    r = op.post("/api/v1/console/register", json={**_form(call_uuid), "content": ""})
    assert r.status_code == 422 and "content" in r.get_json()["error"]["fields"]
    assert _count_tickets(app) == before and _tickets_of(app, call_uuid) == []
    # without a call: a plain registration with its step (直接办结)
    r = op.post("/api/v1/console/register", json=_form(None, action="answer_directly", answer="已告知办理流程"))
    assert r.status_code == 201 and r.get_json()["status"] == "closed"
    assert api("housing").post("/api/v1/console/register", json=_form(None)).status_code == 403


@both_databases
def test_registration_and_hang_up_at_the_same_moment_make_one_ticket(app, api):
    op = api("operator1")
    for _ in range(5):
        call_uuid = uuid.uuid4().hex
        results = {}
        barrier = threading.Barrier(2)

        def hang_up():
            barrier.wait()
            results["hang_up"] = _hang_up(app, call_uuid)

        thread = threading.Thread(target=hang_up)
        thread.start()
        barrier.wait()
        r = op.post("/api/v1/console/register", json=_form(call_uuid, action="dispatch", main_department="housing"))
        thread.join(60)
        assert r.status_code in (200, 201), r.get_json()
        assert _tickets_of(app, call_uuid) == [r.get_json()["number"]] == [results["hang_up"]]
        assert op.get(f"/api/v1/tickets/{results['hang_up']}").get_json()["status"] == "dispatched"
