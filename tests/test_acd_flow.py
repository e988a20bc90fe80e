"""The queue's other paths with real calls through Kamailio: nobody ready within the max wait,
outside service hours, nobody on duty, an unregistered phone, and wrap-up ending by itself."""
from __future__ import annotations

import pytest

from tests.acd_helpers import OperatorPhone, acd_endpoint, citizen_call, proxy, set_states, stop_endpoint  # noqa: F401
from tests.telephony_helpers import sipp_error_log, tmp_dir, wait_for
from tests.test_acd_calls import _call, _offers, _state

pytestmark = pytest.mark.sip


def _one_call(proxy, endpoint, hold_ms):
    sc, result = citizen_call(proxy, tmp_dir(), hold_ms=hold_ms)
    assert result.returncode == 0, result.stdout[-1500:] + sipp_error_log(sc) + proxy.log_tail()
    assert wait_for(lambda: endpoint.finished, 15)
    return endpoint.finished[-1]


def test_nobody_ready_within_max_wait_goes_to_voice_intake_and_the_callback_list(app, proxy, events, api):
    set_states(app, {"operator1": "break"})
    endpoint, acd = acd_endpoint(app, proxy, acd_max_wait=2)
    try:
        record = _one_call(proxy, endpoint, 4500)
        call = _call(app, record["call_uuid"])
        assert call.outcome == "missed" and 1.8 <= call.wait_seconds <= 3.5
        assert call.ticket_number  # voice intake: the existing flow made a draft ticket
        intake = next(p for name, p in events if name == "call.intake")
        assert intake["reason"] == "max_wait" and intake["call_id"] == call.call_uuid
        listed = api("operator1").get("/api/v1/console/callbacks").get_json()["items"]
        assert [(c["call_id"], c["outcome_label"]) for c in listed] == [(call.call_uuid, "未接通（已转留言）")]
        r = api("operator1").post(f"/api/v1/console/callbacks/{call.call_uuid}", json={"note": "已回电，市民已说明诉求"})
        assert r.status_code == 200 and r.get_json()["callback_by"] == "operator1"
        assert api("operator1").get("/api/v1/console/callbacks").get_json()["items"] == []
        assert api("operator2").post(f"/api/v1/console/callbacks/{call.call_uuid}").status_code == 409
    finally:
        stop_endpoint(endpoint, acd)


def test_outside_service_hours_the_caller_goes_straight_to_voice_intake(app, proxy, events, api):
    from hotline.clock import to_local, utcnow

    now = to_local(utcnow())
    start = (now.hour * 60 + now.minute + 720) % 1439
    hours = f"{start // 60:02d}:{start % 60:02d}-{(start + 1) // 60:02d}:{(start + 1) % 60:02d}"
    set_states(app, {"operator1": "idle"})
    phone = OperatorPhone(proxy, "1001")
    endpoint, acd = acd_endpoint(app, proxy, service_hours=hours)
    try:
        record = _one_call(proxy, endpoint, 1500)
        call = _call(app, record["call_uuid"])
        assert call.outcome == "out_of_hours" and call.ticket_number
        assert _offers(app) == []  # the ready operator was not rung
        assert not any(name == "call.queued" for name, _ in events)
        kpis = api("supervisor").get("/api/v1/console/call-kpis").get_json()
        assert kpis["offered"] == 0 and kpis["answer_rate"] is None  # not offered: not in 接通率
    finally:
        stop_endpoint(endpoint, acd)
        phone.stop()


def test_with_every_operator_offline_the_caller_is_not_queued(app, proxy, events):
    endpoint, acd = acd_endpoint(app, proxy)
    try:
        record = _one_call(proxy, endpoint, 1500)
        call = _call(app, record["call_uuid"])
        assert call.outcome == "voice_intake" and call.wait_seconds < 1.5
        assert next(p for name, p in events if name == "call.intake")["reason"] == "no_operator_on_duty"
    finally:
        stop_endpoint(endpoint, acd)


