"""Transfers and three-party calls inside the bridge, with real SIP (issue 7): the citizen (SIPp)
talks to an operator (SIPp phone 1001) and is handed to a department's phone (SIPp 2001) through
Kamailio. Each party streams its own tone (+ noise), so what a party hears tells who it hears."""
from __future__ import annotations

import audioop
import os
import time

import pytest

from tests.bridge_helpers import (Citizen, FixedOperator, SippPhone, bridge_endpoint, cyclic_runs,
                                  make_source, payloads, proxy, silent_gaps)  # noqa: F401 - fixture
from tests.telephony_helpers import read_wav, wait_for

pytestmark = pytest.mark.sip

TONES = {"citizen": 700.0, "operator": 1100.0, "department": 1500.0}  # away from the hold chime


@pytest.fixture
def call(app, proxy, tmp_path, events):
    """A bridged call citizen <-> operator 1001, with department 2001 registered and ringing 1 s."""
    frames = {name: make_source(tmp_path / f"{name}.ulaw", 2.0, freq, seed=i + 10)
              for i, (name, freq) in enumerate(TONES.items())}
    endpoint = bridge_endpoint(app, proxy)
    endpoint.emergency_numbers = {"120": "9120"}
    operator = SippPhone(proxy, "1001", tmp_path, audio=tmp_path / "operator.ulaw")
    department = SippPhone(proxy, "2001", tmp_path, audio=tmp_path / "department.ulaw", ring_ms=1000)
    router = FixedOperator(endpoint, "1001")
    citizen = Citizen(proxy, tmp_path, tmp_path / "citizen.ulaw", hold_ms=9000)
    parties = {"citizen": citizen, "operator": operator, "department": department}
    try:
        assert router.bridged.wait(15), (router.results, citizen.diagnose())
        assert wait_for(lambda: len(payloads(operator.capture)) > 25, 5)  # audio flows both ways
        yield endpoint, router.sessions[0], parties, frames, events
    finally:
        for party in parties.values():
            party.stop()
        endpoint.stop()


def level(np, payload_list, freq: float) -> float:
    """Share of the power of decoded G.711 audio within 15 Hz of ``freq``."""
    pcm = np.frombuffer(b"".join(audioop.ulaw2lin(p, 2) for p in payload_list), dtype="<i2").astype(float)
    spectrum = np.abs(np.fft.rfft(pcm * np.hanning(len(pcm)))) ** 2
    freqs = np.fft.rfftfreq(len(pcm), 1 / 8000)
    band = (freqs > freq - 15) & (freqs < freq + 15)
    total = spectrum.sum()
    return float(spectrum[band].sum() / total) if total else 0.0  # pure silence: nothing of it


def heard_between(party, start: float, end: float) -> list[bytes]:
    return [p for at, p in payloads(party.capture) if start <= at <= end]


def heard_after(party, moment: float) -> bool:
    """Has ``party`` received audio after ``moment`` (so a window ending there is complete)?"""
    return any(at > moment for at, _ in payloads(party.capture))


def finish(endpoint, parties) -> dict:
    code, out = parties["citizen"].wait(40)
    assert code == 0, out
    assert endpoint.wait_idle(15)
    return endpoint.finished[-1]


def test_blind_transfer_to_a_department_without_dead_air(call):
    endpoint, session, parties, frames, events = call
    started = time.monotonic()
    outcome = session.transfer_blind("2001")
    answered = time.monotonic()
    assert outcome["ok"] and outcome["leg"] == "department", outcome
    assert parties["operator"].wait(10) == 0, parties["operator"].errors()  # the operator got BYE
    assert wait_for(lambda: len(heard_between(parties["department"], answered, answered + 9)) > 120, 5)
    record = finish(endpoint, parties)
    citizen_heard = payloads(parties["citizen"].capture)
    # hold audio while the department's phone rang (1 s), then the department: no dead air. Once
    # the department is heard, a gap is the department's sender (SIPp) stalling beyond the 40 ms
    # jitter buffer, which a busy machine does for up to ~0.15 s; the switch-over itself is pinned
    # without a network in test_bridge_mixing.py. Dead air (no fill) would be the whole 1 s ring.
    assert answered - started > 0.9
    assert silent_gaps(citizen_heard, started - 0.2, answered + 1.0) < 0.25
    after = [p for at, p in citizen_heard if at > answered + 0.1]
    assert max(cyclic_runs(after, frames["department"])) >= 100
    heard_by_department = [p for _, p in payloads(parties["department"].capture)]
    assert max(cyclic_runs(heard_by_department, frames["citizen"])) >= 100
    names = [n for n, _ in events]
    transferred = [p for n, p in events if n == "call.transferred"]
    assert transferred == [{"call_id": session.call_uuid, "kind": "blind", "extension": "2001",
                            "from_leg": "operator"}]
    assert names.index("call.hold") < names.index("call.transferred")
    legs = {leg["leg"]: leg for leg in record["legs"]}
    assert legs["operator"]["cause"] == "transferred" and legs["department"]["extension"] == "2001"


