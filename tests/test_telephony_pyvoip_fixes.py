"""One test per correction in telephony/sip/pyvoip/phone.py: first the pyVoIP 1.6.8 defect, reproduced
on the library itself where that is possible offline, then our endpoint on loopback UDP."""
from __future__ import annotations

import array
import audioop
import socket
import time

import pytest

from telephony.media import rtp
from telephony.sip.pyvoip.phone import HardenedSIPClient
from pyVoIP import RTP, SIP  # noqa: E402 - after pyvoip_fixes (pyVoIP's import cycle)
from tests.telephony_helpers import RawUac, rss_mb, rtp_packet, start_endpoint, wait_for

BAD_DATAGRAMS = [b"", b"\x80", b"\x80\x00" * 5, b"\x00" * 40, b"\x8f" + b"\x00" * 11,
                 bytes([0x80, 101, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 200, 0x80, 0, 160]),
                 bytes([0x80, 101, 0, 2, 0, 0, 0, 1, 0, 0, 0, 9, 1])]


@pytest.fixture
def endpoint(app):
    ep = start_endpoint(app)
    yield ep
    ep.stop()


def _pyvoip_rtp(codec=RTP.PayloadType.PCMU, pt=0):
    return RTP.RTPClient({pt: codec, 101: RTP.PayloadType.EVENT}, "127.0.0.1", 0, "127.0.0.1", 9,
                         RTP.TransmitType.SENDRECV, dtmf=lambda d: None)


# F1 ----------------------------------------------------------------------------------------------
def test_bad_rtp_kills_pyvoip_receiver_but_not_ours():
    client = _pyvoip_rtp()
    # pyVoIP's recv loop catches only RTPParseError/BlockingIOError/OSError: these end its thread
    for datagram in (b"\x80", bytes([0x80, 101, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 200, 0x80, 0, 160])):
        with pytest.raises((IndexError, TypeError, ValueError)):
            client.parse_packet(datagram)

    got, digits = [], []
    stream = rtp.RtpStream("127.0.0.1", 0, ("127.0.0.1", 9), 0, 101, got.append, digits.append)
    try:
        for datagram in BAD_DATAGRAMS:
            stream.handle_datagram(datagram)
        stream.handle_datagram(rtp_packet(1, 160, b"\xff" * 160))
        stream.handle_datagram(bytes([0x80, 101, 0, 2, 0, 0, 1, 0, 0, 0, 0x12, 0x34, 11, 0x0a, 0, 160]))
    finally:
        stream.close()
    assert stream.stats["bad_datagrams"] == len(BAD_DATAGRAMS)
    assert len(got) == 1 and len(got[0]) == 320 and digits == ["#"]


# F2 ----------------------------------------------------------------------------------------------
def test_reinvite_answers_with_the_same_stream(endpoint):
    uac = RawUac(endpoint.config.sip_port)
    try:
        assert uac.invite().startswith("SIP/2.0 200")
        first = uac.remote_rtp
        uac.send(uac.request("INVITE", 2, uac.sdp(), to_tag=True))
        reply = uac.recv()
        assert reply.startswith("SIP/2.0 200") and f"m=audio {first[1]} " in reply
        assert endpoint.phone.media.stream_count == 1
        assert uac.bye().startswith("SIP/2.0 200")
    finally:
        uac.close()


# F3 ----------------------------------------------------------------------------------------------
def test_cancel_while_ringing_gets_487_and_no_answer(app):
    endpoint = start_endpoint(app, answer_delay=1.0)
    uac = RawUac(endpoint.config.sip_port)
    try:
        uac.send(uac.request("INVITE", 1, uac.sdp()))
        assert [m.split()[1] for m in uac.responses(0.3)] == ["100", "180"]
        uac.send(uac.request("CANCEL", 1))
        codes = sorted(m.split()[1] for m in uac.responses(1.5))
        assert codes == ["200", "487"]  # and no 200 for the INVITE after the answer delay
        assert endpoint.wait_idle(5) and endpoint.finished[-1]["cause"] == "cancelled"
    finally:
        uac.close()
        endpoint.stop()


