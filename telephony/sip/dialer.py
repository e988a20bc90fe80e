"""Calls the hotline places through the SIP proxy: the operator leg, departments, emergency numbers.

``Dialer.dial(extension, ring_timeout)`` blocks until the other party answered or the dial failed
(run it in a worker thread, never on the SIP or media thread); ``Dialer.start`` returns at once
with a ``DialResult`` to ``wait()`` on or ``cancel()``. The SIP work (F16-F20) is in
``telephony.sip.pyvoip.outbound``.
"""
from __future__ import annotations

import logging
import threading

from pyVoIP.VoIP import CallState

from telephony.sip.pyvoip.outbound import FAILURES, OutboundCall
from telephony.media.rtp import PCMU, RtpStream

log = logging.getLogger("telephony.sip.dialer")

__all__ = ["Dialer", "DialResult", "FAILURES"]


class DialResult:
    """The outcome of one dial. ``leg`` (an answered ``OutboundCall``) or ``failure`` (one of
    FAILURES) once ``done``; ``ringing`` turns true on 180/183."""

    def __init__(self, extension: str, call: OutboundCall | None, failure: str | None = None) -> None:
        self.extension, self.call = extension, call
        self._failure = failure
        self._thread: threading.Thread | None = None

    @property
    def done(self) -> bool:
        return self.call is None or self.call.done.is_set()

    @property
    def leg(self) -> OutboundCall | None:
        """The answered call (it stays the leg after it ended; check ``leg.state``)."""
        call = self.call
        if call is not None and call.done.is_set() and call.answered_at is not None:
            return call
        return None

    @property
    def answered(self) -> bool:
        return self.leg is not None

    @property
    def failure(self) -> str | None:
        if self._failure:
            return self._failure
        call = self.call
        if call is None or not call.done.is_set():
            return None
        if call.answered_at is not None:
            return None
        return call.failure or "rejected"

    @property
    def sip_code(self) -> int | None:
        return None if self.call is None else self.call.final_code

    @property
    def ringing(self) -> bool:
        return bool(self.call and self.call.ringing)

    def wait(self, timeout: float | None = None) -> bool:
        """True when the dial has an outcome (answered or failed)."""
        if self.call is None:
            return True
        return self.call.done.wait(timeout)

    def cancel(self) -> None:
        """Stop ringing (CANCEL); an already answered leg is hung up."""
        call = self.call
        if call is None:
            return
        if call.state == CallState.ANSWERED:
            try:
                call.hangup("cancelled")
            except Exception:  # noqa: BLE001 - ended meanwhile
                pass
        else:
            call.cancel("cancelled")
        call.done.wait(6)

    def __repr__(self) -> str:
        return f"DialResult({self.extension!r}, answered={self.answered}, failure={self.failure!r})"


class Dialer:
    """Places calls from the endpoint's SIP user agent (``HardenedPhone``) through its proxy."""

    def __init__(self, phone, *, no_response_timeout: float = 4.0) -> None:
        self.phone = phone
        self.no_response_timeout = no_response_timeout

    @property
    def proxy(self) -> tuple[str, int] | None:
        sip = self.phone.sip
        if not sip.server or sip.server == self.phone.myIP and sip.port == sip.myPort:
            return None
        return sip.server, sip.port

    def start(self, extension: str, ring_timeout: float = 20.0, *, display: str = "",
              from_user: str | None = None) -> DialResult:
        """Send the INVITE and return at once; the transaction runs in its own thread. ``from_user``:
        the user part of From (the caller ID the other party sees; default the endpoint's SIP user)."""
        phone = self.phone
        if self.proxy is None or not phone.sip.NSD:
            log.warning("dial.no_proxy extension=%s (set SIP_SERVER)", extension)
            return DialResult(extension, None, "proxy_unreachable")
        try:
            stream = phone.ports.open(phone.myIP, lambda port: RtpStream(
                phone.myIP, port, (phone.myIP, 9), PCMU, None))
        except RuntimeError:
            log.error("dial.no_rtp_port extension=%s", extension)
            return DialResult(extension, None, "rejected")
        try:
            call = OutboundCall(phone, extension, stream, next(phone._session_ids), display=display,
                                from_user=from_user)
            phone.calls[call.call_id] = call
        except Exception:  # F22: the port goes back to the pool on every error path
            phone.media.remove(stream)
            phone.ports.release(stream.port)
            raise
        result = DialResult(extension, call)
        result._thread = threading.Thread(target=call.run, args=(ring_timeout, self.no_response_timeout),
                                          name=f"dial-{extension}", daemon=True)
        result._thread.start()
        log.info("dial.start extension=%s call_id=%s ring_timeout=%s", extension, call.call_id,
                 ring_timeout)
        return result

    def dial(self, extension: str, ring_timeout: float = 20.0, *, display: str = "") -> DialResult:
        """Call ``extension`` and wait until it answers or the dial fails."""
        result = self.start(extension, ring_timeout, display=display)
        result.wait(ring_timeout + self.no_response_timeout + 6)
        return result