def test_hold_plays_hold_audio_and_is_counted(call):
    np = pytest.importorskip("numpy")
    endpoint, session, parties, frames, events = call
    assert session.hold()
    held_at = time.monotonic()
    assert wait_for(lambda: heard_after(parties["citizen"], held_at + 1.2), 3)
    assert session.resume()
    resumed_at = time.monotonic()
    window = (held_at + 0.2, held_at + 1.1)
    citizen_window = heard_between(parties["citizen"], *window)
    assert level(np, citizen_window, TONES["operator"]) < 0.02  # the operator is not heard on hold
    assert silent_gaps(payloads(parties["citizen"].capture), *window) < 0.1  # hold audio instead
    assert level(np, heard_between(parties["operator"], *window), TONES["citizen"]) < 0.02
    record = finish(endpoint, parties)
    assert 1.0 < record["hold_seconds"] < 2.5
    after = [p for at, p in payloads(parties["citizen"].capture) if at > resumed_at + 0.1]
    assert max(cyclic_runs(after, frames["operator"])) >= 100
    assert [p["held"] for n, p in events if n == "call.hold"] == [True, False]


def test_consult_then_complete_transfer(call):
    np = pytest.importorskip("numpy")
    endpoint, session, parties, frames, events = call
    outcome = session.consult("2001")
    consult_at = time.monotonic()
    assert outcome["ok"], outcome
    assert wait_for(lambda: all(heard_after(p, consult_at + 1.4) for p in parties.values()), 3)
    window = (consult_at + 0.3, consult_at + 1.3)
    # operator and department talk; the citizen hears hold audio, not them
    assert level(np, heard_between(parties["operator"], *window), TONES["department"]) > 0.2
    assert level(np, heard_between(parties["department"], *window), TONES["operator"]) > 0.2
    citizen_window = heard_between(parties["citizen"], *window)
    assert level(np, citizen_window, TONES["operator"]) < 0.02
    assert level(np, citizen_window, TONES["department"]) < 0.02
    assert silent_gaps(payloads(parties["citizen"].capture), *window) < 0.1
    assert session.complete_transfer()["ok"]
    done_at = time.monotonic()
    assert parties["operator"].wait(10) == 0, parties["operator"].errors()
    record = finish(endpoint, parties)
    assert record["hold_seconds"] >= 1.5  # the citizen was on hold during the consult
    after = [p for at, p in payloads(parties["citizen"].capture) if at > done_at + 0.1]
    assert max(cyclic_runs(after, frames["department"])) >= 100
    states = [p["state"] for n, p in events if n == "call.consult"]
    assert states == ["talking"]
    [transferred] = [p for n, p in events if n == "call.transferred"]
    assert transferred["kind"] == "consult" and transferred["extension"] == "2001"


def test_three_party_call_each_hears_the_other_two(call):
    np = pytest.importorskip("numpy")
    endpoint, session, parties, frames, events = call
    outcome = session.conference("2001")
    joined = time.monotonic()
    assert outcome["ok"], outcome
    assert wait_for(lambda: all(heard_after(p, joined + 2.1) for p in parties.values()), 4)
    window = (joined + 0.5, joined + 2.0)
    for name, party in parties.items():
        heard = heard_between(party, *window)
        assert len(heard) >= 70, (name, len(heard))
        for other, freq in TONES.items():
            energy = level(np, heard, freq)
            if other == name:
                assert energy < 0.02, (name, "hears itself", energy)
            else:
                assert energy > 0.2, (name, "does not hear", other, energy)
    record = finish(endpoint, parties)
    [conference] = [p for n, p in events if n == "call.conference"]
    assert conference["extension"] == "2001" and set(conference["parties"]) == {"caller", "operator", "department"}
    speakers = {leg["speaker"] for leg in record["legs"]}
    assert speakers == {"operator", "department"} and record["mixed_recording_path"]
    # the mixed recording holds all three voices while the three talked
    samples, _ = read_wav(os.path.join(endpoint.config.recordings_dir, record["mixed_recording_path"]))
    start = int((joined - session.answered_mono - record["mixed_offset"] + 0.5) * 8000)
    mixed = audioop.lin2ulaw(samples[start:start + 12000].tobytes(), 2)
    for freq in TONES.values():
        assert level(np, [mixed], freq) > 0.15, freq


def test_emergency_transfer_dials_the_configured_number(call, proxy, tmp_path):
    endpoint, session, parties, frames, events = call
    ambulance = SippPhone(proxy, "9120", tmp_path, audio=tmp_path / "department.ulaw", ring_ms=200)
    try:
        outcome = session.transfer_emergency("120")
        assert outcome["ok"] and outcome["leg"] == "emergency", outcome
        assert session.transfer_emergency("999") == {"ok": False, "failure": "not_configured", "leg": None}
        record = finish(endpoint, parties)
    finally:
        ambulance.stop()
    transferred = [p for n, p in events if n == "call.transferred"]
    assert transferred[0]["kind"] == "emergency" and transferred[0]["extension"] == "9120"
    assert {leg["speaker"] for leg in record["legs"]} == {"operator", "emergency"}
