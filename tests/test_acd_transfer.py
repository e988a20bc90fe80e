"""Transfers started from the console on a real call (Kamailio, SIPp citizen, operator and
department phones): the command travels as ``call.command`` to the call's session, and every
transfer or three-party join lands on the ticket's history."""
from __future__ import annotations

import pytest

from tests.acd_helpers import OperatorPhone, acd_endpoint, citizen_call, proxy, set_states, stop_endpoint  # noqa: F401
from tests.telephony_helpers import sipp_error_log, tmp_dir, wait_for
from tests.test_acd_calls import _call, _state

pytestmark = pytest.mark.sip


def _connected(api, call_id_holder):
    items = api.get("/api/v1/console/calls").get_json()["items"]
    live = [c for c in items if c["info"].get("connected") and c["state"] == "talking"]
    if live:
        call_id_holder.append(live[0]["call_id"])
    return bool(live)


def _history(api, number):
    return api.get(f"/api/v1/tickets/{number}").get_json()["events"]


def test_blind_transfer_is_recorded_on_the_calls_ticket(app, proxy, api, events):
    operator = OperatorPhone(proxy, "1001")
    department = OperatorPhone(proxy, "2001")
    set_states(app, {"operator1": "idle"})
    endpoint, acd = acd_endpoint(app, proxy, acd_wrapup=60)
    op = api("operator1")
    try:
        sc, citizen = citizen_call(proxy, tmp_dir(), hold_ms=7000, background=True)
        found: list[str] = []
        assert wait_for(lambda: _connected(op, found), 10), proxy.log_tail()
        call_id = found[0]
        r = op.post(f"/api/v1/calls/{call_id}/commands/transfer", json={"target": "2001"})
        assert r.status_code == 202
        result = wait_for(lambda: next((p for n, p in events if n == "call.command_result"), None), 15)
        assert result and result["ok"] is True and result["command"] == "transfer", result
        # the operator is free once the department answered: wrap-up starts at once
        assert wait_for(lambda: _state(app, "operator1") == "wrapup", 5)
        # the call is the department's now: the operator's hang-up is refused by the SIP process
        assert op.post(f"/api/v1/calls/{call_id}/commands/hangup").status_code == 202
        refused = wait_for(lambda: [p for n, p in events if n == "call.command_result" and p["command"] == "hangup"], 10)
        assert refused and refused[0]["ok"] is False and refused[0]["error"] == "该通话已转出"
        out, _ = citizen.communicate(timeout=40)
        assert citizen.returncode == 0, out[-1500:] + sipp_error_log(sc)
        assert wait_for(lambda: endpoint.finished, 15)
        call = _call(app, call_id)
        assert call.outcome == "answered" and call.ticket_number
        # the operator's talk time ends at the transfer, not when the citizen hangs up later
        assert call.talk_seconds < 0.5 * call.duration, \
            (call.talk_seconds, call.duration)
        transfer = wait_for(lambda: [e for e in _history(op, call.ticket_number) if e["action"] == "transfer"], 10)
        assert len(transfer) == 1 and transfer[0]["actor"] == "operator1"
        assert transfer[0]["action_label"] == "转接"
        assert {"mode": "blind", "to": "2001", "call_id": call_id}.items() <= transfer[0]["data"].items()
    finally:
        stop_endpoint(endpoint, acd)
        operator.stop()
        department.stop()


def test_three_party_join_is_recorded_on_the_ticket_the_operator_linked(app, proxy, api, events):
    operator = OperatorPhone(proxy, "1001")
    department = OperatorPhone(proxy, "2002")
    set_states(app, {"operator1": "idle"})
    endpoint, acd = acd_endpoint(app, proxy)
    op = api("operator1")
    try:
        number = op.post("/api/v1/tickets", json={"type": "求助", "content": "停水三天",
                                                  "caller": {"phone": "13800138000"}}).get_json()["number"]
        sc, citizen = citizen_call(proxy, tmp_dir(), hold_ms=7000, background=True)
        found: list[str] = []
        assert wait_for(lambda: _connected(op, found), 10), proxy.log_tail()
        call_id = found[0]
        assert op.post("/api/v1/console/calls/link", json={"call_id": call_id, "number": number}).status_code == 200
        assert op.post(f"/api/v1/calls/{call_id}/commands/conference", json={"target": "2002"}).status_code == 202
        result = wait_for(lambda: next((p for n, p in events if n == "call.command_result"), None), 15)
        assert result and result["ok"] is True, result
        joined = wait_for(lambda: [e for e in _history(op, number) if e["action"] == "three_party"], 10)
        assert len(joined) == 1 and joined[0]["actor"] == "operator1" and joined[0]["action_label"] == "三方通话"
        assert {"mode": "three_party", "to": "2002"}.items() <= joined[0]["data"].items()
        assert _state(app, "operator1") == "oncall"  # still on the call with both parties
        citizen.communicate(timeout=40)
        assert wait_for(lambda: endpoint.finished, 15)
        assert wait_for(lambda: _state(app, "operator1") == "wrapup", 5)
    finally:
        stop_endpoint(endpoint, acd)
        operator.stop()
        department.stop()


