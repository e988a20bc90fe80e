"""A real softphone (Debian's baresip) as an operator who does not pick up: the queue's CANCEL
after the ring timeout must stop a real phone ringing (SIPp forgives what phones do not), the
operator is set 示忙 and the next operator takes the call."""
from __future__ import annotations

import pytest

from tests.acd_helpers import OperatorPhone, acd_endpoint, citizen_call, proxy, set_states, stop_endpoint  # noqa: F401
from tests.bridge_helpers import start_registered_baresip
from tests.telephony_helpers import sipp_error_log, tmp_dir, wait_for
from tests.test_acd_calls import _call, _offers, _state

pytestmark = pytest.mark.sip


def test_unanswered_baresip_stops_ringing_and_the_next_operator_answers(app, proxy, tmp_path):
    phone = start_registered_baresip(proxy, tmp_path, [
        "audio_player aubridge,nil", "audio_source aubridge,nil", "audio_srate 8000", "audio_channels 1",
        "module_path /usr/lib/baresip/modules", "module g711.so", "module aubridge.so", "module menu.so",
        "module account.so"], f"<sip:1001@127.0.0.1:{proxy.port}>;regint=60;answermode=manual;audio_codecs=PCMU")
    answering = OperatorPhone(proxy, "1002")
    set_states(app, {"operator1": "idle", "operator2": "idle"}, ready_order=["operator1", "operator2"])
    endpoint, acd = acd_endpoint(app, proxy, acd_ring_timeout=3)
    try:
        sc, result = citizen_call(proxy, tmp_dir(), hold_ms=7000)
        assert result.returncode == 0, result.stdout[-1500:] + sipp_error_log(sc) + proxy.log_tail()
        assert wait_for(lambda: endpoint.finished, 15)
        assert [(n, r) for n, r, *_ in _offers(app)] == [("operator1", "no_answer"), ("operator2", "answered")]
        assert _state(app, "operator1") == "busy"
        call = _call(app, endpoint.finished[-1]["call_uuid"])
        assert call.outcome == "answered" and call.operator_extension == "1002" and call.wait_seconds >= 3
    finally:
        stop_endpoint(endpoint, acd)
        answering.stop()
        phone.terminate()
        log, _ = phone.communicate(timeout=10)
    incoming = log.split("Incoming call", 1)
    assert len(incoming) == 2, log[-2000:]  # the real phone rang ...
    assert "Call established" not in log, log[-2000:]
    # ... and stopped ringing on our CANCEL (baresip reports a cancelled incoming call this way)
    assert "session closed" in incoming[1].split("terminated by signal")[0], log[-2000:]
