"""A real softphone (Debian's baresip) as the operator, registered at Kamailio and auto-answering:
it catches what SIPp tolerates (pyVoIP's ACK with a random To-tag made baresip re-send 200 OK and
hang up after 32 s, F16)."""
from __future__ import annotations

import audioop
import wave

import pytest

from tests.bridge_helpers import (Citizen, FixedOperator, bridge_endpoint, make_source, payloads,
                                  proxy, start_registered_baresip)  # noqa: F401 - fixture
from tests.telephony_helpers import read_wav

pytestmark = pytest.mark.sip


def best_correlation(np, signal, reference) -> float:
    """Normalised correlation of ``signal`` against the best-aligned stretch of ``reference``."""
    a = np.asarray(signal, dtype=float)
    b = np.asarray(reference, dtype=float)
    corr = np.correlate(b, a, mode="valid")
    lag = int(np.argmax(np.abs(corr)))
    ref = b[lag:lag + len(a)]
    return float(np.dot(a, ref) / (np.linalg.norm(a) * np.linalg.norm(ref)))


def test_baresip_operator_is_bridged_both_ways_and_accepts_our_ack(app, proxy, tmp_path):
    np = pytest.importorskip("numpy")
    citizen_frames = make_source(tmp_path / "citizen.ulaw", 2.0, 440, seed=7)
    operator_frames = make_source(tmp_path / "operator.ulaw", 6.0, 660, seed=8)
    operator_pcm = audioop.ulaw2lin(b"".join(operator_frames), 2)
    with wave.open(str(tmp_path / "operator.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(operator_pcm)
    (tmp_path / "snd").mkdir()
    phone = start_registered_baresip(proxy, tmp_path, [
        f"audio_source aufile,{tmp_path / 'operator.wav'}", "audio_player aubridge,nil",
        "audio_srate 8000", "audio_channels 1", "module_path /usr/lib/baresip/modules",
        "module g711.so", "module aufile.so", "module aubridge.so", "module menu.so", "module account.so",
        "module sndfile.so", f"snd_path {tmp_path / 'snd'}"],
        f"<sip:1001@127.0.0.1:{proxy.port}>;regint=60;answermode=auto;audio_codecs=PCMU")
    endpoint = bridge_endpoint(app, proxy)
    citizen = None
    try:
        router = FixedOperator(endpoint, "1001")
        # baresip hangs up when its audio file ends (~6 s): the operator ends the call
        citizen = Citizen(proxy, tmp_path, tmp_path / "citizen.ulaw", end="wait_bye", timeout=30)
        code, out = citizen.wait(40)
        assert code == 0, out
        assert router.results and router.results[0].leg is not None, router.results
        assert endpoint.wait_idle(15)
        record = endpoint.finished[-1]
    finally:
        if citizen:
            citizen.stop()
        phone.terminate()
        log, _ = phone.communicate(timeout=10)
        endpoint.stop()
    assert "Call established" in log, log[-2000:]
    [leg] = record["legs"]
    assert leg["ok_retransmits"] == 0, log[-2000:]  # baresip took our ACK: no 200 OK re-sent
    assert leg["cause"] == "remote_hangup" and record["hangup_side"] == "operator"
    assert leg["recording_seconds"] > 4.5
    # the citizen heard the operator's file ...
    heard = b"".join(audioop.ulaw2lin(p, 2) for _, p in payloads(citizen.capture))
    heard_samples = np.frombuffer(heard, dtype="<i2")
    loud = np.flatnonzero(np.abs(heard_samples) > 1000)
    window = heard_samples[loud[0] + 800: loud[0] + 800 + 16000]  # 2 s inside the operator's speech
    assert best_correlation(np, window, np.frombuffer(operator_pcm, dtype="<i2")) > 0.99
    # ... and the operator's phone played the citizen (2 s source looping)
    [decoded] = list((tmp_path / "snd").glob("*-dec.wav"))  # sndfile: what the phone decoded
    played, _ = read_wav(decoded)
    played = np.asarray(played, dtype=float)
    loud = np.flatnonzero(np.abs(played) > 1000)
    window = played[loud[0] + 800: loud[0] + 800 + 8000]
    source = np.frombuffer(audioop.ulaw2lin(b"".join(citizen_frames) * 2, 2), dtype="<i2")
    assert best_correlation(np, window, source) > 0.99
