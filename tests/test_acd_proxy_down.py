"""The SIP proxy stops answering while a caller waits for an operator: the queue cannot ring any
phone, so the caller goes to voice intake at once, hears prompts all along (never silence), the
consoles are told (call.intake with reason proxy_unreachable) and the call is stored for callback."""
from __future__ import annotations

import time

import pytest

from tests.acd_helpers import OperatorPhone, acd_endpoint, proxy, set_states, stop_endpoint  # noqa: F401
from tests.bridge_helpers import Citizen, make_source, payloads, register, silent_gaps
from tests.telephony_helpers import wait_for
from tests.test_acd_calls import _call, _offers

pytestmark = pytest.mark.sip


def test_proxy_down_sends_a_waiting_caller_to_voice_intake_without_silence(app, proxy, events, tmp_path):
    make_source(tmp_path / "citizen.ulaw", 2.0, 440, seed=3)
    set_states(app, {"operator1": "break"})  # nobody ready: the caller waits in the queue
    phone = OperatorPhone(proxy, "1001")
    endpoint, acd = acd_endpoint(app, proxy, acd_max_wait=60)
    citizen = Citizen(proxy, tmp_path, tmp_path / "citizen.ulaw", hold_ms=14000)
    try:
        assert wait_for(lambda: any(n == "call.queued" for n, _ in events), 15), proxy.log_tail()
        call_id = next(p for n, p in events if n == "call.queued")["call_id"]
        proxy.stop()
        stopped = time.monotonic()
        set_states(app, {"operator1": "idle"})  # the queue tries to ring operator1 through the dead proxy
        assert wait_for(lambda: any(n == "call.intake" for n, _ in events), 15)
        intake = next(p for n, p in events if n == "call.intake")
        went_to_intake = time.monotonic()
        assert intake["call_id"] == call_id and intake["reason"] == "proxy_unreachable"
        assert went_to_intake - stopped < 8  # no proxy answer within 4 s is enough to give up
        proxy.start()  # same port: the caller's BYE can pass again
        assert register(proxy, "hotline", endpoint.config.sip_port).startswith("SIP/2.0 200")
        code, out = citizen.wait(40)
        assert code == 0, out
        assert wait_for(lambda: endpoint.finished, 15)
    finally:
        citizen.stop()
        phone.stop()
        stop_endpoint(endpoint, acd)
    heard = payloads(citizen.capture)
    assert silent_gaps(heard, stopped - 0.5, went_to_intake + 2.0) <= 1.0  # queue prompts, then intake
    call = _call(app, call_id)
    assert call.outcome == "missed" and call.ticket_number  # a draft from voice intake, listed for callback
    offers = _offers(app)
    assert offers and {o[1] for o in offers} <= {"proxy_unreachable"}, offers
