"""pyVoIP 1.6.8 corrections for calls we answer (subclasses, no global patch; calls we place: F16-F20
in outbound.py). Each entry: what pyVoIP does, what we do, the reproducing test
(tests/test_telephony_pyvoip_fixes.py; "calls:" = tests/test_telephony_calls.py, SIPp).

F1  RTP receiver dies on an empty/short datagram or an RFC 4733 event code > 15 (IndexError kills
    its thread, the call stays ANSWERED in silence). -> RTP goes through ``telephony.media.rtp``: every
    datagram is validated, bad ones are counted and dropped.   test_bad_rtp_*, calls:test_bad_rtp_*
F2  A re-INVITE calls ``gen_ms()`` which ``start()``s the RTP clients again: a second transmitter
    (87 packets/s, garbled audio). -> ``HardenedCall.renegotiate`` only updates the remote address
    and answers with the same SDP.            test_reinvite_*, calls:test_reinvite_keeps_outgoing_*
F3  CANCEL while ringing: 200 for the CANCEL, then the INVITE is answered anyway (no 487).
    -> the call ends with 487 Request Terminated and the answer timer finds it ENDED. test_cancel_*
F4  PCMA is encoded with ``lin2ulaw``. -> ``rtp.encode`` uses A-law for payload type 8.  test_pcma_*
F5  OPTIONS is dropped (not in SIPCompatibleMethods: qualify keepalives fail); BYE/CANCEL for an
    unknown dialog gets 200; other methods get nothing. -> 200 for OPTIONS, 481 for unknown
    dialogs, 501 for unsupported methods, 488 for offers without G.711.   test_options_*
F6  Responses go to the configured (server, port), not to the request's Via. -> responses follow
    the top Via (RFC 3261 18.2.2) and rport/source (RFC 3581); in-dialog requests go to the remote
    Contact (peer mode) or the proxy (register mode).      test_responses_follow_via_*
F7  The end of a call is not detected exactly: after a BYE, reads return padding until the state
    flips, so loops record fake silence. -> audio is pushed from received packets only; the stream
    is closed inside the BYE handler before 200 is sent.          calls:test_bye_ends_the_recording_*
F8  RTP ports of inbound calls are never released (``assignedPorts`` stays empty for them, the
    sockets stay open). -> ``rtp.PortPool``; a call releases its port when it ends.
                                                                    test_rtp_ports_are_released_*
F9  Every RTP packet of the call is kept in ``RTPPacketManager`` (~360 MB per call-hour).
    -> nothing is buffered; audio goes straight to the session's sinks.
                                        test_pyvoip_keeps_every_packet, test_memory_stays_flat_*
F10 The transmitter sleeps relative to the previous packet: 20.08-20.10 ms per frame (~270 ms/min
    drift). -> one absolute 20 ms clock for all streams (``rtp.MediaEngine``).  bench/sip_load.py,
    calls:test_reinvite_keeps_outgoing_*
F11 Call-IDs are sha256(counter from 1): identical after every restart; tags are kept in an
    ever-growing list scanned on each new tag; a new +sip.instance at every start. -> uuid4
    Call-IDs and tags, a stable instance id derived from the account.  test_call_ids_and_tags_*
F12 ``read_audio`` returns 8-bit linear samples (lossy). -> sinks receive 16-bit PCM decoded from
    the G.711 payload (``rtp.decode``).   test_pcma_is_encoded_*, calls:test_recorded_call_matches_*
F13 Answering waits on a hard-coded ``Timer(1, ...)`` and the callback thread must block for the
    whole call; SIP traffic is ignored for 1 s after ``start()``; ``start()`` always REGISTERs.
    -> the answer delay is configurable (SIP_ANSWER_DELAY_MS), no thread per call, the receive
    loop starts at once, peer mode never REGISTERs.                     test_answer_within_a_second_*
F14 The parser needs "Name: value", case-sensitive names, no compact headers; an INVITE without
    SDP gets 180 then silence. -> datagrams are normalised first (``sdp.normalize``); no usable
    offer -> 488.                                                      test_compact_headers_*
F15 REGISTER (every ~2 minutes in register mode) reads the socket directly and takes the next
    datagram as the registrar's answer: a request arriving meanwhile (an INVITE!) is lost and the
    registration counted as failed. -> while pyVoIP waits, requests and other responses are handed
    to the normal handlers (``register.DispatchingSocket``).
                                        tests/test_telephony_register.py:test_requests_during_register_*
F22 Next to nothing is validated: an INVITE without Call-ID/From took an RTP port and then raised
    KeyError (the port leaked: 3 datagrams blocked a 3-port range); INVITEs without Via/CSeq, with
    bad Content-Length or SDP became calls and draft tickets; FOO and SIP/3.0 got no answer. ->
    every datagram is checked before it is parsed or anything allocated (400 with the reason, 501,
    505, 513, or dropped: ``validate``); call setup releases its port on any error.
                                        tests/test_telephony_sip_validation.py
"""
from __future__ import annotations

