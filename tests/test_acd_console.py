"""Console side of live calls: the call command API (who may command which call), presence while
on a call, the transfer directory, and supervisors' call KPIs (one computation with /api/v1/kpis)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import both_databases
from tests.console_helpers import publish, wait_until


def _connected_call(app, call_id="c1", operator="operator1", extension="1001"):
    publish(app, "call.ringing", {"call_id": call_id, "caller": "13800138000", "called": "12345"})
    publish(app, "call.answered", {"call_id": call_id, "caller": "13800138000", "called": "12345"})
    publish(app, "call.queued", {"call_id": call_id, "caller": "13800138000", "position": 1})
    publish(app, "call.offered", {"call_id": call_id, "operator": operator, "extension": extension,
                                  "caller": "13800138000", "called": "12345"})
    publish(app, "call.answered", {"call_id": call_id, "caller": "13800138000", "called": "12345", "operator": operator,
                                   "extension": extension, "connected": True, "wait_seconds": 4.2})


def test_only_the_operator_on_the_call_can_command_it(app, api, events):
    op1, op2 = api("operator1"), api("operator2")
    publish(app, "call.ringing", {"call_id": "q1", "caller": "13800138000", "called": "12345"})
    publish(app, "call.queued", {"call_id": "q1", "caller": "13800138000", "position": 1})
    assert op1.post("/api/v1/calls/q1/commands/hangup").status_code == 403  # nobody's call yet
    publish(app, "call.offered", {"call_id": "q1", "operator": "operator1", "extension": "1001",
                                  "caller": "13800138000", "called": "12345"})
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


def _queue_row(app, call_id: str, state: str) -> None:
    """The queue row the `sip` process's queue writes beside its events (the wallboard counts
    live calls from these shared rows, the same on every web process)."""
    from hotline.clock import utcnow
    from hotline.extensions import db
    from routing.calls import store

    with app.app_context():
        store.save_queued_call(db.session, call_id, {"caller": "13800138000", "state": state, "queued_at": utcnow()})
        db.Session.remove()


def test_board_follows_the_queue_and_counts_waiting_calls(app, api):
    publish(app, "call.ringing", {"call_id": "b1", "caller": "13800138000", "called": "12345"})
    publish(app, "call.answered", {"call_id": "b1", "caller": "13800138000", "called": "12345"})
    publish(app, "call.queued", {"call_id": "b1", "caller": "13800138000", "position": 1})
    _queue_row(app, "b1", "queued")
    sup = api("supervisor")
    calls = sup.get("/api/v1/console/calls").get_json()["items"]
    assert [(c["call_id"], c["state"]) for c in calls] == [("b1", "queued")]
    assert sup.get("/api/v1/console/wallboard").get_json()["calls"]["waiting"] == 1
    # an operator sees the call only once it is offered to them
    publish(app, "call.offered", {"call_id": "b1", "operator": "operator2", "extension": "1002",
                                  "caller": "13800138000", "called": "12345"})
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
    assert d["emergency"] == [{"number": "110", "label": "公安报警"}, {"number": "119", "label": "消防"},
                              {"number": "120", "label": "医疗急救"}, {"number": "122", "label": "交通事故"}]
    # one table: the classifier's flagged numbers and the OpenAPI enum are its numbers
    from routing.rules import NUMBERS

    assert set(NUMBERS.values()) <= {e["number"] for e in d["emergency"]}
    assert api("housing").get("/api/v1/console/transfer-directory").status_code == 403


def _local_midnight_utc(now):
    from datetime import datetime, time

    from hotline.clock import CST, to_local, to_utc_naive

    return to_utc_naive(datetime.combine(to_local(now).date(), time()).replace(tzinfo=CST))


def _ended(app, i, outcome, wait, talk=None, **extra):
    """A ``call.ended`` as the endpoint publishes it with the queue's facts, about ``10 - i``
    minutes ago but never before today's (China) midnight: the figures are today's."""
    from hotline.clock import iso, utcnow

    now = utcnow()
    start = max(now - timedelta(minutes=10 - i), _local_midnight_utc(now) + timedelta(seconds=i))
    publish(app, "call.ended", {"call_id": f"{i:032x}", "caller": "13800138000", "duration": 60,
                                "cause": "caller_hangup", "ringing_at": iso(start), "queued_at": iso(start),
                                "answered": outcome == "answered", "outcome": outcome, "wait_seconds": wait,
                                "talk_seconds": talk, **extra})


@both_databases
def test_call_kpis_are_one_computation(app, api):
    """The console's call KPIs are supervision's /api/v1/kpis figures for today: one definition of
    an offered call (every inbound call in service hours), answered (by an operator), in target."""
    from hotline.clock import to_local, utcnow

    for args in ((1, "answered", 5, 100), (2, "answered", 20, 200), (3, "answered", 9, 60),
                 (4, "abandoned", 30), (5, "missed", 60), (6, "out_of_hours", 1)):
        _ended(app, *args)
    sup = api("supervisor")
    # call.ended is counted by a background job (its publisher never waits on the database)
    assert wait_until(lambda: sup.get("/api/v1/console/call-kpis").get_json()["offered"] == 5, 30)
    k = sup.get("/api/v1/console/call-kpis").get_json()
    assert (k["offered"], k["answered"], k["answered_15s"], k["abandoned"]) == (5, 3, 2, 1)
    assert k["answer_rate"] == 0.6 and k["answer_15s_rate"] == 0.4
    assert k["avg_wait"] == round((5 + 20 + 9) / 3, 1) and k["avg_talk"] == 120.0
    assert k["labels"]["answer_rate"] == "接通率" and k["labels"]["answer_15s_rate"] == "15秒接通率"
    assert k["answer_target_seconds"] == 15
    today = to_local(utcnow()).date().isoformat()
    sup = api("supervisor").get(f"/api/v1/kpis?from={today}&to={today}").get_json()["calls"]
    assert {key: k[key] for key in sup["counts"]} == sup["counts"]
    assert {key: k[key] for key in sup["kpis"]} == sup["kpis"]
    wall = api("supervisor").get("/api/v1/console/wallboard").get_json()["call_kpis"]
    assert wall == k
    assert api("operator1").get("/api/v1/console/call-kpis").status_code == 403


def test_the_answer_target_comes_from_configuration():
    from hotline.config import Config, ConfigError
    from routing.calls.kpis import call_counts, labels

    facts = {"answered": True, "wait_seconds": 12.0, "talk_seconds": 30.0, "outcome": "answered"}
    assert call_counts(facts, 15)["answered_15s"] == 1 and call_counts(facts, 10)["answered_15s"] == 0
    assert labels(10)["answer_15s_rate"] == "10秒接通率"
    assert Config.from_env({"HOTLINE_ANSWER_TARGET_SECONDS": "20"}).answer_target_seconds == 20
    with pytest.raises(ConfigError):
        Config.from_env({"HOTLINE_ANSWER_TARGET_SECONDS": "0"})
    # not offered: outbound calls and calls outside service hours; abandoned: unanswered, not intake
    assert call_counts({**facts, "direction": "outbound"}, 15) is None
    assert call_counts({"outcome": "out_of_hours"}, 15) is None
    assert call_counts({"answered": False, "outcome": "missed", "wait_seconds": 60}, 15)["abandoned"] == 0
    assert call_counts({"ringing_at": "2026-03-02T09:00:00+08:00", "ended_at": "2026-03-02T09:00:08+08:00"},
                       15) == {"offered": 1, "answered": 0, "answered_15s": 0, "abandoned": 1,
                               "wait_seconds": 0.0, "talk_seconds": 0.0}


def test_call_endpoints_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/api/v1/calls/{call_id}/commands/{command}", "/api/v1/console/callbacks",
                 "/api/v1/console/callbacks/{call_id}", "/api/v1/console/transfer-directory",
                 "/api/v1/console/call-kpis"):
        assert path in paths, path


def test_wallboard_shows_live_calls_and_todays_figures_of_ended_calls(app, api):
    sup = api("supervisor")
    _connected_call(app, "a1")  # queued, then taken by operator1 at once
    publish(app, "call.ringing", {"call_id": "a2", "caller": "13900139000", "called": "12345"})
    publish(app, "call.answered", {"call_id": "a2", "caller": "13900139000", "called": "12345"})
    publish(app, "call.queued", {"call_id": "a2", "caller": "13900139000", "position": 1})
    _queue_row(app, "a1", "connected")
    _queue_row(app, "a2", "queued")
    w = sup.get("/api/v1/console/wallboard").get_json()
    assert (w["calls"]["waiting"], w["calls"]["talking"]) == (1, 1)
    assert w["call_kpis"]["offered"] == 0  # figures count calls once they ended, as /api/v1/kpis does
    publish(app, "call.ended", {"call_id": "a2", "caller": "13900139000", "duration": 5, "cause": "caller_hangup",
                                "outcome": "abandoned", "answered": False, "wait_seconds": 5})
    publish(app, "call.ended", {"call_id": "a1", "caller": "13800138000", "duration": 30, "cause": "caller_hangup",
                                "outcome": "answered", "answered": True, "wait_seconds": 4.2, "talk_seconds": 25})
    _queue_row(app, "a1", "ended")
    _queue_row(app, "a2", "ended")
    assert wait_until(lambda: sup.get("/api/v1/console/wallboard").get_json()["call_kpis"]["offered"] == 2, 30)
    w = sup.get("/api/v1/console/wallboard").get_json()
    assert (w["calls"]["waiting"], w["calls"]["talking"]) == (0, 0)
    k = w["call_kpis"]
    assert (k["offered"], k["answered"], k["answered_15s"], k["abandoned"]) == (2, 1, 1, 1)
    assert k["answer_15s_rate"] == 0.5 and k["labels"]["answer_15s_rate"] == "15秒接通率"
