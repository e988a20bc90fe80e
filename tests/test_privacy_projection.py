"""One privacy policy for every view of a ticket (issue 11, defect 3): what departments receive
through the ticket API, event data, Socket.IO frames, call records, transcripts and recordings.

Each test first reproduces a leak seen on aac8c43 (full number / transcript in ``call_linked``
data, ``routing_suggested`` data, ``dept:`` socket frames, a confidential caller's recording)."""
from __future__ import annotations

import json
import os
import uuid
import wave
from datetime import timedelta

from sqlalchemy import select

from tests.conftest import both_databases
from tests.console_helpers import publish, wait_until
from tests.test_console_api import Listener, live  # noqa: F401  (fixture)
from tests.ticket_helpers import COMPLAINT
from hotline.clock import utcnow

PHONE, ID_NUMBER, NAME = "13812345678", "11010519491231002X", "张先生"
SAID = "我叫张先生电话13812345678楼道灯坏了"


def _dispatched(op, dept="housing", confidential=False) -> str:
    number = op.post("/api/v1/tickets", json={**COMPLAINT, "caller": {
        **COMPLAINT["caller"], "confidential": confidential}}).get_json()["number"]
    assert op.act(number, "accept").status_code == 200
    assert op.act(number, "dispatch", {"main_department": dept}).status_code == 200
    return number


def _live_call(app, call_id: str) -> None:
    """A call on the console's board with the caller's number and what they said."""
    publish(app, "call.ringing", {"call_id": call_id, "caller": PHONE, "called": "12345"})
    publish(app, "call.answered", {"call_id": call_id, "caller": PHONE, "called": "12345"})
    publish(app, "transcript.final", {"call_id": call_id, "text": SAID, "start": 0, "end": 2, "speaker": "caller"})


def _leaks(obj, *secrets) -> list[str]:
    text = json.dumps(obj, ensure_ascii=False)
    return [s for s in secrets if s in text]


@both_databases
def test_department_ticket_json_hides_call_linked_number_and_transcript(app, api):
    op, housing = api("operator1"), api("housing")
    plain, secret = _dispatched(op), _dispatched(op, confidential=True)
    for i, number in enumerate((plain, secret)):
        _live_call(app, f"leak{i}")
        assert op.post("/api/v1/console/calls/link", json={"call_id": f"leak{i}", "number": number}).status_code == 200
    # desk staff keep everything
    linked = [e for e in op.get(f"/api/v1/tickets/{plain}").get_json()["events"] if e["action"] == "call_linked"]
    assert linked[0]["data"]["caller"] == PHONE and linked[0]["data"]["transcript"][0]["text"] == SAID

    seen = housing.get(f"/api/v1/tickets/{plain}").get_json()
    assert _leaks(seen, PHONE, ID_NUMBER, SAID) == []
    event = next(e for e in seen["events"] if e["action"] == "call_linked")
    assert event["data"]["caller"] == "138****5678" and event["data"]["transcript"] is None
    assert seen["caller"]["phone"] == "138****5678" and seen["caller"]["name"] == NAME

    hidden = housing.get(f"/api/v1/tickets/{secret}").get_json()
    assert _leaks(hidden, PHONE, ID_NUMBER, SAID, NAME, "138****5678", "110105********002X") == []
    event = next(e for e in hidden["events"] if e["action"] == "call_linked")
    assert event["data"]["caller"] is None
    listed = {t["number"]: t for t in housing.get("/api/v1/tickets").get_json()["items"]}
    assert _leaks(listed, PHONE, ID_NUMBER) == [] and _leaks(listed[secret], NAME, "138****5678") == []


def test_department_never_sees_routing_suggestion_data_or_numbers_in_free_text(app, api):
    from hotline.extensions import db
    from ticketing import service
    from hotline.identity import Actor

    op, housing = api("operator1"), api("housing")
    number = _dispatched(op)
    with app.app_context():
        service.record_event(db.session, number, "routing_suggested", Actor.system("routing"),
                             data={"departments": [{"code": "water", "score": 0.9}], "type": "投诉"})
        db.Session.remove()
    assert op.act(number, "note", {"note": f"市民补充：回电 {PHONE}"}).status_code == 200
    assert op.get(f"/api/v1/tickets/{number}").get_json()["events"][-2]["data"]["departments"][0]["code"] == "water"
    seen = housing.get(f"/api/v1/tickets/{number}").get_json()
    suggested = next(e for e in seen["events"] if e["action"] == "routing_suggested")
    assert suggested["data"] == {} and seen["routing_suggestion"] is None
    assert seen["events"][-1]["note"] == "市民补充：回电 138****5678"
    assert _leaks(seen, PHONE, ID_NUMBER, "water") == []