import logging
import select
import threading
import time
import uuid

import pyVoIP
from pyVoIP.VoIP import CallState, InvalidStateError, VoIPCall, VoIPPhone  # first: import cycle
from pyVoIP import SIP
from pyVoIP.VoIP.status import PhoneStatus

from telephony.sip.pyvoip import validate as validate
from telephony.sip import sdp
from telephony.sip.pyvoip.register import ResilientRegistration, DispatchingSocket
from telephony.media.rtp import PCMA, MediaEngine, PortPool, RtpStream

log = logging.getLogger("telephony.sip")

KNOWN_METHODS = ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "INFO", "NOTIFY", "REFER", "MESSAGE",
                 "UPDATE", "PRACK", "SUBSCRIBE", "REGISTER", "PUBLISH"]
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS"
USER_AGENT = f"12345-hotline (pyVoIP {pyVoIP.__version__}, hardened)"


class HardenedSIPMessage(SIP.SIPMessage):
    """F5/F14: knows every method name and parses a normalised copy of the datagram."""

    def __init__(self, data: bytes, source: tuple[str, int] | None = None):
        self.source = source
        self.start_line, self.raw_headers, self.raw_body = sdp.split_message(data)
        super().__init__(data)

    def parse(self, data: bytes) -> None:
        """pyVoIP's SDP parser raises on bodies it does not expect (an rtpmap for a payload type
        not on the m-line...): the headers are then parsed alone and ``sdp.parse_offer`` reads the
        raw body."""
        self.SIPCompatibleMethods = KNOWN_METHODS
        try:
            super().parse(sdp.normalize(data))
        except SIP.SIPParseError:
            raise
        except Exception:  # noqa: BLE001
            self.headers, self.body = {"Via": []}, {}
            super().parse(sdp.normalize(data, keep_body=False))

    def header(self, name: str, default: str = "") -> str:
        return sdp.first(self.raw_headers, name, default)


