"""One test per outbound correction in telephony/sip/pyvoip/outbound.py (F16-F20): the pyVoIP
1.6.8 defect reproduced on the library, then our dialer against a scripted proxy on loopback UDP
(every byte it answers is chosen by the test). The same paths through a real Kamailio with SIPp
and baresip phones are in tests/test_bridge_failures.py and tests/test_bridge_softphone.py."""
from __future__ import annotations

import re
import socket
import threading
import time

import pytest

import telephony.sip.pyvoip.phone  # noqa: F401 - pyVoIP's import cycle
from pyVoIP import RTP, SIP
from tests.telephony_helpers import start_endpoint, wait_for

pytestmark = pytest.mark.sip


class ScriptedProxy:
    """A UDP socket playing the proxy and the phone behind it: tests read requests, send replies."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def recv(self, timeout: float = 10.0) -> tuple[str, tuple] | tuple[None, None]:
        self.sock.settimeout(timeout)
        try:
            data, addr = self.sock.recvfrom(65535)
            return data.decode(), addr
        except socket.timeout:
            return None, None

    def requests(self, method: str, timeout: float = 1.0) -> list[str]:
        out, deadline = [], time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            msg, _ = self.recv(left)
            if msg and msg.startswith(method + " "):
                out.append(msg)
        return out

    def reply(self, request: str, addr, code: int, reason: str, *, tag: str = "", body: str = "",
              cseq: str | None = None) -> None:
        head = request.split("\r\n\r\n")[0].split("\r\n")
        keep = [h for h in head if h.split(":")[0] in ("Via", "From", "Call-ID")]
        to = next(h for h in head if h.startswith("To:"))
        if tag and ";tag=" not in to:
            to += f";tag={tag}"
        lines = [f"SIP/2.0 {code} {reason}", *keep, to,
                 f"CSeq: {cseq}" if cseq else next(h for h in head if h.startswith("CSeq:")),
                 f"Contact: <sip:1001@127.0.0.1:{self.port}>"]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body)}")
        self.sock.sendto(("\r\n".join(lines) + "\r\n\r\n" + body).encode(), addr)

    def close(self) -> None:
        self.sock.close()


def answer_sdp(pt: int = 0, codec: str = "PCMU", port: int = 40000) -> str:
    return (f"v=0\r\no=op 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP {pt} 101\r\na=rtpmap:{pt} {codec}/8000\r\n"
            f"a=rtpmap:101 telephone-event/8000\r\n")


def header(msg: str, name: str) -> str:
    m = re.search(rf"^{name}:\s*(.*)$", msg, re.M)
    return m.group(1).strip() if m else ""


@pytest.fixture
def scripted(app):
    fake = ScriptedProxy()
    # peer mode with SIP_SERVER set: the dialer sends to the proxy, nothing needs a REGISTER
    ep = start_endpoint(app, sip_server="127.0.0.1", sip_server_port=fake.port)
    ep.dialer.no_response_timeout = 2.0
    yield ep, fake
    ep.stop()
    fake.close()


# F16 ---------------------------------------------------------------------------------------------
def test_pyvoip_ack_has_a_random_to_tag():
    client = SIP.SIPClient("127.0.0.1", 5060, "hotline", "x", phone=None, myIP="127.0.0.1",
                           myPort=5999, callCallback=None)
    ok = SIP.SIPMessage((
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKabc\r\n"
        "From: <sip:hotline@127.0.0.1>;tag=ours\r\nTo: <sip:1001@127.0.0.1>;tag=theirs\r\n"
        "Call-ID: c1\r\nCSeq: 1 INVITE\r\nContact: <sip:1001@127.0.0.1:7000>\r\nContent-Length: 0\r\n\r\n"
    ).encode())
    client.tagLibrary["c1"] = "ours"
    ack = client.gen_ack(ok)
    assert "tag=theirs" not in header(ack, "To")  # the defect: the ACK matches no dialog
    assert ack.startswith("ACK sip:1001@127.0.0.1 ")  # and goes to the To-URI, not the Contact


def test_dial_offer_and_answer_and_an_ack_inside_the_dialog(scripted):
    """F16 + F20: the offer lists PCMU, PCMA and telephone-event; the ACK carries the answer's
    To-tag and goes to its Contact; a retransmitted 200 is ACKed again; the answer's codec is used."""
    endpoint, fake = scripted
    result = endpoint.dialer.start("1001", 5)
    invite, addr = fake.recv()
    assert invite.startswith("INVITE sip:1001@127.0.0.1:") and "m=audio" in invite
    assert re.search(r"^m=audio \d+ RTP/AVP 0 8 101", invite, re.M)
    fake.reply(invite, addr, 180, "Ringing", tag="op1")
    assert wait_for(lambda: result.ringing, 3)
    fake.reply(invite, addr, 200, "OK", tag="op1", body=answer_sdp(8, "PCMA"))
    assert result.wait(10) and result.leg is not None
    ack, _ = fake.recv()
    assert ack.startswith(f"ACK sip:1001@127.0.0.1:{fake.port} SIP/2.0")
    assert header(ack, "To").endswith(";tag=op1") and header(ack, "CSeq") == "1 ACK"
    assert header(ack, "Call-ID") == header(invite, "Call-ID")
    fake.reply(invite, addr, 200, "OK", tag="op1", body=answer_sdp(8, "PCMA"))  # retransmission
    again, _ = fake.recv()
    assert again.startswith("ACK ") and header(again, "To").endswith(";tag=op1")
    leg = result.leg
    assert leg.stream.payload_type == 8 and leg.stream.remote == ("127.0.0.1", 40000)
    leg.hangup("test")
    bye, _ = fake.recv()
    assert bye.startswith(f"BYE sip:1001@127.0.0.1:{fake.port} ") and header(bye, "To").endswith("tag=op1")
    assert header(bye, "From").endswith(f"tag={leg.local_tag}") and header(bye, "CSeq") == "2 BYE"


