"""Console side of live calls: the call command API (who may command which call), presence while
on a call, the transfer directory, and supervisors' call KPIs from the call rows."""
from __future__ import annotations

from datetime import timedelta

from tests.conftest import both_databases
from tests.console_helpers import publish


def _connected_call(app, call_id="c1", operator="operator1", extension="1001"):
    publish(app, "call.ringing", {"call_id": call_id, "caller": "13800138000", "called": "12345"})
    publish(app, "call.answered", {"call_id": call_id, "caller": "13800138000"})
    publish(app, "call.queued", {"call_id": call_id, "caller": "13800138000", "position": 1})
    publish(app, "call.offered", {"call_id": call_id, "operator": operator, "extension": extension})
    publish(app, "call.answered", {"call_id": call_id, "caller": "13800138000", "operator": operator,
                                   "extension": extension, "connected": True, "wait_seconds": 4.2})


def test_only_the_operator_on_the_call_can_command_it(app, api, events):
    op1, op2 = api("operator1"), api("operator2")
    publish(app, "call.ringing", {"call_id": "q1", "caller": "13800138000", "called": "12345"})
    publish(app, "call.queued", {"call_id": "q1", "caller": "13800138000", "position": 1})
    assert op1.post("/api/v1/calls/q1/commands/hangup").status_code == 403  # nobody's call yet
    publish(app, "call.offered", {"call_id": "q1", "operator": "operator1", "extension": "1001"})
    r = op1.post("/api/v1/calls/q1/commands/hangup")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "conflict"  # still ringing
    _connected_call(app, "c1")
    assert op2.post("/api/v1/calls/c1/commands/hangup").status_code == 403
    assert api("supervisor").post("/api/v1/calls/c1/commands/hangup").status_code == 403
    assert op1.post("/api/v1/calls/nope/commands/hangup").status_code == 404
    assert op1.post("/api/v1/calls/c1/commands/explode").status_code == 404
    r = op1.post("/api/v1/calls/c1/commands/transfer", json={})
    assert r.status_code == 422 and "target" in r.get_json()["error"]["fields"]
    assert op1.post("/api/v1/calls/c1/commands/emergency", json={"target": "999"}).status_code == 422
    assert not [p for n, p in events if n == "call.command"]
    r = op1.post("/api/v1/calls/c1/commands/transfer", json={"target": "2001"})
    assert r.status_code == 202 and r.get_json()["status"] == "sent"
    sent = [p for n, p in events if n == "call.command"]
    assert sent == [{"call_id": "c1", "command": "transfer", "operator": "operator1", "target": "2001",
                     "command_id": r.get_json()["command_id"], "extension": "1001"}]
    publish(app, "call.ended", {"call_id": "c1", "caller": "13800138000", "duration": 3, "cause": "caller_hangup"})
    assert op1.post("/api/v1/calls/c1/commands/hangup").status_code == 404


def test_board_follows_the_queue_and_counts_waiting_calls(app, api):
    publish(app, "call.ringing", {"call_id": "b1", "caller": "13800138000", "called": "12345"})
    publish(app, "call.answered", {"call_id": "b1", "caller": "13800138000"})
    publish(app, "call.queued", {"call_id": "b1", "caller": "13800138000", "position": 1})
    sup = api("supervisor")
    calls = sup.get("/api/v1/console/calls").get_json()["items"]
    assert [(c["call_id"], c["state"]) for c in calls] == [("b1", "queued")]
    assert sup.get("/api/v1/console/wallboard").get_json()["calls"]["waiting"] == 1
    # an operator sees the call only once it is offered to them
    publish(app, "call.offered", {"call_id": "b1", "operator": "operator2", "extension": "1002"})
    assert api("operator1").get("/api/v1/console/calls").get_json()["items"] == []
    mine = api("operator2").get("/api/v1/console/calls").get_json()["items"]
    assert [(c["call_id"], c["state"]) for c in mine] == [("b1", "offering")]