def test_department_socket_frames_carry_no_caller_data(live, app, api):  # noqa: F811
    op = api("operator1")
    housing = Listener(live.url, "housing").connect()
    sup = Listener(live.url, "supervisor").connect()
    try:
        plain, secret = _dispatched(op), _dispatched(op, confidential=True)
        for i, number in enumerate((plain, secret)):
            _live_call(app, f"frame{i}")
            assert op.post("/api/v1/console/calls/link", json={"call_id": f"frame{i}", "number": number}).status_code == 200
            assert op.act(number, "note", {"note": f"回电 {PHONE}"}).status_code == 200
        for number in (plain, secret):
            wait_until(lambda: ("ticket.changed", "call_linked") in housing.names(number))
            wait_until(lambda: ("ticket.changed", "call_linked") in sup.names(number))
        with housing.lock:
            frames = list(housing.frames)
        assert _leaks(frames, PHONE, ID_NUMBER, SAID) == []
        linked = {f["payload"]["number"]: f["payload"]["data"] for f in frames
                  if f["payload"].get("action") == "call_linked"}
        assert linked[plain]["caller"] == "138****5678" and linked[secret]["caller"] is None
        # desk rooms keep the transcript the operator linked
        with sup.lock:
            assert SAID in json.dumps(sup.frames, ensure_ascii=False)
    finally:
        housing.client.disconnect()
        sup.client.disconnect()


def _store_call(app, *, caller=PHONE, said=SAID) -> dict:
    """A finished call with a real WAV file, stored through the telephony service (a draft ticket
    is created and linked), then accepted and dispatched to housing."""
    from hotline.extensions import db
    from telephony import service

    config = app.config["HOTLINE"]
    call_uuid = uuid.uuid4().hex
    rel = {leg: f"2026/01/01/{call_uuid}-{leg}.wav" for leg in ("caller", "operator", "mixed")}
    for name in rel.values():
        path = os.path.join(config.recordings_dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with wave.open(path, "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
            w.writeframes(b"\x00\x01" * 8000)
    ended = utcnow()
    record = {"call_uuid": call_uuid, "sip_call_id": f"{call_uuid}@test", "caller": caller,
              "called": "12345", "codec": "PCMU", "ringing_at": ended - timedelta(seconds=3),
              "answered_at": ended - timedelta(seconds=2), "ended_at": ended, "duration": 2.0,
              "cause": "caller_hangup", "recording_path": rel["caller"], "recording_seconds": 1.0,
              "legs": [{"leg": "operator", "speaker": "operator", "extension": "1001",
                        "recording_path": rel["operator"], "recording_seconds": 1.0, "offset": 0.5}],
              "mixed_recording_path": rel["mixed"], "mixed_seconds": 1.0,
              "transcription": "live", "transcription_note": None,
              "segments": [{"text": said, "start": 0.2, "end": 1.5}], "dtmf": [("1", 0.5)], "stats": {}}
    with app.app_context():
        call = service.store_call(db.session, record)
        result = {"call_id": call.call_uuid, "ticket": call.ticket_number,
                  "path": os.path.join(config.recordings_dir, rel["caller"]),
                  "files": [os.path.join(config.recordings_dir, r) for r in rel.values()]}
        db.Session.remove()
    return result


def _make_confidential(app, number: str) -> None:
    """The operator learnt on the phone that the caller asks for confidentiality (保密)."""
    from hotline.extensions import db
    from ticketing.models import Ticket

    with app.app_context():
        db.session.scalar(select(Ticket).where(Ticket.number == number)).confidential = True
        db.session.commit()
        db.Session.remove()


@both_databases
def test_department_cannot_play_or_read_a_confidential_callers_call(app, api):
    op, housing = api("operator1"), api("housing")
    plain, secret = _store_call(app), _store_call(app)
    _make_confidential(app, secret["ticket"])
    for stored in (plain, secret):
        assert op.act(stored["ticket"], "accept").status_code == 200
        assert op.act(stored["ticket"], "dispatch", {"main_department": "housing"}).status_code == 200

    view = housing.get(f"/api/v1/calls/{plain['call_id']}").get_json()
    assert view["caller"] == "138****5678" and view["recording"] is not None and view["dtmf"] == []
    assert {r["leg"] for r in view["recordings"]} == {"caller", "operator", "mixed"}
    assert view["transcript"][0]["text"] == "我叫张先生电话138****5678楼道灯坏了"
    assert housing.get(f"/api/v1/calls/{plain['call_id']}/recording").status_code == 200

    url = f"/api/v1/calls/{secret['call_id']}"
    for path in ("/recording", "/recordings", "/recordings/operator", "/recordings/mixed"):
        assert housing.get(url + path).status_code == 403, path
    view = housing.get(url).get_json()
    assert view["caller"] is None and view["recording"] is None and view["transcript"] == []
    assert view["recordings"] == []
    listed = housing.get(f"/api/v1/tickets/{secret['ticket']}/calls").get_json()["items"]
    ticket = housing.get(f"/api/v1/tickets/{secret['ticket']}").get_json()
    assert _leaks([view, listed, ticket], PHONE, SAID, "138****5678") == []
    # desk staff still play it
    assert op.get(url + "/recording").status_code == 200
    assert op.get(url).get_json()["transcript"][0]["text"] == SAID