# F17 ---------------------------------------------------------------------------------------------
def test_pyvoip_invite_blocks_without_a_provisional_response():
    fake = ScriptedProxy()
    client = SIP.SIPClient("127.0.0.1", fake.port, "hotline", "x", phone=None, myIP="127.0.0.1",
                           myPort=0, callCallback=None)
    client.s = client.out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.s.bind(("127.0.0.1", 0))
    client.NSD = True
    media = {40000: {0: RTP.PayloadType.PCMU}}
    thread = threading.Thread(target=lambda: client.invite("1001", media, RTP.TransmitType.SENDRECV),
                              daemon=True)
    try:
        thread.start()
        invite, addr = fake.recv()
        fake.reply(invite, addr, 486, "Busy Here", tag="x")  # a final answer without 100/180
        thread.join(1.5)
        assert thread.is_alive()  # the defect: invite() still waits in recv() for 100/180/401
    finally:
        client.NSD = False
        client.s.close()  # unblocks recv()
        fake.close()
    thread.join(2)


def test_dial_proxy_unreachable_retransmits_then_gives_up(scripted):
    endpoint, fake = scripted
    started = time.monotonic()
    result = endpoint.dialer.start("1001", 10)
    invites = fake.requests("INVITE", 1.8)
    assert result.wait(10) and result.failure == "proxy_unreachable"
    assert time.monotonic() - started < 4
    assert len(invites) >= 3 and len({header(i, "Via") for i in invites}) == 1  # same transaction
    assert endpoint.phone.ports.in_use == 0 and not endpoint.phone.calls


# F18 ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("code,reason,failure", [(404, "Not Found", "unregistered"),
                                                 (486, "Busy Here", "busy"),
                                                 (408, "Request Timeout", "no_answer"),
                                                 (480, "Temporarily Unavailable", "unregistered"),
                                                 (603, "Decline", "rejected")])