def test_presence_cannot_be_changed_by_hand_while_on_a_call(app, api):
    from hotline.auth import User
    from hotline.extensions import db
    from routing.calls import presence

    op = api("operator1")
    assert op.post("/api/v1/console/state", json={"state": "oncall"}).status_code == 422  # system only
    with app.app_context():
        user = db.session.query(User).filter_by(username="operator1").one()
        presence.set_state(db.session, user, "oncall", reason="answered", by_system=True)
        db.Session.remove()
    assert op.get("/api/v1/console/state").get_json()["label"] == "通话中"
    r = op.post("/api/v1/console/state", json={"state": "idle"})
    assert r.status_code == 409 and "通话中" in r.get_json()["error"]["message"]


def test_transfer_directory_lists_department_phones_and_emergency_numbers(app, api):
    d = api("operator1").get("/api/v1/console/transfer-directory").get_json()
    assert {"extension": "2001", "code": "housing"}.items() <= next(
        x for x in d["departments"] if x["extension"] == "2001").items()
    assert [e["number"] for e in d["emergency"]] == ["110", "119", "120", "122"]
    assert api("housing").get("/api/v1/console/transfer-directory").status_code == 403


@both_databases
def test_call_kpis_from_the_queue_records(app, api):
    from hotline.extensions import db
    from routing.calls import store
    from ticketing.clock import utcnow

    now = utcnow()

    def rec(i, outcome, wait, talk=None):
        start = now - timedelta(minutes=10 - i)
        return f"{i:032x}", {
            "caller": "13800138000", "called": "12345", "ringing_at": start, "queued_at": start, "state": "ended",
            "ended_at": start + timedelta(seconds=60),
            "connected_at": start + timedelta(seconds=wait) if talk else None,
            "wait_seconds": wait, "talk_seconds": talk, "outcome": outcome, "hangup_side": "citizen"}

    with app.app_context():
        for uuid, values in (rec(1, "answered", 5, 100), rec(2, "answered", 20, 200), rec(3, "answered", 9, 60),
                             rec(4, "abandoned", 30), rec(5, "missed", 60)):
            store.save_queued_call(db.session, uuid, values)
        db.Session.remove()
    k = api("supervisor").get("/api/v1/console/call-kpis").get_json()
    assert (k["offered"], k["answered"], k["answered_15s"], k["abandoned"]) == (5, 3, 2, 1)
    assert k["answer_rate"] == 0.6 and k["answer_15s_rate"] == 0.4
    assert k["avg_wait"] == round((5 + 20 + 9) / 3, 1) and k["avg_talk"] == 120.0
    assert k["labels"]["answer_rate"] == "接通率"
    assert api("operator1").get("/api/v1/console/call-kpis").status_code == 403


def test_call_endpoints_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/api/v1/calls/{call_id}/commands/{command}", "/api/v1/console/callbacks",
                 "/api/v1/console/callbacks/{call_id}", "/api/v1/console/transfer-directory",
                 "/api/v1/console/call-kpis"):
        assert path in paths, path


def test_wallboard_counts_an_answer_only_when_an_operator_takes_the_queued_call(app, api):
    sup = api("supervisor")
    _connected_call(app, "a1")  # queued, then taken by operator1 at once
    publish(app, "call.ringing", {"call_id": "a2", "caller": "13900139000", "called": "12345"})
    publish(app, "call.answered", {"call_id": "a2", "caller": "13900139000"})
    publish(app, "call.queued", {"call_id": "a2", "caller": "13900139000", "position": 1})
    publish(app, "call.ended", {"call_id": "a2", "caller": "13900139000", "duration": 5, "cause": "caller_hangup"})
    calls = sup.get("/api/v1/console/wallboard").get_json()["calls"]
    assert (calls["offered_today"], calls["answered_today"], calls["answered_in_15s"]) == (2, 1, 1)
    assert calls["answered_in_15s_share"] == 0.5
