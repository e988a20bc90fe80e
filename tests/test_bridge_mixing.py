"""The bridge's 20 ms tick without the network: who hears whom, hold audio, the fill that covers a
transfer's switch-over, and the jitter buffer. The SIP tests (test_bridge_transfers.py) show the same
behaviour end to end, where the department's sender (SIPp) adds its own timing."""
from __future__ import annotations

import threading
from types import SimpleNamespace

from telephony.media.bridge import PREFILL, SILENT, Bridge, Inbox
from telephony.media.rtp import FRAME_BYTES_PCM16


def frame(value: int) -> bytes:
    return value.to_bytes(2, "little", signed=True) * (FRAME_BYTES_PCM16 // 2)


def make_bridge(*names: str):
    legs = {name: SimpleNamespace(inbox=Inbox(), ended=False,
                                  call=SimpleNamespace(stream=SimpleNamespace(bridge_out=None)))
            for name in names}
    session = SimpleNamespace(legs=legs, _lock=threading.Lock())
    hold = frame(1234) * 10
    bridge = Bridge(session, SimpleNamespace(frame_hooks=[]), hold)
    return bridge, legs, hold


def tick(bridge, legs) -> dict[str, bytes | None]:
    for leg in legs.values():
        leg.call.stream.bridge_out = None
    bridge.tick()
    return {name: leg.call.stream.bridge_out for name, leg in legs.items()}


def test_a_transferred_caller_hears_hold_audio_until_the_new_party_is_heard():
    bridge, legs, hold = make_bridge("caller", "department")
    bridge.set_groups([{"caller", "department"}], fill={"caller"})
    for _ in range(5):  # the department's phone has answered but sends nothing yet
        assert tick(bridge, legs)["caller"] == frame(1234)
    for _ in range(PREFILL):
        legs["department"].inbox.push(frame(500))
    assert tick(bridge, legs)["caller"] == frame(500)
    # from then on a late frame is a gap the jitter buffer reports, no longer hold audio
    assert tick(bridge, legs)["caller"] == frame(500)
    assert tick(bridge, legs)["caller"] is None
    assert legs["department"].inbox.stats["underruns"] == 1


def test_without_fill_the_caller_hears_nothing_until_the_party_sends():
    bridge, legs, _ = make_bridge("caller", "department")
    bridge.set_groups([{"caller", "department"}])
    assert tick(bridge, legs)["caller"] is None


def test_held_legs_hear_hold_audio_and_the_others_hear_each_other_mixed():
    bridge, legs, _ = make_bridge("caller", "operator", "department")
    bridge.set_groups([{"operator", "department"}, {"caller"}], held={"caller"})
    for _ in range(PREFILL):
        legs["operator"].inbox.push(frame(100))
        legs["department"].inbox.push(frame(200))
        legs["caller"].inbox.push(frame(300))
    out = tick(bridge, legs)
    assert out["caller"] == frame(1234)
    assert out["operator"] == frame(200) and out["department"] == frame(100)
    bridge.set_groups([{"caller", "operator", "department"}])
    out = tick(bridge, legs)
    assert out["caller"] == frame(300)  # 100 + 200, the conference sum
    assert out["operator"] == frame(500)


def test_the_jitter_buffer_primes_then_drains_quiet_frames_when_too_deep():
    inbox = Inbox()
    inbox.push(frame(1000))
    assert inbox.take() is None  # not primed yet
    inbox.push(frame(1001))
    assert inbox.take() == frame(1000) and inbox.take() == frame(1001)
    assert inbox.take() is None and inbox.stats["underruns"] == 1
    for _ in range(10):
        inbox.push(SILENT)
    taken = [inbox.take() for _ in range(6)]
    assert taken == [SILENT] * 6
    assert inbox.stats["dropped"] == 2  # beyond 8 frames (160 ms) frames go whatever they hold
    assert inbox.stats["skipped"] >= 1  # then quiet frames are skipped back to the target depth
    assert len(inbox.frames) <= PREFILL
