"""Corrections of pyVoIP 1.6.8 for calls we *place* (the operator leg, transfers), continuing the
list in ``telephony.sip.pyvoip.phone`` (F1-F15). Tests: tests/test_telephony_pyvoip_fixes_outbound.py
("bridge:" = tests/test_bridge_*.py, real Kamailio + SIPp/baresip).

F16 The ACK for an outbound call's 200 OK carries a freshly generated To-tag (``gen_ack`` calls
    ``gen_tag()``), so it matches no dialog: SIPp does not mind, a real phone (baresip) keeps
    re-sending 200 OK and hangs up after 32 s. -> the ACK is built from the dialog: the answer's
    To-tag, its Contact as R-URI, the INVITE's CSeq number, a new branch; a retransmitted 2xx is
    ACKed again.        test_pyvoip_ack_has_a_random_to_tag, bridge:test_baresip_operator_*
F17 ``invite()`` reads the SIP socket itself while the receive thread also reads it (one call in
    ten raised BlockingIOError under concurrency) and waits without a timeout for 100/180/401: a
    proxy that never answers blocks ``phone.call()`` forever. -> the INVITE is sent and every
    response arrives through the normal receive loop; the INVITE is retransmitted (Timer A) and
    with no response at all the dial ends as ``proxy_unreachable``.
                                        test_pyvoip_invite_blocks_*, test_dial_proxy_unreachable_*
F18 Final failure responses: a 404 not preceded by 100 makes ``phone.call()`` raise KeyError;
    486, 408, 480 and 603 are ignored (the call stays DIALING). -> every final response >= 300 is
    ACKed (same branch, RFC 3261 17.1.1.3) and mapped to a failure (busy, unregistered,
    no_answer, rejected).                                 test_dial_failures_are_mapped_*
F19 A ringing outbound call cannot be cancelled. -> CANCEL with the INVITE's branch once a
    provisional response arrived (RFC 3261 9.1); the 487 is ACKed; a 200 OK that crosses the
    CANCEL is ACKed and ended with BYE.                   test_dial_no_answer_is_cancelled_*
F20 ``phone.call()`` offers PCMU only and starts pyVoIP's own RTP clients (F9/F10 again).
    -> the offer lists PCMU, PCMA and telephone-event; the answer's codec drives our RtpStream
    on the shared MediaEngine.                                 test_dial_offer_and_answer_*
"""
from __future__ import annotations

import logging
import threading
import time

from pyVoIP.VoIP import CallState

from telephony.sip import sdp
from telephony.sip.pyvoip.phone import USER_AGENT, HardenedCall
from telephony.media.rtp import PCMA, PCMU, RtpStream

log = logging.getLogger("telephony.sip")

DTMF_PT = 101
T1 = 0.5
FAILURES = ("busy", "no_answer", "unregistered", "rejected", "proxy_unreachable", "cancelled")


def failure_for(code: int) -> str:
    """A final SIP failure code as the reason the operator leg did not come up."""
    if code in (486, 600):
        return "busy"
    if code in (404, 410, 480, 484, 604):
        return "unregistered"
    if code in (408, 487):
        return "no_answer"
    return "rejected"


def offer_sdp(session_id: int, version: int, ip: str, port: int) -> str:
    lines = ["v=0", f"o=hotline {session_id} {version} IN IP4 {ip}", "s=12345 hotline",
             f"c=IN IP4 {ip}", "t=0 0", f"m=audio {port} RTP/AVP {PCMU} {PCMA} {DTMF_PT}",
             f"a=rtpmap:{PCMU} PCMU/8000", f"a=rtpmap:{PCMA} PCMA/8000",
             f"a=rtpmap:{DTMF_PT} telephone-event/8000", f"a=fmtp:{DTMF_PT} 0-15",
             "a=ptime:20", "a=sendrecv"]
    return "\r\n".join(lines) + "\r\n"


