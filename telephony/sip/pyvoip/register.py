"""Registration at the proxy/PBX (continues ``telephony.sip.pyvoip.phone``): F15's socket wrapper,
which keeps requests arriving during a REGISTER, and F21:

F21 After REGISTER_FAILURE_THRESHOLD (3) failed REGISTERs in a row, pyVoIP's ``register()`` calls
    ``SIPClient.stop()`` and the phone's fatal callback: the SIP socket is closed and every call in
    progress is hung up. A registrar restart of a few minutes (or three timeouts) therefore cut
    off every citizen on the line. -> failures only change the status (REGISTERING, then FAILED;
    FAILED at once for rejected credentials) and registration is retried with back-off; calls in
    progress are untouched and the endpoint registers again when the proxy is back.
                        tests/test_bridge_register.py:test_registrar_outage_does_not_stop_*
"""
from __future__ import annotations

import logging
import threading
import time

import pyVoIP
from pyVoIP.SIP import InvalidAccountInfoError
from pyVoIP.VoIP.status import PhoneStatus

from telephony.sip import sdp

log = logging.getLogger("telephony.sip")

RETRY_DELAYS = (2, 5, 10, 30, 60)  # seconds before the next REGISTER after 1, 2, 3... failures


class DispatchingSocket:
    """F15: the SIP socket as pyVoIP's REGISTER code sees it: ``recv`` returns only responses to
    REGISTER; everything else read meanwhile goes to the phone's handlers."""

    def __init__(self, sock, client) -> None:
        self._sock, self._client = sock, client

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def recv(self, size: int) -> bytes:
        deadline = time.monotonic() + self._client.register_timeout
        while True:
            self._sock.setblocking(True)
            self._sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                raw, source = self._sock.recvfrom(65535)
            finally:
                self._sock.settimeout(None)
            start = raw.split(b"\r\n", 1)[0]
            if start.startswith(b"SIP/2.0") and b"REGISTER" in sdp.first(
                    sdp.split_message(raw)[1], "CSeq").encode():
                return raw
            if raw.strip(b"\r\n\x00 "):
                self._client.dispatch(raw, source)
            if time.monotonic() >= deadline:
                raise TimeoutError("no answer to REGISTER")


class ResilientRegistration:
    """Mixin for ``HardenedSIPClient`` (register mode)."""

    def register(self) -> bool:
        try:
            with self.recvLock:
                ok, error = self._SIPClient__register(), None
        except Exception as exc:  # noqa: BLE001 - timeouts, refused, bad credentials: all retried
            ok, error = False, exc
        if not self.NSD:
            return False
        if ok:
            if self.registerFailures:
                log.info("sip.registered_again server=%s:%s", self.server, self.port)
            self.registerFailures = 0
            self.phone._status = PhoneStatus.REGISTERED
            delay = max(self.default_expires - 5, 5)
        else:
            self.registerFailures += 1
            failed = isinstance(error, InvalidAccountInfoError) or \
                self.registerFailures >= pyVoIP.REGISTER_FAILURE_THRESHOLD
            self.phone._status = PhoneStatus.FAILED if failed else PhoneStatus.REGISTERING
            delay = RETRY_DELAYS[min(self.registerFailures, len(RETRY_DELAYS)) - 1]
            log.warning("sip.register_failed server=%s:%s failures=%s status=%s retry_in=%ss error=%s",
                        self.server, self.port, self.registerFailures, self.phone._status.name, delay,
                        error)
        self._schedule_register(delay)
        return ok

    def _schedule_register(self, delay: float) -> None:
        if self.registerThread is not None:
            self.registerThread.cancel()
        timer = threading.Timer(delay, self.register)
        timer.name, timer.daemon = "sip-register", True
        self.registerThread = timer
        timer.start()
