"""The number read back: a SIPp citizen leaves a voice message, presses #, and hears the ticket
number digit by digit; the played audio (captured RTP) decodes to the number of the ticket stored
for the call, and the acceptance SMS with that number is queued for the caller.

The decoder is a digit detector: normalised cross-correlation of the received audio with each of
the ten digit prompts (through the same G.711 mu-law the line carries); the detected digits in
time order must spell the number."""
from __future__ import annotations

import array
import audioop
import struct

import numpy as np
import pytest
from scipy.signal import fftconvolve

from tests.telephony_helpers import (AUDIO_DIR, CALLER, SIPP_DIR, UdpCapture, require_sipp, run_sipp, scenario,
                                     sipp_error_log, start_endpoint)


def _received_pcm(packets: list[tuple[float, bytes]]) -> np.ndarray:
    """The PCMU payloads of the captured RTP in sequence order, as 16-bit PCM."""
    frames = {}
    for _, data in packets:
        if len(data) < 12 or data[1] & 0x7F != 0:  # PCMU only (not telephone-event)
            continue
        seq = struct.unpack("!H", data[2:4])[0]
        frames[seq] = data[12:]
    ordered = b"".join(frames[s] for s in sorted(frames))
    return np.frombuffer(audioop.ulaw2lin(ordered, 2), dtype=np.int16).astype(np.float64)


def _ncc(signal: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Normalised cross-correlation of ``template`` at every offset of ``signal``."""
    t = template - template.mean()
    t /= np.linalg.norm(t) or 1.0
    num = fftconvolve(signal, t[::-1], mode="valid")
    window = np.ones(len(t))
    s1 = fftconvolve(signal, window, mode="valid")
    s2 = fftconvolve(signal ** 2, window, mode="valid")
    energy = np.sqrt(np.maximum(s2 - s1 ** 2 / len(t), 1e-9))
    return num / energy


def _on_the_line(clip: bytes) -> np.ndarray:
    """What the line carries of a prompt: through mu-law and back."""
    return np.frombuffer(audioop.ulaw2lin(audioop.lin2ulaw(clip, 2), 2), dtype=np.int16).astype(np.float64)


def between(signal: np.ndarray, intro: bytes, outro: bytes) -> np.ndarray:
    """The audio after the announcement "工单号是：" and before "工单号也会用短信发给您…"."""
    a, b = _on_the_line(intro), _on_the_line(outro)
    start = int(np.argmax(_ncc(signal, a))) + len(a)
    end = int(np.argmax(_ncc(signal, b)))
    assert _ncc(signal, a).max() > 0.9 and _ncc(signal, b).max() > 0.9 and start < end, "announcement not heard"
    return signal[start:end]


def decode_digits(signal: np.ndarray, digits: tuple[bytes, ...], threshold: float = 0.8) -> str:
    templates = [_on_the_line(clip) for clip in digits]
    hits = []  # (offset, score, digit)
    for d, t in enumerate(templates):
        score = _ncc(signal, t)
        idx = np.flatnonzero(score > threshold)
        while idx.size:  # one hit per run of offsets above the threshold: its best offset
            run_end = np.searchsorted(idx, idx[0] + len(t))
            run = idx[:run_end]
            best = run[np.argmax(score[run])]
            hits.append((int(best), float(score[best]), d))
            idx = idx[run_end:]
    hits.sort()
    kept: list[tuple[int, float, int]] = []
    for hit in hits:  # overlapping hits of different digits: the better one
        if kept and hit[0] < kept[-1][0] + 1600:
            if hit[1] > kept[-1][1]:
                kept[-1] = hit
            continue
        kept.append(hit)
    return "".join(str(d) for _, _, d in kept)


@pytest.fixture
def endpoint(app):
    ep = start_endpoint(app)  # no SIP proxy: every call is voice intake
    yield ep
    ep.stop()


def test_caller_hears_the_ticket_number_and_gets_it_by_sms(app, endpoint, tmp_path):
    from sqlalchemy import select

    from hotline.extensions import db
    from messaging.models import SmsMessage
    from messaging.plugin import state, wire
    from telephony.queue_audio.readback import ReadBack
    from ticketing.models import Ticket
    from tests.telephony_helpers import wait_for

    require_sipp()
    wire(app)  # the acceptance notice, as the sip process wires it
    capture = UdpCapture()
    try:
        ending = (SIPP_DIR / "uac_end_wait_bye.inc").read_text().replace("@WAIT_BYE_MS@", "60000")
        sc = scenario("uac_citizen.xml", tmp_path, END=ending, DTMF=True, LOOPS=-1, HOLD_MS=0,
                      AUDIO=AUDIO_DIR / "ko_1.ulaw", MEDIA_PORT=capture.port)
        result = run_sipp(sc, endpoint.config.sip_port, timeout=90)  # ends when the hotline hangs up
        assert result.returncode == 0, result.stdout[-2000:] + sipp_error_log(sc)
        assert endpoint.wait_idle(30)
        record = endpoint.finished[-1]
        number = record["ticket_number"]
        assert number and record["cause"] == "intake_done" and record["reserved_number"] == number
        prompts = ReadBack.load()
        heard = decode_digits(between(_received_pcm(capture.packets), prompts.intro, prompts.outro), prompts.digits)
        assert heard == number, (heard, number)
    finally:
        capture.close()

    with app.app_context():
        ticket = db.session.scalar(select(Ticket).where(Ticket.number == number))
        assert ticket.call_uuid == record["call_uuid"] and ticket.caller_phone == CALLER
        db.Session.remove()
    sms = wait_for(lambda: _sms(app, number), timeout=30)
    assert sms and sms.phone == CALLER and sms.template_key == "accepted" and f"工单号{number}" in sms.text
    state(app).stop()


def _sms(app, number):
    from sqlalchemy import select

    from hotline.extensions import db
    from messaging.models import SmsMessage

    with app.app_context():
        row = db.session.scalar(select(SmsMessage).where(SmsMessage.text.contains(number)))
        db.Session.remove()
        return row
