"""Calls and recordings over the REST API: roles, departments' own tickets, HTTP Range, retention."""
from __future__ import annotations

import os
import wave
from datetime import timedelta


from tests.conftest import both_databases
from hotline.clock import utcnow

CALLER = "13912345678"


def _store_call(app, *, ended_days_ago: float = 0, seconds: float = 2.0) -> dict:
    """A finished call with a real WAV file, stored through the telephony service."""
    from hotline.extensions import db
    from telephony import service

    config = app.config["HOTLINE"]
    import uuid

    call_uuid = uuid.uuid4().hex
    rel = f"2026/01/01/{call_uuid}-caller.wav"
    path = os.path.join(config.recordings_dir, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with wave.open(path, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(bytes(range(256)) * int(seconds * 8000 * 2 / 256))
    ended = utcnow() - timedelta(days=ended_days_ago)
    record = {"call_uuid": call_uuid, "sip_call_id": f"{call_uuid}@test", "caller": CALLER,
              "called": "12345", "codec": "PCMU", "ringing_at": ended - timedelta(seconds=seconds + 1),
              "answered_at": ended - timedelta(seconds=seconds), "ended_at": ended, "duration": seconds,
              "cause": "caller_hangup", "recording_path": rel, "recording_seconds": seconds,
              "transcription": "live", "transcription_note": None,
              "segments": [{"text": "路灯坏了", "start": 0.2, "end": 1.5}], "dtmf": [("1", 0.5)],
              "stats": {}}
    with app.app_context():
        call = service.store_call(db.session, record)
        result = {"call_id": call.call_uuid, "ticket": call.ticket_number, "path": path}
        db.Session.remove()
    return result


@both_databases
def test_staff_read_calls_and_departments_only_their_own(app, api):
    stored = _store_call(app)
    operator = api("operator1")
    view = operator.get(f"/api/v1/calls/{stored['call_id']}").get_json()
    assert view["caller"] == CALLER and view["ticket"] == stored["ticket"]
    assert view["transcript"] == [{"start": 0.2, "end": 1.5, "text": "路灯坏了", "speaker": "caller"}]
    assert view["dtmf"] == [{"digit": "1", "at": 0.5}]
    assert view["recording"]["url"].endswith("/recording")
    listed = api("supervisor").get(f"/api/v1/tickets/{stored['ticket']}/calls").get_json()["items"]
    assert [c["call_id"] for c in listed] == [stored["call_id"]]

    housing = api("housing")
    assert housing.get(f"/api/v1/calls/{stored['call_id']}").status_code == 404
    assert housing.get(f"/api/v1/calls/{stored['call_id']}/recording").status_code == 404
    assert housing.get(f"/api/v1/tickets/{stored['ticket']}/calls").status_code == 404
    operator.act(stored["ticket"], "accept")
    assert operator.act(stored["ticket"], "dispatch", {"main_department": "housing"}).status_code == 200
    view = housing.get(f"/api/v1/calls/{stored['call_id']}").get_json()
    assert view["caller"] == "139****5678"  # departments see masked numbers
    assert housing.get(f"/api/v1/calls/{stored['call_id']}/recording").status_code == 200
    assert api("water").get(f"/api/v1/calls/{stored['call_id']}/recording").status_code == 404


def test_recording_supports_range_requests(app, api, client):
    stored = _store_call(app)
    operator = api("operator1")
    url = f"/api/v1/calls/{stored['call_id']}/recording"
    whole = operator.get(url)
    assert whole.status_code == 200 and whole.mimetype == "audio/wav"
    assert whole.headers["Accept-Ranges"] == "bytes"
    data = open(stored["path"], "rb").read()
    assert whole.data == data
    part = client.get(url, headers={**operator.headers, "Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.data == data[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(data)}"
    beyond = client.get(url, headers={**operator.headers, "Range": f"bytes={len(data) + 10}-"})
    assert beyond.status_code == 416
    assert client.get(url).status_code in (302, 401)  # not logged in
    assert operator.get("/api/v1/calls/doesnotexist").status_code == 404


def test_retention_deletes_old_recordings_but_keeps_the_call(app, api):
    from hotline.extensions import db
    from telephony import service

    old = _store_call(app, ended_days_ago=200)
    recent = _store_call(app, ended_days_ago=1)
    with app.app_context():
        assert service.cleanup_recordings(db.session, app.config["HOTLINE"].recordings_dir, 180) == 1
        db.Session.remove()
    assert not os.path.exists(old["path"]) and os.path.exists(recent["path"])
    operator = api("operator1")
    view = operator.get(f"/api/v1/calls/{old['call_id']}").get_json()
    assert view["recording"] is None and view["recording_deleted_at"]
    assert operator.get(f"/api/v1/calls/{old['call_id']}/recording").status_code == 404
    assert operator.get(f"/api/v1/calls/{recent['call_id']}/recording").status_code == 200


def test_caller_that_is_not_a_phone_number_links_through_earlier_calls(app):
    """SIP users such as SIPp's "sipp" or an extension are kept raw; the ticket gets no phone."""
    from hotline.extensions import db
    from telephony import service
    from telephony.models import Call

    base = {"sip_call_id": "x@test", "caller": "sipp", "called": "12345", "codec": "PCMU",
            "ringing_at": utcnow(), "answered_at": utcnow(), "ended_at": utcnow(), "duration": 1.0,
            "cause": "caller_hangup", "recording_path": None, "recording_seconds": None,
            "transcription": "off", "transcription_note": "VOSK_MODEL_DIR not set", "segments": [],
            "dtmf": [], "stats": {}}
    with app.app_context():
        first = service.store_call(db.session, dict(base, call_uuid="a" * 32))
        second = service.store_call(db.session, dict(base, call_uuid="b" * 32))
        assert first.caller_phone is None
        from ticketing.models import Ticket, TicketEvent
        from sqlalchemy import select

        linked = db.session.scalars(select(TicketEvent).join(Ticket).where(
            Ticket.number == second.ticket_number, TicketEvent.action == "call_linked")).one()
        assert linked.data["earlier_tickets"] == [first.ticket_number]
        assert "VOSK_MODEL_DIR not set" in db.session.scalar(
            select(Ticket.content).where(Ticket.number == first.ticket_number))
        assert db.session.get(Call, first.id).caller == "sipp"
        db.Session.remove()