# F4 / F12 ----------------------------------------------------------------------------------------
def test_pcma_is_encoded_as_pcma_and_audio_is_16_bit():
    pcm16 = array.array("h", [int(8000 * ((i % 40) - 20) / 20) for i in range(160)]).tobytes()
    client = _pyvoip_rtp(RTP.PayloadType.PCMA, 8)
    eight_bit = audioop.bias(audioop.lin2lin(pcm16, 2, 1), 1, 128)
    assert client.encode_packet(eight_bit) == audioop.lin2ulaw(audioop.lin2lin(pcm16, 2, 1), 1)  # F4
    assert rtp.encode(rtp.PCMA, pcm16) == audioop.lin2alaw(pcm16, 2)

    ulaw = audioop.lin2ulaw(pcm16, 2)
    client = _pyvoip_rtp()
    client.parse_packet(rtp_packet(1, 0, ulaw))
    assert len(client.pmin.read(160)) == 160  # F12: pyVoIP hands out 8-bit samples
    assert rtp.decode(rtp.PCMU, ulaw) == audioop.ulaw2lin(ulaw, 2)  # 16-bit, full codec resolution


# F5 ----------------------------------------------------------------------------------------------
def test_options_unknown_dialogs_and_methods(endpoint):
    uac = RawUac(endpoint.config.sip_port)
    try:
        options = uac.request("OPTIONS")
        with pytest.raises(SIP.SIPParseError):
            SIP.SIPMessage(options.encode())  # pyVoIP cannot even parse it
        uac.send(options)
        assert uac.recv().startswith("SIP/2.0 200 OK")
        uac.send(uac.request("BYE", 2, call_id="nobody@127.0.0.1"))
        assert uac.recv().startswith("SIP/2.0 481")
        uac.send(uac.request("CANCEL", 1, call_id="nobody@127.0.0.1"))
        assert uac.recv().startswith("SIP/2.0 481")
        uac.send(uac.request("MESSAGE", 1))
        assert uac.recv().startswith("SIP/2.0 501")
    finally:
        uac.close()


# F6 ----------------------------------------------------------------------------------------------
def test_responses_follow_via_and_rport_not_the_configured_server(app):
    endpoint = start_endpoint(app, sip_server="127.0.0.1", sip_server_port=9)
    uac = RawUac(endpoint.config.sip_port)
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.1", 0))
    other.settimeout(2)
    try:
        uac.send(uac.request("OPTIONS"))
        assert uac.recv().startswith("SIP/2.0 200")  # to the Via's sent-by
        text = uac.request("OPTIONS").replace(";branch=", ";rport;branch=")
        other.sendto(text.encode(), ("127.0.0.1", endpoint.config.sip_port))
        assert other.recv(4096).startswith(b"SIP/2.0 200")  # rport: back to the source
    finally:
        other.close()
        uac.close()
        endpoint.stop()


# F8 ----------------------------------------------------------------------------------------------
def test_rtp_ports_are_released_after_each_call(app):
    low = 40000 + (int(time.time() * 1000) % 5000) * 2
    endpoint = start_endpoint(app, sip_rtp_low=low, sip_rtp_high=low + 1)  # room for one call
    try:
        for _ in range(3):
            uac = RawUac(endpoint.config.sip_port)
            assert uac.invite().startswith("SIP/2.0 200")
            assert uac.remote_rtp[1] == low
            assert uac.bye().startswith("SIP/2.0 200")
            uac.close()
        assert endpoint.phone.ports.in_use == 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", low))  # the socket is really closed
    finally:
        endpoint.stop()


# F9 ----------------------------------------------------------------------------------------------
def test_pyvoip_keeps_every_packet():
    client = _pyvoip_rtp()
    for i in range(500):
        client.parse_packet(rtp_packet(i, i * 160, b"\xff" * 160))
    assert len(client.pmin.buffer.getvalue()) >= 500 * 160  # grows for the whole call