def test_dial_failures_are_mapped_and_acked(scripted, code, reason, failure):
    endpoint, fake = scripted
    result = endpoint.dialer.start("1001", 5)
    invite, addr = fake.recv()
    fake.reply(invite, addr, code, reason, tag="f1")  # no 100 first (pyVoIP: KeyError)
    assert result.wait(10) and result.failure == failure and result.sip_code == code
    ack, _ = fake.recv()
    assert ack.startswith("ACK sip:1001@") and header(ack, "Via") == header(invite, "Via")
    assert header(ack, "To").endswith("tag=f1") and header(ack, "CSeq") == "1 ACK"
    assert endpoint.phone.ports.in_use == 0


# F19 ---------------------------------------------------------------------------------------------
def test_dial_no_answer_is_cancelled_and_the_487_acked(scripted):
    endpoint, fake = scripted
    result = endpoint.dialer.start("1001", 1.0)
    invite, addr = fake.recv()
    fake.reply(invite, addr, 180, "Ringing", tag="r1")
    cancel, _ = fake.recv(10)
    assert cancel.startswith("CANCEL sip:1001@") and header(cancel, "Via") == header(invite, "Via")
    assert header(cancel, "CSeq") == "1 CANCEL" and ";tag=" not in header(cancel, "To")
    fake.reply(cancel, addr, 200, "OK")
    fake.reply(invite, addr, 487, "Request Terminated", tag="r1")
    assert result.wait(10) and result.failure == "no_answer"
    ack, _ = fake.recv()
    assert ack.startswith("ACK ") and header(ack, "Via") == header(invite, "Via")


def test_a_200_crossing_the_cancel_is_acked_and_hung_up(scripted):
    endpoint, fake = scripted
    result = endpoint.dialer.start("1001", 10)
    invite, addr = fake.recv()
    fake.reply(invite, addr, 180, "Ringing", tag="x1")
    threading.Thread(target=result.cancel, daemon=True).start()
    cancel, _ = fake.recv(10)
    assert cancel.startswith("CANCEL ")
    fake.reply(invite, addr, 200, "OK", tag="x1", body=answer_sdp())  # the phone answered anyway
    ack, _ = fake.recv()
    bye, _ = fake.recv()
    assert ack.startswith("ACK ") and bye.startswith("BYE ")
    assert result.wait(10) and result.leg is None and result.failure == "cancelled"


def test_a_cancel_before_the_phone_rang_is_sent_once_it_rings(scripted):
    """RFC 3261 9.1: no CANCEL before a provisional response, but the moment one arrives; the
    operator's phone must not ring on for a caller who is gone."""
    endpoint, fake = scripted
    result = endpoint.dialer.start("1001", 30)
    invite, addr = fake.recv()
    threading.Thread(target=result.cancel, daemon=True).start()
    early, _ = fake.recv(0.5)
    assert early is None or not early.startswith("CANCEL ")  # nothing rang yet: no CANCEL
    fake.reply(invite, addr, 180, "Ringing", tag="c1")
    cancel, _ = fake.recv(10)
    while cancel is not None and cancel.startswith("INVITE "):  # retransmissions sent before the 180
        cancel, _ = fake.recv(10)
    assert cancel is not None and cancel.startswith("CANCEL sip:1001@"), cancel
    assert header(cancel, "Via") == header(invite, "Via")
    fake.reply(cancel, addr, 200, "OK")
    fake.reply(invite, addr, 487, "Request Terminated", tag="c1")
    assert result.wait(10) and result.failure == "cancelled"
    ack, _ = fake.recv()
    assert ack.startswith("ACK ")


def test_stopping_the_endpoint_cancels_a_ringing_outbound_call(app):
    fake = ScriptedProxy()
    endpoint = start_endpoint(app, sip_server="127.0.0.1", sip_server_port=fake.port)
    try:
        result = endpoint.dialer.start("1001", 10)
        invite, addr = fake.recv()
        fake.reply(invite, addr, 180, "Ringing", tag="s1")
        assert wait_for(lambda: result.ringing, 3)
        stopper = threading.Thread(target=endpoint.stop)
        stopper.start()
        cancel, _ = fake.recv(10)
        assert cancel is not None and cancel.startswith("CANCEL ") and header(cancel, "Via") == header(invite, "Via")
        stopper.join(15)
        assert not stopper.is_alive()
    finally:
        fake.close()
