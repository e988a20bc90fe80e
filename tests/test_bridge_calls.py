"""The bridge with real SIP (issue 7): Kamailio on loopback, a SIPp citizen calling 12345, the
hotline endpoint registered as 'hotline' dialling a SIPp operator phone through the proxy.
Bridged audio is checked frame by frame against both sources."""
from __future__ import annotations

import audioop
import os

import pytest

from tests.bridge_helpers import (Citizen, FixedOperator, SippPhone, bridge_endpoint, cyclic_runs,
                                  describe_breaks, make_source, payloads, proxy,
                                  without_fill)  # noqa: F401 - fixture
from tests.telephony_helpers import read_wav

pytestmark = pytest.mark.sip


def test_bridged_audio_arrives_frame_by_frame_both_ways_and_is_recorded(app, proxy, tmp_path):
    citizen_frames = make_source(tmp_path / "citizen.ulaw", 2.0, 440, seed=1)
    operator_frames = make_source(tmp_path / "operator.ulaw", 2.0, 660, seed=2)
    endpoint = bridge_endpoint(app, proxy)
    operator = SippPhone(proxy, "1001", tmp_path, audio=tmp_path / "operator.ulaw")
    router = FixedOperator(endpoint, "1001")
    citizen = None
    try:
        citizen = Citizen(proxy, tmp_path, tmp_path / "citizen.ulaw", hold_ms=7000)
        assert router.bridged.wait(15), (router.results, citizen.diagnose())
        code, out = citizen.wait(40)
        assert code == 0, out
        assert operator.wait(20) == 0, operator.errors()
        assert endpoint.wait_idle(20)
        record = endpoint.finished[-1]
    finally:
        if citizen:
            citizen.stop()
        operator.stop()
        endpoint.stop()
    # what the operator heard: the citizen's frames, in order, none lost, repeated or altered (a
    # frame late for its tick is preceded by one frame of silence, counted as an underrun)
    heard_by_operator = without_fill([p for _, p in payloads(operator.capture)])
    runs = cyclic_runs(heard_by_operator, citizen_frames)
    assert len(runs) == 1 and runs[0] >= 250, (runs[:20], describe_breaks(heard_by_operator, citizen_frames))  # ~6.5 s bridged, one unbroken run
    # and the citizen heard the operator the same way
    heard_by_citizen = without_fill([p for _, p in payloads(citizen.capture)])
    runs = cyclic_runs(heard_by_citizen, operator_frames)
    assert len(runs) == 1 and runs[0] >= 250, (runs[:20], describe_breaks(heard_by_citizen, operator_frames))
    # one recording per speaker plus the mixed one
    assert record["cause"] == "caller_hangup" and record["hangup_side"] == "citizen"
    [leg] = record["legs"]
    assert leg["speaker"] == "operator" and leg["extension"] == "1001" and leg["cause"] == "caller_hangup"
    rec_dir = endpoint.config.recordings_dir
    for rel in (record["recording_path"], leg["recording_path"], record["mixed_recording_path"]):
        assert os.path.getsize(os.path.join(rec_dir, rel)) > 8000 * 2 * 3
    # each speaker's file holds exactly what that speaker sent, frame by frame
    for rel, source in ((record["recording_path"], citizen_frames), (leg["recording_path"], operator_frames)):
        samples, _ = read_wav(os.path.join(rec_dir, rel))
        ulaw = audioop.lin2ulaw(samples.tobytes(), 2)
        frames = [ulaw[i:i + 160] for i in range(0, len(ulaw) - 159, 160)]
        assert max(cyclic_runs(frames, source)) >= 250
    for inbox in (leg["inbox"], record["stats"]["bridge"]["caller_inbox"]):
        assert inbox["dropped"] == 0 and inbox["skipped"] == 0, inbox
