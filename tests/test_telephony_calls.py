"""Real calls placed with SIPp against the project's endpoint (running inside the test process)."""
from __future__ import annotations

import audioop
import subprocess
import time
import wave

import pytest
from sqlalchemy import select

from tests.telephony_helpers import (AUDIO_DIR, CALLER, UdpCapture, correlation, place_call, read_wav,
                                     require_sipp, run_sipp, scenario, start_endpoint, ulaw_file_pcm, wait_for)

pytestmark = pytest.mark.sip


@pytest.fixture
def endpoint(app):
    require_sipp()
    ep = start_endpoint(app)
    yield ep
    ep.stop()


def _call_row(app, call_uuid):
    from hotline.extensions import db
    from telephony.models import Call

    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.call_uuid == call_uuid))
        assert call is not None
        call.segments, call.dtmf  # load while the session is open
        db.Session.remove()
        return call


def _ticket_events(app, number):
    from hotline.extensions import db
    from ticketing.models import Ticket

    with app.app_context():
        ticket = db.session.scalar(select(Ticket).where(Ticket.number == number))
        result = ticket, [(e.action, e.data) for e in ticket.events]
        db.Session.remove()
        return result


def _place(endpoint, tmp_path, **values):
    sc = scenario("uac_call.xml", tmp_path, **values)
    return place_call(endpoint, sc, timeout=60, idle=20)


def test_recorded_call_matches_fixture_and_becomes_linked_draft(app, endpoint, events, tmp_path):
    fixture = AUDIO_DIR / "ko_1.ulaw"
    record = _place(endpoint, tmp_path, AUDIO=fixture, HOLD_MS=5500)

    expected = ulaw_file_pcm(fixture)
    samples, rate = read_wav(endpoint.config.recordings_dir + "/" + record["recording_path"])
    assert rate == 8000
    assert abs(len(samples) - len(expected)) / 8000 <= 0.1
    assert correlation(samples, expected) > 0.99

    call = _call_row(app, record["call_uuid"])
    assert call.caller == CALLER and call.caller_phone == CALLER and call.called == "12345"
    assert call.hangup_cause == "caller_hangup" and call.codec == "PCMU"
    assert call.ringing_at <= call.answered_at < call.ended_at
    assert 5.0 < call.duration < 7.5
    assert call.transcription == "off" and call.ticket_number
    ticket, history = _ticket_events(app, call.ticket_number)
    assert ticket.channel == "phone" and ticket.status == "draft" and ticket.caller_phone == CALLER
    assert "语音转写未开启" in ticket.content
    assert ("call_linked", {"call_id": call.call_uuid, "caller": CALLER, "duration": call.duration,
                            "recording": True, "earlier_tickets": []}) in history
    names = [n for n, p in events if p.get("call_id") == call.call_uuid]
    assert names[:3] == ["call.ringing", "call.answered", "call.ended"] and "call.ticket" in names


def test_dtmf_digits_are_captured(app, endpoint, tmp_path):
    record = _place(endpoint, tmp_path, DTMF=True, HOLD_MS=500)
    assert "".join(d for d, _ in record["dtmf"]) == "123#*9"
    call = _call_row(app, record["call_uuid"])
    assert call.digits == "123#*9"
    assert [d.at for d in call.dtmf] == sorted(d.at for d in call.dtmf)


def test_second_call_from_same_number_links_first_ticket(app, endpoint, tmp_path):
    first = _place(endpoint, tmp_path, HOLD_MS=300)
    second = _place(endpoint, tmp_path, HOLD_MS=300)
    assert first["ticket_number"] != second["ticket_number"]
    _ticket, history = _ticket_events(app, second["ticket_number"])
    linked = [data for action, data in history if action == "call_linked"]
    assert linked[0]["earlier_tickets"] == [first["ticket_number"]]


def test_cancel_while_ringing_is_never_answered(app, events, tmp_path):
    require_sipp()
    endpoint = start_endpoint(app, answer_delay=2.0)
    try:
        sc = scenario("uac_cancel.xml", tmp_path, HOLD_MS=3000)
        record = place_call(endpoint, sc, timeout=30, idle=10)
    finally:
        endpoint.stop()
    assert record["cause"] == "cancelled" and record["answered_at"] is None
    assert record["recording_path"] is None and record["ticket_number"] is None
    assert "call.answered" not in [n for n, _ in events]
    assert endpoint.phone.ports.in_use == 0