@pytest.mark.slow
def test_memory_stays_flat_over_a_one_hour_call(endpoint):
    """An hour of RTP (180,000 packets) pushed through a live call as fast as it is absorbed."""
    uac = RawUac(endpoint.config.sip_port)
    try:
        assert uac.invite().startswith("SIP/2.0 200")
        payload = audioop.lin2ulaw(array.array("h", [3000, -3000] * 80).tobytes(), 2)
        target = uac.remote_rtp
        session = next(iter(endpoint.sessions.values()))
        stats = session.caller_leg.call.stream.stats

        def blast(start, count):
            for i in range(start, start + count):
                uac.rtp.sendto(rtp_packet(i, i * 160, payload), target)
                if i % 200 == 199:
                    wait_for(lambda: stats["samples_in"] + stats["gap_samples"] >= (i - 100) * 160, 5, 0.001)

        blast(0, 18000)  # the first six minutes warm every buffer up
        before = rss_mb()
        blast(18000, 162000)
        wait_for(lambda: stats["samples_in"] + stats["gap_samples"] >= 180000 * 160, 30)
        after = rss_mb()
        assert uac.bye().startswith("SIP/2.0 200")
        assert endpoint.wait_idle(20)
    finally:
        uac.close()
    record = endpoint.finished[-1]
    assert abs(record["recording_seconds"] - 3600.0) <= 0.1, record["stats"]
    assert after - before < 20, f"RSS grew {after - before:.1f} MB over 54 call-minutes"


# F11 ---------------------------------------------------------------------------------------------
def test_call_ids_and_tags_do_not_repeat_across_restarts():
    def client(cls):
        return cls("127.0.0.1", 5060, "hotline", "", phone=None, myIP="127.0.0.1", myPort=5060)

    assert client(SIP.SIPClient).gen_call_id() == client(SIP.SIPClient).gen_call_id()  # the defect
    ids = {client(HardenedSIPClient).gen_call_id() for _ in range(50)}
    assert len(ids) == 50
    a, b = client(HardenedSIPClient), client(HardenedSIPClient)
    assert a.gen_urn_uuid() == b.gen_urn_uuid()  # stable instance id: no stale registrations
    assert len({a.gen_tag() for _ in range(1000)}) == 1000 and a.tags == []


# F13 ---------------------------------------------------------------------------------------------
def test_answer_within_a_second_with_default_delay(app):
    delay = app.config["HOTLINE"].sip_answer_delay_ms / 1000
    endpoint = start_endpoint(app, answer_delay=delay)
    uac = RawUac(endpoint.config.sip_port)
    try:
        started = time.monotonic()
        assert uac.invite().startswith("SIP/2.0 200")
        assert time.monotonic() - started < 1.0
        uac.bye()
    finally:
        uac.close()
        endpoint.stop()


# F14 ---------------------------------------------------------------------------------------------
def test_compact_headers_and_bad_offers(endpoint):
    uac = RawUac(endpoint.config.sip_port)
    try:
        compact = (uac.request("INVITE", 1, uac.sdp()).replace("Via:", "v:").replace("From:", "f:")
                   .replace("To:", "t:").replace("Call-ID:", "i:").replace("Contact:", "m:")
                   .replace("Content-Type:", "c:").replace("Content-Length:", "l:")
                   .replace("CSeq:", "cseq:"))
        uac.send(compact)
        final = [m for m in uac.responses(1.0) if int(m.split()[1]) >= 200]
        assert final and final[0].startswith("SIP/2.0 200")
        uac.to_tag = final[0].split(";tag=")[1].split()[0] if ";tag=" in final[0] else ""
        uac.send(uac.request("ACK", 1, to_tag=True))
        assert uac.bye().startswith("SIP/2.0 200")

        for body in ("", uac.sdp("18").replace("PCMU", "G729").replace("a=rtpmap:0 G729/8000\r\n", "")):
            other = RawUac(endpoint.config.sip_port)
            other.send(other.request("INVITE", 1, body))
            codes = [m.split()[1] for m in other.responses(0.5)]
            other.close()
            assert codes == ["100", "488"], (body, codes)
    finally:
        uac.close()
