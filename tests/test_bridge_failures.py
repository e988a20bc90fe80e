"""Operator leg failures through a real Kamailio (issue 7): busy, no answer (CANCEL), not
registered, the operator hanging up first, the proxy going away during a call."""
from __future__ import annotations

import time

import pytest

from tests.bridge_helpers import (Citizen, FixedOperator, SippPhone, bridge_endpoint, cyclic_runs,
                                  make_source, payloads, proxy, register, silent_gaps)  # noqa: F401
from tests.telephony_helpers import wait_for

pytestmark = pytest.mark.sip


def test_busy_no_answer_and_unregistered_operators(app, proxy, tmp_path):
    endpoint = bridge_endpoint(app, proxy)
    busy = SippPhone(proxy, "1002", tmp_path, kind="busy")
    ringing = SippPhone(proxy, "1003", tmp_path, kind="no_answer")
    try:
        dialer = endpoint.dialer
        result = dialer.dial("1002", 5)
        assert result.failure == "busy" and result.sip_code == 486
        started = time.monotonic()
        result = dialer.dial("1003", 1.5)
        assert result.failure == "no_answer" and result.ringing
        assert time.monotonic() - started < 4
        assert ringing.wait(10) == 0, ringing.errors()  # it saw CANCEL, answered 487, got our ACK
        assert busy.wait(10) == 0, busy.errors()
        result = dialer.dial("1999", 5)
        assert result.failure == "unregistered" and result.sip_code == 404
        assert endpoint.phone.ports.in_use == 0
    finally:
        busy.stop()
        ringing.stop()
        endpoint.stop()


def test_operator_hanging_up_first_ends_the_call_on_the_operator_side(app, proxy, tmp_path, events):
    make_source(tmp_path / "citizen.ulaw", 2.0, 440, seed=3)
    make_source(tmp_path / "operator.ulaw", 2.0, 660, seed=4)
    endpoint = bridge_endpoint(app, proxy)
    operator = SippPhone(proxy, "1001", tmp_path, audio=tmp_path / "operator.ulaw", end="send_bye",
                         hold_ms=2000)
    router = FixedOperator(endpoint, "1001")
    citizen = Citizen(proxy, tmp_path, tmp_path / "citizen.ulaw", end="wait_bye", timeout=30)
    try:
        code, out = citizen.wait(30)
        assert code == 0, out  # the citizen got our BYE
        assert operator.wait(10) == 0, operator.errors()
        # the citizen's SIPp may exit on our BYE before the endpoint has counted the call as ended,
        # so wait for the stored record itself, not for "nothing pending"
        assert wait_for(lambda: endpoint.finished, 15)
        record = endpoint.finished[-1]
    finally:
        citizen.stop()
        operator.stop()
        endpoint.stop()
    assert record["hangup_side"] == "operator" and record["cause"] == "operator_hangup"
    assert record["legs"][0]["cause"] == "remote_hangup"
    ended = [p for n, p in events if n == "call.leg_ended"]
    assert ended and ended[0]["leg"] == "operator" and ended[0]["cause"] == "remote_hangup"


def test_proxy_down_transfer_fails_with_recall_and_the_citizen_never_hears_silence(app, proxy, tmp_path):
    citizen_frames = make_source(tmp_path / "citizen.ulaw", 2.0, 440, seed=5)
    operator_frames = make_source(tmp_path / "operator.ulaw", 2.0, 660, seed=6)
    endpoint = bridge_endpoint(app, proxy)
    operator = SippPhone(proxy, "1001", tmp_path, audio=tmp_path / "operator.ulaw")
    router = FixedOperator(endpoint, "1001")
    citizen = Citizen(proxy, tmp_path, tmp_path / "citizen.ulaw", hold_ms=12000)
    try:
        assert router.bridged.wait(15), (router.results, citizen.diagnose())
        session = router.sessions[0]
        assert wait_for(lambda: len(payloads(operator.capture)) > 50, 5)  # bridged audio flows
        proxy.stop()
        started = time.monotonic()
        outcome = session.transfer_blind("2001")
        failed_at = time.monotonic()
        assert outcome == {"ok": False, "failure": "proxy_unreachable", "leg": None}
        assert failed_at - started < 6
        proxy.start()  # same port; registrations are in memory: the endpoint registers again
        assert register(proxy, "hotline", endpoint.config.sip_port).startswith("SIP/2.0 200")
        code, out = citizen.wait(40)
        assert code == 0, out
        assert operator.wait(20) == 0, operator.errors()
        assert endpoint.wait_idle(10)
    finally:
        citizen.stop()
        operator.stop()
        endpoint.stop()
    heard = payloads(citizen.capture)
    # hold audio, then the operator; a gap beyond the 40 ms jitter buffer is the operator's SIPp
    # stalling on a busy machine (see test_bridge_transfers); dead air would last the whole attempt
    assert silent_gaps(heard, started - 0.5, failed_at + 1.0) < 0.25
    after = [p for at, p in heard if at > failed_at + 0.2]
    assert max(cyclic_runs(after, operator_frames)) >= 100  # back with the operator (recall)