class HardenedSIPClient(ResilientRegistration, SIP.SIPClient):  # F21: register.py
    def __init__(self, *args, mode: str = "peer", **kwargs):
        self.mode = mode
        self.refused: dict = {}  # F22: refused messages by response code ("dropped": no response)
        super().__init__(*args, **kwargs)

    # F11 -----------------------------------------------------------------------------------------
    def gen_call_id(self) -> str:
        return f"{uuid.uuid4().hex}@{self.myIP}"

    def gen_tag(self) -> str:
        return uuid.uuid4().hex[:16]

    def gen_urn_uuid(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sip:{self.username}@{self.server}/{self.myIP}"))

    # F13 -----------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.NSD:
            raise RuntimeError("SIP client already started")
        self.NSD = True
        self.s = SIP.socket.socket(SIP.socket.AF_INET, SIP.socket.SOCK_DGRAM)
        self.s.setsockopt(SIP.socket.SOL_SOCKET, SIP.socket.SO_RCVBUF, 1 << 20)  # bursts, floods
        self.s.bind((self.myIP, self.myPort))
        self.out = self.s
        if self.mode == "register":
            self.s = self.out = DispatchingSocket(self.s, self)
        self._loop = threading.Thread(target=self.recv_loop, name="sip-recv", daemon=True)
        self._loop.start()
        if self.mode == "register":
            self.register()
        else:
            self.phone._status = PhoneStatus.REGISTERED

    def stop(self) -> None:
        if not self.NSD:
            return
        if self.mode == "register":
            if self.registerThread:
                self.registerThread.cancel()
            try:  # not registered (registrar down, F21): nothing to remove, do not wait for it
                if self.phone._status == PhoneStatus.REGISTERED:
                    self.deregister()
            except Exception:  # noqa: BLE001 - shutting down anyway
                log.warning("sip.deregister_failed")
        self.NSD = False
        self._close_sockets()

    def recv_loop(self) -> None:
        """Waits in select() instead of polling every 10 ms; yields the socket to REGISTER."""
        while self.NSD:
            try:
                ready, _, _ = select.select([self.s], [], [], 0.5)
            except (OSError, ValueError):
                return
            if not ready:
                continue
            with self.recvLock:
                try:
                    self.s.setblocking(False)
                    self.recv()
                except BlockingIOError:
                    pass
                except OSError:
                    if not self.NSD:
                        return

    def recv(self) -> None:
        raw, source = self.s.recvfrom(65535)
        if raw.strip(b"\r\n\x00 "):  # else a keepalive
            self.dispatch(raw, source)

    def dispatch(self, raw: bytes, source) -> None:
        """F22: validated first (``validate``); nothing is allocated for a message
        that fails, it gets its RFC 3261 error response or is dropped."""
        verdict = validate.inspect(raw, source)
        if not verdict.ok:
            validate.refuse(self, verdict, source)
            return
        try:
            message = HardenedSIPMessage(verdict.data, source)
        except Exception as exc:  # noqa: BLE001 - malformed datagrams are answered, never fatal
            validate.refuse(self, verdict.reject(400, "Unparseable Message") if verdict.is_request
                            and verdict.method != "ACK" else verdict, source, str(exc))
            return
        try:
            if message.type == SIP.SIPMessageType.MESSAGE:
                self.phone.handle_request(message)
            else:
                self.phone.handle_response(message)
        except Exception:
            log.exception("sip.handler_failed start=%s", message.start_line)

    # F6 ------------------------------------------------------------------------------------------
    def response(self, request: HardenedSIPMessage, code: int, reason: str, *, to_tag: str = "",
                 body: str = "", extra: list[str] | None = None) -> str:
        lines = [f"SIP/2.0 {code} {reason}"]
        for name, value in request.raw_headers:
            if name in ("Via", "From", "Call-ID", "CSeq", "Record-Route"):
                lines.append(f"{name}: {value}")
            elif name == "To":
                if to_tag and not sdp.tag_of(value):
                    value = f"{value};tag={to_tag}"
                lines.append(f"To: {value}")
        if code < 300 or code >= 700:
            lines.append(f"Contact: <sip:{self.username or 'hotline'}@{self.myIP}:{self.myPort}>")
        lines += [f"User-Agent: {USER_AGENT}", f"Allow: {ALLOW}"] + list(extra or [])
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        return "\r\n".join(lines) + "\r\n\r\n" + body

    def send_response(self, request: HardenedSIPMessage, text: str) -> None:
        target = sdp.via_target(request.header("Via"), request.source)
        self.out.sendto(text.encode("utf-8"), target)

    def send_request(self, text: str, request_uri: str, source: tuple[str, int] | None) -> None:
        if self.mode == "register":
            target = (self.server, self.port)
        else:
            try:
                target = sdp.hostport_of_uri(request_uri)
            except ValueError:
                target = source
        self.out.sendto(text.encode("utf-8"), target)


class HardenedCall(VoIPCall):
    """One SIP dialog we answered. Built without VoIPCall.__init__ (which would start pyVoIP's own
    RTP clients); keeps the attribute names pyVoIP code and users expect."""

    def __init__(self, phone: "HardenedPhone", request: HardenedSIPMessage, offer: sdp.Offer,
                 stream: RtpStream, session_id: int):
        self.phone, self.sip, self.request = phone, phone.sip, request
        self.state = CallState.RINGING
        self.call_id = request.headers["Call-ID"]
        self.session_id, self.sdp_version = str(session_id), session_id
        self.myIP = phone.myIP
        self.offer, self.stream = offer, stream
        self.RTPClients: list = []
        self.assignedPorts = {stream.port: {}}
        self.to_tag = phone.sip.gen_tag()
        self.lock = threading.Lock()
        self.acked = False
        self.answer_text = ""
        self.answered_at: float | None = None
        self.retransmits = 0
        self.cseq = 1
        self.end_cause: str | None = None
        self.caller = sdp.user_of(request.header("From")) or request.headers["From"].get("number") or ""
        self.called = sdp.user_of(request.header("To")) or ""
        self.remote_contact = sdp.uri_of(request.header("Contact")) or sdp.uri_of(request.header("From"))
        self.route_set = sdp.header_values(request.raw_headers, "Record-Route")
        self.local_party, self.remote_party = f"{request.header('To')};tag={self.to_tag}", request.header("From")
        self.app = None  # the owner (telephony.media.session.CallSession), set by the endpoint

    # -- answering -------------------------------------------------------------------------------
    def _sdp(self) -> str:
        pt = self.stream.payload_type
        return sdp.answer_sdp(int(self.session_id), self.sdp_version, self.myIP, self.stream.port,
                              pt, self.offer.codec_name(pt), self.stream.dtmf_payload_type)

    def answer(self, on_answered=None) -> None:
        """F3/F13: answers only a call that is still ringing (a CANCEL may have won the race).
        ``on_answered`` runs under the call's lock, so a BYE racing the 200 OK finds it done."""
        with self.lock:
            if self.state != CallState.RINGING:
                raise InvalidStateError("Call is not ringing")
            self.answer_text = self.sip.response(self.request, 200, "OK", to_tag=self.to_tag,
                                                 body=self._sdp())
            self.phone.media.add(self.stream)
            self.stream.sending = True
            self.state = CallState.ANSWERED
            self.answered_at = time.monotonic()
            if on_answered is not None:
                on_answered()
        self.sip.send_response(self.request, self.answer_text)

    def retransmit_answer(self) -> None:
        """RFC 3261 13.3.1.4: resend 200 OK until the ACK arrives (T1 doubling, 7 times at most)."""
        if self.state != CallState.ANSWERED or self.acked or not self.answered_at:
            return
        due = 0.5 * (2 ** (self.retransmits + 1) - 1)
        if time.monotonic() - self.answered_at >= due and self.retransmits < 7:
            self.retransmits += 1
            self.sip.send_response(self.request, self.answer_text)

    def renegotiate(self, request: HardenedSIPMessage) -> None:
        """F2: a re-INVITE moves the remote media address; it never starts another transmitter."""
        offer = sdp.parse_offer(request.raw_body)
        if offer is not None:
            self.stream.remote = (offer.address, offer.port)
        self.sdp_version += 1
        self.sip.send_response(request, self.sip.response(request, 200, "OK", body=self._sdp()))

    # -- ending ----------------------------------------------------------------------------------
    def cancel(self, cancel_request: HardenedSIPMessage) -> bool:
        """F3: CANCEL of a ringing call -> 200 (CANCEL) + 487 (INVITE); False if already answered."""
        with self.lock:
            if self.state != CallState.RINGING:
                return False
            self.state = CallState.ENDED
        self._finish("cancelled")
        self.sip.send_response(cancel_request, self.sip.response(cancel_request, 200, "OK"))
        self.sip.send_response(self.request, self.sip.response(
            self.request, 487, "Request Terminated", to_tag=self.to_tag))
        return True

    def bye(self, request: HardenedSIPMessage | None = None) -> None:
        """F7: stop media first, then confirm; nothing is recorded after the BYE."""
        with self.lock:
            was = self.state
            self.state = CallState.ENDED
            self.phone.media.remove(self.stream)
        if was != CallState.ENDED:
            self._finish("caller_hangup")
        if request is not None:
            self.sip.send_response(request, self.sip.response(request, 200, "OK"))

    def hangup(self, cause: str = "hotline_hangup") -> None:
        with self.lock:
            if self.state != CallState.ANSWERED:
                raise InvalidStateError("Call is not answered")
            self.state = CallState.ENDED
            self.phone.media.remove(self.stream)
        self.cseq += 1
        route = [f"Route: {r}" for r in self.route_set]
        text = "\r\n".join([
            f"BYE {self.remote_contact} SIP/2.0",
            f"Via: SIP/2.0/UDP {self.myIP}:{self.sip.myPort};branch={self.sip.gen_branch()};rport",
            "Max-Forwards: 70",
            f"From: {self.local_party}", f"To: {self.remote_party}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {self.cseq} BYE", *route,
            f"Contact: <sip:{self.sip.username or 'hotline'}@{self.myIP}:{self.sip.myPort}>",
            f"User-Agent: {USER_AGENT}", "Content-Length: 0"]) + "\r\n\r\n"
        self.sip.send_request(text, self.remote_contact, getattr(self.request, "source", None))
        self._finish(cause)

    def deny(self, code: int = 486, reason: str = "Busy Here") -> None:
        with self.lock:
            if self.state != CallState.RINGING:
                raise InvalidStateError("Call is not ringing")
            self.state = CallState.ENDED
        self.sip.send_response(self.request, self.sip.response(self.request, code, reason,
                                                               to_tag=self.to_tag))
        self._finish("rejected")

    def _finish(self, cause: str) -> None:
        """F8: the stream's socket is closed and its port returned to the pool."""
        self.end_cause = cause
        self.phone.media.remove(self.stream)
        self.phone.ports.release(self.stream.port)
        self.phone.calls.pop(self.call_id, None)
        self.sip.tagLibrary.pop(self.call_id, None)
        self.phone.listener.on_call_ended(self, cause)

    # -- audio -----------------------------------------------------------------------------------
    def write_audio(self, data: bytes) -> None:
        """16-bit 8 kHz PCM (not pyVoIP's 8-bit format), sent on the fixed 20 ms clock."""
        self.stream.play(data)

    def read_audio(self, length=160, blocking=True) -> bytes:
        raise NotImplementedError("audio is pushed to the call's sinks (F7/F9/F12)")

    def __del__(self):  # VoIPCall.__del__ would release ports it never had
        return None


class HardenedPhone(VoIPPhone):
    """The endpoint's SIP user agent: peer mode (no REGISTER) or registered at a PBX/proxy.

    ``listener`` receives ``on_incoming(call)`` for each new call (it decides when to answer) and
    ``on_call_ended(call, cause)``; both run on the SIP thread and must return quickly.
    """

    def __init__(self, *, host: str, port: int, rtp_low: int, rtp_high: int, mode: str, server: str,
                 server_port: int, user: str, password: str, listener, media: MediaEngine | None = None):
        if host in ("0.0.0.0", ""):
            raise ValueError("SIP_HOST must be a concrete address (it is also advertised in SDP)")
        super().__init__(server or host, server_port, user or "hotline", password, myIP=host,
                         callCallback=None, sipPort=port, rtpPortLow=rtp_low, rtpPortHigh=rtp_high)
        self.sip = HardenedSIPClient(server or host, server_port, user or "hotline", password,
                                     phone=self, myIP=host, myPort=port, callCallback=None,
                                     fatalCallback=self.fatal, mode=mode)
        self.mode = mode
        self.listener = listener
        self.media = media or MediaEngine()
        self.ports = PortPool(rtp_low, rtp_high)
        self.calls: dict[str, HardenedCall] = {}
        self._session_ids = iter(range(int(time.time()) % 1_000_000, 10**12))
        self.media.tick_listeners.append(self._tick)

    def start(self) -> None:
        self.media.start()
        self._status = PhoneStatus.REGISTERING
        try:
            self.sip.start()
        except Exception:
            self._status = PhoneStatus.FAILED
            self.sip.stop()
            raise
        self.NSD = True

    def stop(self, failed: bool = False) -> None:
        for call in list(self.calls.values()):
            try:
                if call.state == CallState.ANSWERED:
                    call.hangup("shutdown")
                elif call.state == CallState.RINGING:
                    call.deny(503, "Service Unavailable")
            except InvalidStateError:
                pass
        self.sip.stop()
        self.media.stop()
        self.NSD = False
        self._status = PhoneStatus.FAILED if failed else PhoneStatus.INACTIVE

    def _tick(self) -> None:
        for call in list(self.calls.values()):
            call.retransmit_answer()
        self.listener.on_tick()

    # -- requests --------------------------------------------------------------------------------
    def handle_request(self, msg: HardenedSIPMessage) -> None:
        method = msg.method
        call = self.calls.get(msg.headers.get("Call-ID", ""))
        sip = self.sip
        if method == "INVITE":
            if call is None:
                self._new_call(msg)
            elif call.state == CallState.ANSWERED and sdp.tag_of(msg.header("To")):
                call.renegotiate(msg)
            elif call.state == CallState.RINGING:  # retransmitted INVITE
                sip.send_response(msg, sip.response(msg, 180, "Ringing", to_tag=call.to_tag))
        elif method == "ACK":
            if call is not None:
                call.acked = True
        elif method == "BYE":
            if call is None:
                sip.send_response(msg, sip.response(msg, 481, "Call/Transaction Does Not Exist"))
            else:
                call.bye(msg)
        elif method == "CANCEL":
            if call is None:
                sip.send_response(msg, sip.response(msg, 481, "Call/Transaction Does Not Exist"))
            elif not call.cancel(msg):
                sip.send_response(msg, sip.response(msg, 200, "OK"))  # too late: no effect
        elif method == "OPTIONS":
            sip.send_response(msg, sip.response(msg, 200, "OK", extra=["Accept: application/sdp"]))
        else:
            sip.send_response(msg, sip.response(msg, 501, "Not Implemented"))

    def handle_response(self, msg: HardenedSIPMessage) -> None:
        """Calls we placed handle their responses (outbound.py); ours to BYE need nothing."""
        call = self.calls.get(msg.headers.get("Call-ID", ""))
        if hasattr(call, "on_response"):
            call.on_response(msg)

    def _new_call(self, msg: HardenedSIPMessage) -> None:
        sip = self.sip
        sip.send_response(msg, sip.response(msg, 100, "Trying"))
        offer = sdp.parse_offer(msg.raw_body)
        pt = offer.choose_codec() if offer else None
        if offer is None or pt is None:
            warning = 'Warning: 304 hotline "G.711 audio offer required"'
            sip.send_response(msg, sip.response(msg, 488, "Not Acceptable Here", to_tag=sip.gen_tag(),
                                                extra=[warning]))
            return
        try:
            stream = self.ports.open(self.myIP, lambda port: RtpStream(
                self.myIP, port, (offer.address, offer.port),
                PCMA if offer.codec_name(pt) == "PCMA" else 0, offer.dtmf_payload_type()))
        except RuntimeError:
            log.error("sip.no_rtp_port call_id=%s", msg.headers.get("Call-ID"))
            sip.send_response(msg, sip.response(msg, 503, "Service Unavailable", to_tag=sip.gen_tag()))
            return
        try:  # F8/F22: the port goes back to the pool on every error path until the call owns it
            stream.payload_type = pt
            call = HardenedCall(self, msg, offer, stream, next(self._session_ids))
            self.calls[call.call_id] = call
            sip.tagLibrary[call.call_id] = call.to_tag
        except Exception:
            self.media.remove(stream)
            self.ports.release(stream.port)
            log.exception("sip.call_setup_failed start=%s", msg.start_line)
            sip.send_response(msg, sip.response(msg, 500, "Server Internal Error", to_tag=sip.gen_tag()))
            return
        sip.send_response(msg, sip.response(msg, 180, "Ringing", to_tag=call.to_tag))
        try:
            self.listener.on_incoming(call)
        except Exception:
            log.exception("sip.listener_failed call_id=%s", call.call_id)
            call.deny(500, "Server Internal Error")
