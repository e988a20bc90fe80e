"""Registration at the proxy/PBX that does not give up (continues ``telephony.pyvoip_fixes``).

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

import pyVoIP
from pyVoIP.SIP import InvalidAccountInfoError
from pyVoIP.VoIP.status import PhoneStatus

log = logging.getLogger("telephony.sip")

RETRY_DELAYS = (2, 5, 10, 30, 60)  # seconds before the next REGISTER after 1, 2, 3... failures


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