class OutboundCall(HardenedCall):
    """A call we place through the proxy (UAC). Shares the UAS call's media, BYE and ending code;
    only the INVITE transaction and the dialog's direction differ."""

    def __init__(self, phone, number: str, stream: RtpStream, session_id: int, *,
                 display: str = "", target_uri: str | None = None, from_user: str | None = None) -> None:
        sip = phone.sip
        self.phone, self.sip = phone, sip
        self.request = None  # no request of theirs: we sent the INVITE
        self.state = CallState.DIALING
        self.call_id = sip.gen_call_id()
        self.session_id, self.sdp_version = str(session_id), session_id
        self.myIP = phone.myIP
        self.stream = stream
        self.offer = sdp.Offer(address=phone.myIP, port=stream.port, payload_types=[PCMU, PCMA],
                               rtpmap={PCMU: "PCMU", PCMA: "PCMA"})
        self.RTPClients: list = []
        self.assignedPorts = {stream.port: {}}
        self.lock = threading.Lock()
        self.acked = True  # our own ACK: nothing for retransmit_answer() to do
        self.answer_text = ""
        self.answered_at: float | None = None
        self.retransmits = 0
        self.end_cause: str | None = None
        self.app = None
        self.number = number
        self.caller, self.called = sip.username or "hotline", number
        host, port = sip.server, sip.port
        self.target_uri = target_uri or f"sip:{number}@{host}:{port}"
        self.remote_contact = self.target_uri
        self.route_set: list[str] = []
        self.local_tag = sip.gen_tag()
        self.to_tag = ""  # the remote party's tag, from its answer
        self.branch = sip.gen_branch()
        self.cseq = 1
        shown = f'"{display}" ' if display else ""
        # ``from_user``: the number the other party sees (the hotline's, for calls to citizens)
        self.local_party = f"{shown}<sip:{from_user or self.caller}@{self.myIP}:{sip.myPort}>;tag={self.local_tag}"
        self.remote_party = f"<sip:{number}@{host}:{port}>"
        self.invite_text = self._invite()
        # transaction state (F17-F19)
        self.final_code: int | None = None
        self.provisional = threading.Event()
        self.done = threading.Event()
        self.ringing = False
        self.failure: str | None = None
        self.cancel_requested = False
        self.ok_retransmits = 0  # 200 OK seen again after our ACK: the phone did not accept it
        self.ended_callbacks: list = []

    # -- requests -----------------------------------------------------------------------------------
    def _headers(self, method: str, uri: str, branch: str, cseq: int, to: str) -> list[str]:
        return [f"{method} {uri} SIP/2.0",
                f"Via: SIP/2.0/UDP {self.myIP}:{self.sip.myPort};branch={branch};rport",
                "Max-Forwards: 70", f"From: {self.local_party}", f"To: {to}",
                f"Call-ID: {self.call_id}", f"CSeq: {cseq} {method}"]

    def _invite(self) -> str:
        body = offer_sdp(int(self.session_id), self.sdp_version, self.myIP, self.stream.port)
        lines = self._headers("INVITE", self.target_uri, self.branch, 1, self.remote_party) + [
            f"Contact: <sip:{self.caller}@{self.myIP}:{self.sip.myPort}>",
            f"User-Agent: {USER_AGENT}", "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS",
            "Content-Type: application/sdp", f"Content-Length: {len(body.encode())}"]
        return "\r\n".join(lines) + "\r\n\r\n" + body

    def send_invite(self) -> None:
        self.sip.send_request(self.invite_text, self.target_uri, None)

    def _send_ack_2xx(self) -> None:
        """F16: ACK inside the dialog (its own transaction, new branch, remote tag and target)."""
        lines = self._headers("ACK", self.remote_contact, self.sip.gen_branch(), 1, self.remote_party)
        lines += [f"Route: {r}" for r in self.route_set]
        lines += [f"User-Agent: {USER_AGENT}", "Content-Length: 0"]
        self.sip.send_request("\r\n".join(lines) + "\r\n\r\n", self.remote_contact, None)

    def _send_ack_failure(self, response) -> None:
        """F18: the ACK of a non-2xx final response belongs to the INVITE transaction."""
        lines = self._headers("ACK", self.target_uri, self.branch, 1, response.header("To"))
        lines += [f"User-Agent: {USER_AGENT}", "Content-Length: 0"]
        self.sip.send_request("\r\n".join(lines) + "\r\n\r\n", self.target_uri, None)

    def _send_cancel(self) -> None:
        lines = self._headers("CANCEL", self.target_uri, self.branch, 1, self.remote_party)
        lines += [f"User-Agent: {USER_AGENT}", "Content-Length: 0"]
        self.sip.send_request("\r\n".join(lines) + "\r\n\r\n", self.target_uri, None)

    # -- the INVITE transaction ---------------------------------------------------------------------
    def run(self, ring_timeout: float, no_response_timeout: float = 4.0) -> None:
        """Send the INVITE and wait for its outcome (call from a worker thread, never the SIP
        thread). Retransmits until a provisional response; cancels when ringing too long."""
        started = time.monotonic()
        self.send_invite()
        interval, next_retransmit = T1, started + T1
        while not self.done.is_set():
            now = time.monotonic()
            if not self.provisional.is_set():
                if now - started >= no_response_timeout:
                    self._fail(self.failure if self.cancel_requested else "proxy_unreachable", None)
                    return
                if now >= next_retransmit:
                    self.send_invite()
                    interval = min(interval * 2, 4.0)
                    next_retransmit = now + interval
            elif self.cancel_requested and self._cancel_sent_at is None:
                self._cancel_sent_at = now  # cancelled before it rang: CANCEL now that we may (9.1)
                self._send_cancel()
            elif now - started >= ring_timeout and not self.cancel_requested:
                self._cancel("no_answer")
            elif self.cancel_requested and now - self._cancel_sent_at > 4.0:
                self._fail(self.failure or "cancelled", None)  # no 487 came: give up locally
                return
            self.done.wait(0.05)

    def cancel(self, reason: str = "cancelled") -> None:  # noqa: D401 - not VoIPCall.cancel(request)
        """Stop ringing the other party (F19). Before any provisional response a CANCEL may not be
        sent (RFC 3261 9.1): it goes out as soon as one arrives, so the phone does not ring on for
        a call that is gone; a 2xx that crosses it is ACKed and hung up. No response at all: the
        dial ends locally after the no-response timeout."""
        with self.lock:
            if self.state not in (CallState.DIALING, CallState.RINGING):
                return
        if self.provisional.is_set():
            self._cancel(reason)
        else:
            self.failure, self._cancel_sent_at, self.cancel_requested = reason, None, True

    def _cancel(self, reason: str) -> None:
        self.cancel_requested, self._cancel_sent_at = True, time.monotonic()
        self.failure = reason
        self._send_cancel()

    def _fail(self, failure: str, code: int | None) -> None:
        with self.lock:
            if self.state in (CallState.ANSWERED, CallState.ENDED):
                return
            self.state = CallState.ENDED
            self.failure, self.final_code = failure, code
        log.info("dial.failed number=%s failure=%s code=%s call_id=%s", self.number, failure, code,
                 self.call_id)
        self._finish(failure)

    def on_response(self, msg) -> None:
        """Every response for this Call-ID, on the SIP receive thread."""
        try:
            code = int(msg.start_line.split()[1])
        except (IndexError, ValueError):
            return
        method = msg.header("CSeq").split()[-1].upper() if msg.header("CSeq") else ""
        if method != "INVITE":
            return  # 200 for our CANCEL or BYE: nothing to do
        if code < 200:
            self.provisional.set()
            if code > 100:
                with self.lock:
                    if self.state == CallState.DIALING:
                        self.state = CallState.RINGING
                self.ringing = True
            return
        if code < 300:
            self._on_2xx(msg)
            return
        self._send_ack_failure(msg)
        failure = self.failure if (self.cancel_requested and code == 487) else failure_for(code)
        self._fail(failure or "cancelled", code)

    def _on_2xx(self, msg) -> None:
        self.provisional.set()
        with self.lock:
            first = self.state in (CallState.DIALING, CallState.RINGING)
            if first:
                self.to_tag = sdp.tag_of(msg.header("To"))
                self.remote_party = msg.header("To")  # with their tag: the dialog's remote side
                self.remote_contact = sdp.uri_of(msg.header("Contact")) or self.target_uri
                self.route_set = list(reversed(sdp.header_values(msg.raw_headers, "Record-Route")))
        if not first:
            if self.state == CallState.ANSWERED or self.final_code == 200:
                self.ok_retransmits += 1
            self._send_ack_2xx()  # retransmitted 2xx (or one after we gave up): ACK it again
            return
        self._send_ack_2xx()
        answer = sdp.parse_offer(msg.raw_body)
        pt = answer.choose_codec() if answer else None
        if self.cancel_requested or answer is None or pt is None:
            with self.lock:
                self.state, self.final_code = CallState.ANSWERED, 200
            self.failure = self.failure or ("cancelled" if self.cancel_requested else "rejected")
            self.hangup("cancelled" if self.cancel_requested else "bad_answer")
            return
        stream = self.stream
        stream.remote = (answer.address, answer.port)
        stream.payload_type = pt
        stream.dtmf_payload_type = answer.dtmf_payload_type()
        self.offer = answer
        with self.lock:
            self.state, self.final_code = CallState.ANSWERED, 200
            self.answered_at = time.monotonic()
            self.phone.media.add(stream)
            stream.sending = True
        log.info("dial.answered number=%s call_id=%s codec=%s", self.number, self.call_id,
                 answer.codec_name(pt))
        self.done.set()

    # -- ending -------------------------------------------------------------------------------------
    def _finish(self, cause: str) -> None:
        self.end_cause = cause
        self.phone.media.remove(self.stream)
        self.phone.ports.release(self.stream.port)
        self.phone.calls.pop(self.call_id, None)
        self.done.set()
        for callback in list(self.ended_callbacks):
            try:
                callback(self, cause)
            except Exception:
                log.exception("dial.ended_callback_failed call_id=%s", self.call_id)

    def bye(self, request=None) -> None:
        """The other party hung up (its BYE) — the operator or department leg ends."""
        with self.lock:
            was = self.state
            self.state = CallState.ENDED
            self.phone.media.remove(self.stream)
        if request is not None:
            self.sip.send_response(request, self.sip.response(request, 200, "OK"))
        if was != CallState.ENDED:
            self._finish("remote_hangup")

    def deny(self, code: int = 503, reason: str = "Service Unavailable") -> None:
        """``HardenedPhone.stop()`` ends ringing calls with deny(): ours are cancelled instead."""
        self.cancel("shutdown")

    def retransmit_answer(self) -> None:
        pass