def test_bad_rtp_datagrams_mid_call_do_not_cut_the_recording(app, endpoint, tmp_path):
    import socket

    fixture = AUDIO_DIR / "ko_1.ulaw"
    sc = scenario("uac_call.xml", tmp_path, AUDIO=fixture, HOLD_MS=5500)
    proc = run_sipp(sc, endpoint.config.sip_port, timeout=60, background=True)
    session = wait_for(lambda: next((s for s in endpoint.sessions.values() if s.answered_mono), None), 10)
    assert session is not None
    time.sleep(1.0)
    port = session.caller_leg.call.stream.port
    bad = [b"", b"\x80", b"\x80\x00" * 5, b"\x00" * 40,  # empty, 1 byte, short, RTP version 0
           b"\x8f" + b"\x00" * 11,  # 15 CSRCs announced, none present
           bytes([0x80, 101, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 200, 0x80, 0, 160]),  # event code 200
           bytes([0x80, 101, 0, 2, 0, 0, 0, 1, 0, 0, 0, 9, 1])]  # truncated event
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for datagram in bad * 3:
            s.sendto(datagram, ("127.0.0.1", port))
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out[-2000:]
    assert endpoint.wait_idle(20)
    record = endpoint.finished[-1]
    assert record["stats"]["bad_datagrams"] >= 18
    expected = ulaw_file_pcm(fixture)
    samples, _ = read_wav(endpoint.config.recordings_dir + "/" + record["recording_path"])
    assert abs(len(samples) - len(expected)) / 8000 <= 0.1
    assert correlation(samples, expected) > 0.99


def test_reinvite_keeps_outgoing_audio_at_50_packets_per_second(app, endpoint, tmp_path):
    capture = UdpCapture()
    try:
        sc = scenario("uac_call.xml", tmp_path, MEDIA_PORT=capture.port, REINVITE=True,
                      REINVITE_AFTER_MS=1500, HOLD_MS=4000)
        record = None
        record = place_call(endpoint, sc, timeout=60, idle=10)
    finally:
        capture.close()
    packets = capture.packets
    assert len({p[8:12] for _, p in packets}) == 1, "a second transmitter (new SSRC) appeared"
    # after the re-INVITE (sent 1.5 s into the call): 4 s of audio at 50 packets/s
    t0 = packets[0][0]
    window = [t for t, _ in packets if t0 + 2.0 <= t < t0 + 5.0]
    assert 147 <= len(window) <= 153, f"{len(window) / 3.0:.1f} packets/s"
    seqs = [int.from_bytes(p[2:4], "big") for _, p in packets]
    assert all((b - a) & 0xFFFF == 1 for a, b in zip(seqs, seqs[1:]))
    assert record["cause"] == "caller_hangup"


def test_bye_ends_the_recording_at_the_right_length(app, endpoint, tmp_path):
    fixture = AUDIO_DIR / "ko_call.ulaw"  # ~18 s, the caller hangs up after 3 s
    record = _place(endpoint, tmp_path, AUDIO=fixture, HOLD_MS=3000)
    samples, _ = read_wav(endpoint.config.recordings_dir + "/" + record["recording_path"])
    seconds = len(samples) / 8000
    assert abs(seconds - 3.0) <= 0.1, seconds
    assert seconds <= record["duration"] + 0.02  # nothing recorded after the BYE
    expected = ulaw_file_pcm(fixture)[: len(samples)]
    assert correlation(samples, expected) > 0.99


def test_pcma_call_is_answered_and_sent_in_pcma(app, tmp_path):
    require_sipp()
    wav = AUDIO_DIR / "ko_2.wav"
    with wave.open(str(wav), "rb") as w:
        greeting = w.readframes(w.getnframes())
    alaw = tmp_path / "ko_1.alaw"
    subprocess.run(["sox", str(AUDIO_DIR / "ko_1.wav"), "-r", "8000", "-c", "1", "-t", "al", str(alaw)],
                   check=True)
    endpoint = start_endpoint(app, greeting=greeting)
    capture = UdpCapture()
    try:
        sc = scenario("uac_call.xml", tmp_path, PT=8, CODEC="PCMA", AUDIO=alaw, HOLD_MS=5000,
                      MEDIA_PORT=capture.port)
        record = place_call(endpoint, sc, timeout=60, idle=10)
    finally:
        capture.close()
        endpoint.stop()
    assert record["codec"] == "PCMA"
    assert {p[1] & 0x7F for _, p in capture.packets} == {8}
    import array

    sent = array.array("h", audioop.alaw2lin(b"".join(p[12:] for _, p in capture.packets), 2))
    played = array.array("h", greeting)
    assert correlation(sent[: len(played)], played, max_lag=0) > 0.99
    samples, _ = read_wav(endpoint.config.recordings_dir + "/" + record["recording_path"])
    expected = array.array("h", audioop.alaw2lin(alaw.read_bytes(), 2))
    assert correlation(samples, expected) > 0.99