def test_unregistered_phone_sets_operator_offline_and_the_next_one_answers(app, proxy, events):
    phone = OperatorPhone(proxy, "1002")  # operator1's 1001 is not registered anywhere
    set_states(app, {"operator1": "idle", "operator2": "idle"}, ready_order=["operator1", "operator2"])
    endpoint, acd = acd_endpoint(app, proxy, acd_wrapup=1)
    try:
        record = _one_call(proxy, endpoint, 2000)
        assert [(n, r) for n, r, *_ in _offers(app)] == [("operator1", "unregistered"), ("operator2", "answered")]
        assert _state(app, "operator1") == "offline"
        call = _call(app, record["call_uuid"])
        assert call.outcome == "answered" and call.operator_extension == "1002"
        # wrap-up (1 s here) ends by itself: operator2 is ready again and the wrap-up time is stored
        assert wait_for(lambda: _state(app, "operator2") == "idle", 8)
        assert wait_for(lambda: (_call(app, record["call_uuid"]).wrapup_seconds or 0) > 0, 8)
        assert 0.8 <= _call(app, record["call_uuid"]).wrapup_seconds <= 3
        states = [(p["state"], p["reason"]) for name, p in events if name == "agent.state" and p["user"] == "operator2"]
        assert states[-3:] == [("oncall", "answered"), ("wrapup", "after_call"), ("idle", "wrapup_over")]
    finally:
        stop_endpoint(endpoint, acd)
        phone.stop()


def test_operator_hanging_up_first_is_the_hang_up_side_and_busy_phone_moves_on(app, proxy, events, tmp_path):
    from tests.bridge_helpers import Citizen, SippPhone
    from tests.telephony_helpers import AUDIO_DIR

    busy = SippPhone(proxy, "1001", tmp_path, kind="busy")
    leaves = SippPhone(proxy, "1002", tmp_path, kind="answer", end="send_bye", hold_ms=1500,
                       audio=AUDIO_DIR / "ko_1.ulaw")
    set_states(app, {"operator1": "idle", "operator2": "idle"}, ready_order=["operator1", "operator2"])
    endpoint, acd = acd_endpoint(app, proxy)
    citizen = Citizen(proxy, tmp_path, AUDIO_DIR / "ko_1.ulaw", end="wait_bye", timeout=30)
    try:
        code, out = citizen.wait(30)
        assert code == 0, out  # the hotline hung up the citizen after the operator left
        assert wait_for(lambda: endpoint.finished, 15)
        assert [(n, r) for n, r, *_ in _offers(app)] == [("operator1", "busy"), ("operator2", "answered")]
        assert _state(app, "operator1") == "busy"  # 示忙 after a busy phone
        call = _call(app, endpoint.finished[-1]["call_uuid"])
        assert (call.outcome, call.hangup_side, call.operator_extension) == ("answered", "operator", "1002")
        assert next(p for n, p in events if n == "call.ended")["hangup_side"] == "operator"
    finally:
        citizen.stop()
        stop_endpoint(endpoint, acd)
        busy.stop()
        leaves.stop()


def test_round_robin_strategy_takes_operators_in_turn(app, proxy):
    phones = [OperatorPhone(proxy, "1001", calls=2), OperatorPhone(proxy, "1002", calls=2)]
    # operator2 has been ready longer: longest-idle would start with operator2
    set_states(app, {"operator1": "idle", "operator2": "idle"}, ready_order=["operator2", "operator1"])
    endpoint, acd = acd_endpoint(app, proxy, acd_strategy="round_robin", acd_wrapup=0)
    try:
        for n in range(1, 4):
            sc, result = citizen_call(proxy, tmp_dir(), hold_ms=1000)
            assert result.returncode == 0, result.stdout[-1500:] + sipp_error_log(sc) + proxy.log_tail()
            assert wait_for(lambda: len(endpoint.finished) >= n, 15)
            assert wait_for(lambda: {_state(app, "operator1"), _state(app, "operator2")} == {"idle"}, 5)
        offers = _offers(app)
        assert [(name, res) for name, res, *_ in offers] == [
            ("operator1", "answered"), ("operator2", "answered"), ("operator1", "answered")]
    finally:
        stop_endpoint(endpoint, acd)
        for phone in phones:
            phone.stop()
