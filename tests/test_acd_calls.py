"""The queue with real calls: Kamailio on loopback, SIPp citizens and SIPp operator phones
registered as extensions, the endpoint registered as ``hotline`` with the ACD attached."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.acd_helpers import (OperatorPhone, acd_endpoint, add_operator, citizen_call, proxy,  # noqa: F401
                               queued_call, set_states, stop_endpoint)
from tests.telephony_helpers import sipp_error_log, tmp_dir, wait_for

pytestmark = pytest.mark.sip


def _offers(app):
    from hotline.auth import User
    from hotline.extensions import db
    from routing.calls.models import CallOffer

    with app.app_context():
        rows = db.session.execute(select(CallOffer, User.username).join(User, User.id == CallOffer.user_id)
                                  .order_by(CallOffer.id)).all()
        out = [(name, o.result, o.idle_since, o.call_uuid) for o, name in rows]
        db.Session.remove()
        return out


def _call(app, call_uuid):
    return queued_call(app, call_uuid)


def _state(app, username):
    from hotline.auth import User
    from hotline.extensions import db
    from routing.calls import presence

    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        state = presence.get_state(db.session, user.id)["state"]
        db.Session.remove()
        return state


def test_longest_idle_operator_gets_each_call_in_turn(app, proxy, events, api):
    add_operator(app, "operator3", "1003")
    phones = [OperatorPhone(proxy, ext) for ext in ("1001", "1002", "1003")]
    set_states(app, {"operator1": "idle", "operator2": "idle", "operator3": "idle"},
               ready_order=["operator2", "operator3", "operator1"])
    endpoint, acd = acd_endpoint(app, proxy, acd_wrapup=60)
    work = tmp_dir()
    try:
        for n in range(1, 4):
            sc, result = citizen_call(proxy, work, hold_ms=1500)
            assert result.returncode == 0, result.stdout[-1500:] + sipp_error_log(sc) + proxy.log_tail()
            assert wait_for(lambda: len(endpoint.finished) >= n, 15)
        offers = _offers(app)
        assert [(name, res) for name, res, *_ in offers] == [
            ("operator2", "answered"), ("operator3", "answered"), ("operator1", "answered")]
        assert offers[0][2] < offers[1][2] < offers[2][2]  # each was the longest idle when chosen
        for (name, _res, _since, call_uuid) in offers:
            call = _call(app, call_uuid)
            assert call.outcome == "answered" and call.operator_extension is not None
            assert call.connected_at is not None and 0 <= call.wait_seconds < 15
            assert call.talk_seconds > 0.5 and call.hangup_side == "citizen"
        # after its call each operator is in 话后处理 (wrap-up 60 s), set by the system
        assert wait_for(lambda: all(_state(app, u) == "wrapup" for u in ("operator1", "operator2", "operator3")), 10)
        ended = [p for name, p in events if name == "call.ended"]
        assert [p["answered"] for p in ended] == [True, True, True]
        # supervision's call KPIs (接通率, 15 s share, waits) count operator answers, from these facts
        supervisor = api("supervisor")
        # the call rollup is a background job started by call.ended, not part of storing the call
        assert wait_for(lambda: supervisor.get("/api/v1/kpis").get_json()["calls"]["counts"]["offered"] == 3, 15)
        calls = supervisor.get("/api/v1/kpis").get_json()["calls"]
        assert (calls["counts"]["offered"], calls["counts"]["answered"], calls["counts"]["answered_15s"]) == (3, 3, 3)
        assert calls["kpis"]["answer_rate"] == 1.0 and calls["kpis"]["avg_talk"] > 0.5
        assert all(phone.wait(10) == 0 for phone in phones)  # each operator's phone got the BYE
    finally:
        stop_endpoint(endpoint, acd)
        for phone in phones:
            phone.stop()


def test_no_answer_sets_operator_not_ready_and_moves_the_call_on(app, proxy, events):
    quiet = OperatorPhone(proxy, "1001", answer=False)
    answering = OperatorPhone(proxy, "1002")
    set_states(app, {"operator1": "idle", "operator2": "idle"}, ready_order=["operator1", "operator2"])
    endpoint, acd = acd_endpoint(app, proxy, acd_ring_timeout=2)
    try:
        sc, result = citizen_call(proxy, tmp_dir(), hold_ms=5000)
        assert result.returncode == 0, result.stdout[-1500:] + sipp_error_log(sc) + proxy.log_tail()
        assert wait_for(lambda: endpoint.finished, 15)
        offers = _offers(app)
        assert [(name, res) for name, res, *_ in offers] == [("operator1", "no_answer"), ("operator2", "answered")]
        call = _call(app, offers[0][3])
        assert call.outcome == "answered" and call.operator_extension == "1002"
        assert 2.0 <= call.wait_seconds < 8  # rang the first operator for the 2 s ring timeout
        assert _state(app, "operator1") == "busy"  # 示忙 after not answering
        assert any(name == "agent.state" and p["user"] == "operator1" and p["state"] == "busy"
                   and p["reason"] == "no_answer" and p["by"] == "system" for name, p in events)
        assert quiet.wait(10) == 0  # the unanswered phone saw the CANCEL and stopped ringing
    finally:
        stop_endpoint(endpoint, acd)
        quiet.stop()
        answering.stop()


def test_abandoned_call_is_recorded_with_its_wait_and_listed_for_callback(app, proxy, events, api):
    set_states(app, {"operator1": "busy"})  # on duty, not ready: the caller waits in the queue
    endpoint, acd = acd_endpoint(app, proxy, acd_max_wait=30)
    try:
        sc, result = citizen_call(proxy, tmp_dir(), hold_ms=3000)
        assert result.returncode == 0, result.stdout[-1500:] + sipp_error_log(sc) + proxy.log_tail()
        assert wait_for(lambda: endpoint.finished, 15)
        record = endpoint.finished[-1]
        call = _call(app, record["call_uuid"])
        assert call.outcome == "abandoned" and call.hangup_side == "citizen"
        assert call.queued_at is not None and call.connected_at is None and call.operator_id is None
        assert 2.5 <= call.wait_seconds <= 6
        assert _offers(app) == []
        ended = next(p for name, p in events if name == "call.ended")
        assert ended["answered"] is False and ended["outcome"] == "abandoned"
        assert any(name == "call.queued" and p["position"] == 1 for name, p in events)
        listed = api("operator1").get("/api/v1/console/callbacks").get_json()["items"]
        assert [(c["call_id"], c["outcome"], c["outcome_label"]) for c in listed] == [
            (call.call_uuid, "abandoned", "排队中放弃")]
        assert listed[0]["wait_seconds"] == call.wait_seconds
        supervisor = api("supervisor")
        # the call rollup is a background job started by call.ended, not part of storing the call
        assert wait_for(lambda: supervisor.get("/api/v1/kpis").get_json()["calls"]["counts"]["offered"] == 1, 15)
        calls = supervisor.get("/api/v1/kpis").get_json()["calls"]
        assert (calls["counts"]["offered"], calls["counts"]["answered"]) == (1, 0)
        assert calls["kpis"]["answer_rate"] == 0.0
    finally:
        stop_endpoint(endpoint, acd)