def test_consult_then_transfer_and_emergency_transfer_are_recorded(app, proxy, api, events):
    operator = OperatorPhone(proxy, "1001", calls=2)
    department = OperatorPhone(proxy, "2003")
    police = OperatorPhone(proxy, "9110")  # stands in for the 110 trunk
    set_states(app, {"operator1": "idle"})
    endpoint, acd = acd_endpoint(app, proxy, acd_wrapup=0, emergency_numbers="110=9110")
    op = api("operator1")
    try:
        numbers = []
        for commands, target in ((("consult", "complete_transfer"), "2003"), (("emergency",), "110")):
            sc, citizen = citizen_call(proxy, tmp_dir(), hold_ms=7000, background=True)
            found: list[str] = []
            assert wait_for(lambda: _connected(op, found) and found[-1] not in numbers, 10), proxy.log_tail()
            call_id = found[-1]
            numbers.append(call_id)
            for command in commands:
                body = {"target": target} if command in ("consult", "emergency") else {}
                assert op.post(f"/api/v1/calls/{call_id}/commands/{command}", json=body).status_code == 202
                done = wait_for(lambda: [p for n, p in events if n == "call.command_result"
                                         and p["call_id"] == call_id and p["command"] == command], 15)
                assert done and done[0]["ok"] is True, done
            citizen.communicate(timeout=40)
            assert wait_for(lambda: len(endpoint.finished) == len(numbers), 15)
        consulted, emergency = (_call(app, c) for c in numbers)
        first = wait_for(lambda: [e for e in _history(op, consulted.ticket_number) if e["action"] == "transfer"], 10)
        assert [{k: e["data"][k] for k in ("mode", "to")} for e in first] == [{"mode": "consult", "to": "2003"}]
        second = wait_for(lambda: [e for e in _history(op, emergency.ticket_number) if e["action"] == "transfer"], 10)
        assert [{k: e["data"][k] for k in ("mode", "to", "emergency")} for e in second] == [
            {"mode": "emergency", "to": "110", "emergency": "公安报警"}]
        assert "110" in second[0]["note"]
    finally:
        stop_endpoint(endpoint, acd)
        for phone in (operator, department, police):
            phone.stop()


def test_hold_from_the_console_is_counted_apart_from_talk_time(app, proxy, api, events):
    import time

    operator = OperatorPhone(proxy, "1001")
    set_states(app, {"operator1": "idle"})
    endpoint, acd = acd_endpoint(app, proxy)
    op = api("operator1")
    try:
        sc, citizen = citizen_call(proxy, tmp_dir(), hold_ms=6000, background=True)
        found: list[str] = []
        assert wait_for(lambda: _connected(op, found), 10), proxy.log_tail()
        call_id = found[0]
        for command in ("hold", "resume"):
            assert op.post(f"/api/v1/calls/{call_id}/commands/{command}").status_code == 202
            assert wait_for(lambda: [p for n, p in events if n == "call.command_result"
                                     and p["command"] == command and p["ok"]], 10)
            if command == "hold":
                time.sleep(1.5)  # the length of the hold being measured, not a wait for a result
        citizen.communicate(timeout=40)
        assert wait_for(lambda: endpoint.finished, 15)
        call = _call(app, call_id)
        assert 1.3 <= call.hold_seconds <= 3.0
        total = (call.ended_at - call.connected_at).total_seconds()
        assert abs(call.talk_seconds + call.hold_seconds - total) < 0.5
    finally:
        stop_endpoint(endpoint, acd)
        operator.stop()
