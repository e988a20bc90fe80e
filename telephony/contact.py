"""联系诉求人 in the SIP process: ring the clerk, then the citizen, and bridge them.

The department's console asked for it (``ticketing.contact.request_contact`` publishes
``contact.requested``, without the citizen's number). Here one SIP process claims the request in
the database (``ticketing.contact.claim``, which alone hands out the number), rings the clerk's
extension through the proxy (From: the hotline, display "12345 <ticket>"), plays hold audio to
the clerk while the citizen's phone rings (From: ``HOTLINE_CALLER_ID``), and once the citizen
answers makes a ``CallSession`` with the citizen as its first leg and bridges the clerk in as the
``department`` leg: the same bridge, per-speaker recordings and transcripts as every call. The
clerk never receives the number: not in SIP (their INVITE names the hotline and the ticket), not
in events (``contact.progress`` has none), not in the call record (``called`` is stored masked).

The outcome (answered with its duration, or why not: the clerk's or the citizen's phone busy, not
answering...) is written by ``ticketing.contact.finish`` on the ticket's history; an answered
call is stored with its recordings and linked to the ticket in the same transaction.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

from hotline.clock import utcnow
from hotline.events import bus

from telephony.media.session import CallSession

log = logging.getLogger("telephony.contact")


class ContactCaller:
    def __init__(self, app, endpoint, config, publish=None, node: str | None = None) -> None:
        """``node``: this `sip` process's heartbeat id (telephony.reaper), so that the reaper of a
        dead process finds the contact calls it had claimed."""
        self.app, self.endpoint, self.config = app, endpoint, config
        self.publish = publish or endpoint.facts.put  # never blocks: the facts worker publishes
        self.node = node or f"{socket.gethostname()}:{os.getpid()}:{config.sip_port}"[:80]
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="contact")
        self._idle = threading.Condition()
        self._pending = 0
        self.finished: list[dict] = []  # the last outcomes (tests read them)
        self._unsubscribe = bus.subscribe("contact.requested", self._on_request)

    def stop(self) -> None:
        """After the endpoint stopped (its calls hung up): the outcomes are still written."""
        self._unsubscribe()
        self.wait_idle(30)
        self._pool.shutdown(wait=True)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _submit(self, fn, *args) -> None:
        with self._idle:
            self._pending += 1

        def run():
            try:
                fn(*args)
            except Exception:  # noqa: BLE001 - logged; the request is finished as failed below
                log.exception("contact.failed")
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()
        self._pool.submit(run)

    def _on_request(self, _name: str, payload: dict) -> None:
        self._submit(self.run, payload)

    # -- one request --------------------------------------------------------------------------------
    def run(self, payload: dict) -> None:
        from hotline.extensions import db
        from ticketing import contact

        with self.app.app_context(), db.session_scope() as s:
            job = contact.claim(s, payload["contact_id"], self.node)
        if job is None:
            return  # another SIP process has it, or the ticket may no longer be contacted
        try:
            self._call(job)
        except Exception:
            log.exception("contact.call_failed contact=%s", job["contact_id"])
            self._done(job, "failed")

    def _progress(self, job: dict, state: str, **extra) -> None:
        self.publish("contact.progress", {"contact_id": job["contact_id"], "number": job["number"],
                                          "user_id": job["user_id"], "state": state, **extra})

    def _call(self, job: dict) -> None:
        dialer, ring = self.endpoint.dialer, float(self.config.contact_ring_seconds)
        caller_id = self.config.caller_id
        self._progress(job, "calling_clerk")
        clerk = dialer.dial(job["extension"], ring, display=f"{caller_id} {job['number']}")
        if clerk.leg is None:
            self._done(job, f"clerk_{clerk.failure or 'rejected'}")
            return
        clerk_leg, started_at = clerk.leg, utcnow()
        clerk_gone = threading.Event()
        clerk_leg.ended_callbacks.append(lambda _call, _cause: clerk_gone.set())
        if clerk_leg.state.name != "ANSWERED":
            clerk_gone.set()
        hold = self.endpoint.hold_audio
        if hold:  # what the clerk hears while the citizen's phone rings
            clerk_leg.stream.play(hold * (int((ring + 4) * 16000 / len(hold)) + 1))
        self._progress(job, "calling_citizen")
        citizen = dialer.start(job["phone"], ring, display=caller_id, from_user=caller_id)
        while not citizen.wait(0.2):
            if clerk_gone.is_set():
                citizen.cancel()
                break
        if clerk_gone.is_set() and citizen.leg is None:
            self._done(job, "clerk_hangup", started_at=started_at)
            return
        if citizen.leg is None:
            _hang_up(clerk_leg, "citizen_" + (citizen.failure or "rejected"))
            self._done(job, citizen.failure or "rejected", started_at=started_at)
            return
        self._bridge(job, clerk_leg, citizen.leg, started_at)

    def _bridge(self, job: dict, clerk_leg, citizen_leg, started_at) -> None:
        endpoint = self.endpoint
        session = CallSession(citizen_leg, recordings_dir=self.config.recordings_dir, speech=endpoint.speech,
                              publish=_quiet, media=endpoint.phone.media, dialer=None,
                              hold_audio=endpoint.hold_audio)
        session.prepare(None)
        session.answered()
        finished = threading.Event()

        def citizen_ended(call, cause: str) -> None:
            if finished.is_set():
                return
            finished.set()
            endpoint.sessions.pop(call.call_id, None)
            session.ended("caller_hangup" if cause == "remote_hangup" else cause)
            self._submit(self._store, job, session, started_at)

        citizen_leg.ended_callbacks.append(citizen_ended)
        endpoint.sessions[citizen_leg.call_id] = session  # the endpoint's call-length and RTP timeouts
        if citizen_leg.state.name != "ANSWERED":
            citizen_ended(citizen_leg, citizen_leg.end_cause or "remote_hangup")
            _hang_up(clerk_leg, "caller_hangup")
            return
        clerk_leg.stream.clear_output()
        if session.bridge(clerk_leg, "department", extension=job["extension"]) is None:
            return
        self._progress(job, "talking")
        log.info("contact.bridged contact=%s ticket=%s call=%s", job["contact_id"], job["number"],
                 session.call_uuid)

    def _store(self, job: dict, session: CallSession, started_at) -> None:
        from hotline.extensions import db

        from telephony import service

        record = session.finish()
        with self.app.app_context(), db.session_scope() as s:
            service.store_contact_call(s, record, number=job["number"], contact_id=job["contact_id"],
                                       caller_id=self.config.caller_id, started_at=started_at)
        self._report(job, "answered", record["duration"], record)

    def _done(self, job: dict, outcome: str, *, started_at=None) -> None:
        from hotline.extensions import db
        from ticketing import contact

        with self.app.app_context(), db.session_scope() as s:
            contact.finish(s, job["contact_id"], outcome=outcome, started_at=started_at)
        self._report(job, outcome, None, None)

    def _report(self, job: dict, outcome: str, duration: float | None, record: dict | None) -> None:
        from ticketing.contact import OUTCOMES

        self.finished.append({"contact_id": job["contact_id"], "outcome": outcome, "record": record})
        del self.finished[:-200]
        self._progress(job, "ended", outcome=outcome, outcome_label=OUTCOMES.get(outcome, outcome),
                       duration=duration)


def _quiet(_name: str, _payload: dict) -> None:
    """The contact call's session events stay in the SIP process: they are no inbound call for the
    operators' board and KPIs; the outcome is ``contact.progress`` and the ticket's history."""


def _hang_up(call, cause: str) -> None:
    try:
        if call.state.name == "ANSWERED":
            call.hangup(cause)
    except Exception:  # noqa: BLE001 - it ended meanwhile
        pass
