"""Callers waiting together (real calls through Kamailio): first come, first served; each hears
its position, and never silence (hold music between prompts) while it waits."""
from __future__ import annotations

import audioop

import pytest

from tests.acd_helpers import OperatorPhone, acd_endpoint, proxy, queued_call, set_states, stop_endpoint  # noqa: F401
from tests.bridge_helpers import Citizen, payloads
from tests.telephony_helpers import AUDIO_DIR, tmp_dir, wait_for
from tests.test_acd_calls import _offers

pytestmark = pytest.mark.sip


def _ulaw(pcm: bytes, frames: int = 25) -> bytes:
    """The first ``frames`` 20 ms frames of a prompt as the hotline sends them (PCMU)."""
    return audioop.lin2ulaw(pcm[:frames * 320], 2)


def _heard(citizen) -> bytes:
    return b"".join(p for _, p in payloads(citizen.capture))


def _longest_silence(citizen, since: float, until: float) -> float:
    """Longest run (seconds) of received 20 ms frames with hardly any energy, in [since, until]."""
    run = longest = 0
    for at, payload in payloads(citizen.capture):
        if not since <= at <= until:
            continue
        quiet = audioop.rms(audioop.ulaw2lin(payload, 2), 2) < 30
        run = run + 1 if quiet else 0
        longest = max(longest, run)
    return longest * 0.02


def test_first_caller_first_served_with_positions_and_no_silence(app, proxy, events):
    import time

    phone = OperatorPhone(proxy, "1001")
    set_states(app, {"operator1": "busy"})  # on duty, not ready yet: both callers wait
    endpoint, acd = acd_endpoint(app, proxy, acd_wrapup=60, acd_max_wait=40, acd_announce_seconds=20)
    prompts = acd.media.prompts
    tmp = tmp_dir()
    first = second = None
    try:
        first = Citizen(proxy, tmp, AUDIO_DIR / "ko_1.ulaw", hold_ms=12000, timeout=40)
        assert wait_for(lambda: [p for n, p in events if n == "call.queued"], 10), proxy.log_tail()
        second = Citizen(proxy, tmp, AUDIO_DIR / "ko_1.ulaw", hold_ms=9000, timeout=40)
        queued = wait_for(lambda: [p for n, p in events if n == "call.queued"][1:], 10)
        assert [p["position"] for n, p in events if n == "call.queued"] == [1, 2]
        started = time.monotonic()
        # after the welcome, the first hears "马上为您接通", the second "您前面还有一位来电在等待"
        assert wait_for(lambda: _ulaw(prompts.position(1)) in _heard(second), 12)
        assert wait_for(lambda: _ulaw(prompts.position(0)) in _heard(first), 5)
        assert _ulaw(prompts.position(1)) not in _heard(first)
        set_states(app, {"operator1": "idle"})
        assert wait_for(lambda: _offers(app), 10)
        waited_until = time.monotonic()
        offers = _offers(app)
        first_id = next(p["call_id"] for n, p in events if n == "call.queued")
        assert offers[0][3] == first_id and offers[0][1] in (None, "answered")  # the first caller got it
        assert queued[0]["call_id"] != first_id
        # while waiting, each caller heard prompts or hold music: no second of silence
        assert _longest_silence(first, started, waited_until) < 1.0
        assert _longest_silence(second, started, waited_until) < 1.0
        assert first.wait(40)[0] == 0 and second.wait(40)[0] == 0
        assert wait_for(lambda: len(endpoint.finished) == 2, 15)
        outcomes = {r["call_uuid"]: queued_call(app, r["call_uuid"]).outcome for r in endpoint.finished}
        assert outcomes[first_id] == "answered" and outcomes[queued[0]["call_id"]] == "abandoned"
    finally:
        for citizen in (first, second):
            if citizen is not None:
                citizen.stop()
        stop_endpoint(endpoint, acd)
        phone.stop()
