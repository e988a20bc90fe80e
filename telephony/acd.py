"""The call queue (ACD), inside the SIP process: waiting callers, choosing and ringing operators.

Flow of one answered citizen call (``Endpoint`` calls ``enqueue`` after the 200 OK):

1. Outside ``HOTLINE_SERVICE_HOURS``, or with no operator on duty (everyone 离线), the caller goes
   straight to voice intake (the existing flow: prompt, recording, draft ticket on hang-up).
2. Otherwise the call waits in a FIFO queue hearing hold music and its position (on entry, then
   every ``HOTLINE_ACD_ANNOUNCE_SECONDS``). The first caller for whom a ready (示闲) operator exists
   gets the operator chosen by ``HOTLINE_ACD_STRATEGY`` (``acd_data.choose``); each attempt is a
   ``call_offers`` row.
3. The operator's phone rings through the proxy (``Dialer``) for ``HOTLINE_ACD_RING_TIMEOUT``. No
   answer or busy: the operator is set 示忙 (unregistered: 离线) and the call is offered to the next
   one, keeping its place at the head of the queue. Answered: the operator is 通话中, the legs are
   bridged inside the call's session.
4. After ``HOTLINE_ACD_MAX_WAIT`` without an operator the caller is offered voice intake (outcome
   ``missed``, listed for callback). A caller hanging up while queued is ``abandoned`` with its
   wait. After a call the operator is in 话后处理 for ``HOTLINE_ACD_WRAPUP`` seconds, then ready.

Threads: one worker per waiting call (it sleeps on a condition woken by ``agent.state`` and by
calls leaving the queue); a small pool for console commands and for writes triggered by events.
Operator presence is read from ``agent_states`` (the console sets it in the web process; the
``agent.state`` event reaches this process through the bus). Console commands arrive as
``call.command`` events (``commands.py``).
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from hotline.config import parse_service_hours
from hotline.events import bus
from ticketing.clock import iso, utcnow

from . import acd_data as data
from .acd_prompts import Prompts

log = logging.getLogger("telephony.acd")

HOLD_TOP_UP_FRAMES = 25  # keep at least 0.5 s of hold audio queued so the caller never hears silence


def start_for(app, endpoint, config) -> "Acd | None":
    """Attach the queue when operators' phones are reachable: the endpoint registers at a proxy
    (SIP_MODE=register with SIP_SERVER). Otherwise every call goes to voice intake, as before."""
    if config.sip_mode != "register" or not config.sip_server:
        log.info("acd.off: no SIP proxy (SIP_MODE=register, SIP_SERVER) - calls go to voice intake")
        return None
    acd = Acd(app, config).attach(endpoint)
    log.info("acd.on strategy=%s ring_timeout=%ss wrapup=%ss max_wait=%ss hours=%s", config.acd_strategy,
             config.acd_ring_timeout, config.acd_wrapup, config.acd_max_wait, config.service_hours or "24h")
    return acd


@dataclass
class QueueEntry:
    session: object  # CallSession
    queued_mono: float
    queued_at: datetime
    state: str = "queued"  # queued | offering | connected | intake | ended
    tried: set = field(default_factory=set)  # operators who refused this call (busy/rejected)
    offered_at: datetime | None = None
    operator: data.Candidate | None = None
    dial: object | None = None  # the ringing DialResult
    leg: object | None = None
    connected_at: datetime | None = None
    connected_mono: float | None = None
    intake_mono: float | None = None
    intake_at: datetime | None = None
    outcome: str | None = None
    reason: str | None = None
    operator_hung_up: bool = False
    operator_released: bool = False  # the operator left (transfer): wrap-up already started
    released_mono: float | None = None  # when the operator left before the citizen: talk ends there
    next_announce: float = 0.0
    ended: threading.Event = field(default_factory=threading.Event)

    @property
    def call_uuid(self) -> str:
        return self.session.call_uuid


class Acd:
    def __init__(self, app, config, dialer=None, *, prompts: Prompts | None = None, publish=None) -> None:
        self.app, self.config, self.dialer = app, config, dialer
        self.prompts = prompts or Prompts.load()
        self.publish = publish or bus.publish
        self.strategy = config.acd_strategy
        self.hours = parse_service_hours(config.service_hours)
        self._cond = threading.Condition()
        self.entries: dict[str, QueueEntry] = {}  # by call_uuid: queued, ringing, talking
        self._reserved: set[int] = set()  # operators being rung or talking
        self._generation = 0  # bumped when a reservation ends (its state in the database changed)
        self._rr_last: int | None = None
        self._wrapups: dict[int, tuple[str, float]] = {}  # user id -> (call uuid, start)
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="acd")
        self._unsubscribe = [bus.subscribe("agent.state", self._on_agent_state),
                             bus.subscribe("call.leg_ended", self._on_leg_ended)]
        self._stopped = False
        from .commands import CommandHandler

        self.commands = CommandHandler(self)

    # -- wiring ------------------------------------------------------------------------------------
    def attach(self, endpoint) -> "Acd":
        """Make ``endpoint`` queue its answered calls here and greet with the queue welcome."""
        endpoint.acd = self
        self.dialer = self.dialer or endpoint.dialer
        if self.publish == bus.publish and hasattr(endpoint, "facts"):
            self.publish = endpoint.facts.put  # one ordered stream of call facts, off the SIP thread
        endpoint.greeting = self.prompts.welcome
        if hasattr(endpoint, "hold_audio"):
            endpoint.hold_audio = self.prompts.hold  # what a held or transferred caller hears
        return self

    def stop(self) -> None:
        self._stopped = True
        for off in self._unsubscribe:
            off()
        self.commands.stop()
        with self._cond:
            self._cond.notify_all()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _db(self):
        from hotline.extensions import db

        class _Scope:
            def __enter__(s):
                s.ctx = self.app.app_context()
                s.ctx.push()
                s.cm = db.session_scope()
                return s.cm.__enter__()

            def __exit__(s, *exc):
                try:
                    s.cm.__exit__(*exc)
                finally:
                    s.ctx.pop()

        return _Scope()

    def _safe_publish(self, name: str, payload: dict) -> None:
        try:
            self.publish(name, payload)
        except Exception:
            log.exception("event.publish_failed name=%s", name)

    # -- endpoint hooks (SIP thread: return quickly) -------------------------------------------------
    def enqueue(self, session) -> QueueEntry:
        entry = QueueEntry(session, time.monotonic(), utcnow())
        entry.next_announce = entry.queued_mono + self.prompts.welcome_seconds
        with self._cond:
            self.entries[session.call_uuid] = entry
        threading.Thread(target=self._serve, args=(entry,), name=f"acd-{session.call_uuid[:8]}",
                         daemon=True).start()
        return entry

    def on_ended(self, session, cause: str) -> dict:
        """The caller's leg ended: close the entry, start wrap-up, return the call's queue facts
        (merged into ``call.ended`` and stored on the call row). Never raises: the endpoint must
        still publish the end and store the call."""
        try:
            return self._on_ended(session, cause)
        except Exception:
            log.exception("acd.on_ended_failed call=%s", getattr(session, "call_uuid", "?"))
            return {}

    def _submit(self, fn, *args) -> None:
        """Run ``fn`` on the pool, or on a thread of its own once the pool is shut down."""
        try:
            self._pool.submit(fn, *args)
        except RuntimeError:
            threading.Thread(target=fn, args=args, daemon=True).start()

    def _on_ended(self, session, cause: str) -> dict:
        with self._cond:
            entry = self.entries.pop(session.call_uuid, None)
            self._cond.notify_all()
        if entry is None:
            return {}
        entry.ended.set()
        now_mono, now = time.monotonic(), getattr(session, "ended_at", None) or utcnow()
        if entry.state in ("queued", "offering"):
            entry.outcome = "abandoned"
        elif entry.state == "connected":
            entry.outcome = "answered"
        previous, entry.state = entry.state, "ended"
        if previous == "offering" and entry.dial is not None:
            self._submit(self._cancel_dial, entry.dial)
        side = "citizen" if cause == "caller_hangup" else "operator" if entry.operator_hung_up else \
            getattr(session, "hangup_side", None) or "system"
        arrived = getattr(session, "ringing_at", None) or entry.queued_at
        until = entry.connected_at or entry.intake_at or now
        hold = float(getattr(session, "hold_seconds", 0.0) or 0.0)
        # talk is the operator's: it ends when they hand the caller on (transfer), not at hang-up
        talk_end = entry.released_mono or now_mono
        talk = round(max(0.0, talk_end - entry.connected_mono - hold), 3) if entry.connected_mono else None
        op = entry.operator if entry.connected_mono else None
        facts = {
            "queued_at": entry.queued_at, "offered_at": entry.offered_at, "connected_at": entry.connected_at,
            "wait_seconds": data.seconds_between(arrived, until), "talk_seconds": talk,
            "hold_seconds": round(hold, 3) if op else None, "hangup_side": side, "outcome": entry.outcome,
            "answered": entry.outcome == "answered", "operator": op.username if op else None,
            "operator_id": op.user_id if op else None, "operator_extension": op.extension if op else None,
        }
        session.queue_facts = facts
        if entry.operator is not None and entry.connected_mono is not None and not entry.operator_released:
            entry.operator_released = True
            self._submit(self._after_call, entry)
        log.info("acd.ended call=%s outcome=%s wait=%.1f side=%s", entry.call_uuid, entry.outcome,
                 facts["wait_seconds"], side)
        return {k: iso(v) if isinstance(v, datetime) else v for k, v in facts.items() if v is not None}

    # -- the queue ---------------------------------------------------------------------------------
    def position(self, entry: QueueEntry) -> int:
        """How many callers are ahead (0 = next)."""
        with self._cond:
            return sum(1 for e in self.entries.values() if e.state in ("queued", "offering")
                       and e.queued_mono < entry.queued_mono)

    def waiting(self) -> list[QueueEntry]:
        with self._cond:
            return sorted((e for e in self.entries.values() if e.state in ("queued", "offering")),
                          key=lambda e: e.queued_mono)

    def _serve(self, entry: QueueEntry) -> None:
        try:
            if not data.in_service_hours(self.hours):
                return self._intake(entry, "out_of_hours", "out_of_hours")
            with self._db() as s:
                on_duty = data.operators_on_duty(s)
            if not on_duty:
                return self._intake(entry, "voice_intake", "no_operator_on_duty")
            self._safe_publish("call.queued", {"call_id": entry.call_uuid, "caller": entry.session.caller,
                                               "position": self.position(entry) + 1})
            while not entry.ended.is_set() and not self._stopped:
                cand = self._wait_for_operator(entry)
                if cand is None:
                    if not entry.ended.is_set() and not self._stopped:
                        self._intake(entry, "missed", "max_wait")
                    return
                if self._offer(entry, cand):
                    return
        except Exception:
            log.exception("acd.serve_failed call=%s", entry.call_uuid)
            if not entry.ended.is_set() and entry.state in ("queued", "offering"):
                self._intake(entry, "missed", "error")

    def _wait_for_operator(self, entry: QueueEntry) -> data.Candidate | None:
        max_wait = self.config.acd_max_wait
        while True:
            if entry.ended.is_set() or self._stopped:
                return None
            if time.monotonic() - entry.queued_mono >= max_wait:
                return None
            cand = self._claim(entry)
            if cand is not None:
                return cand
            self._tend(entry)
            with self._cond:
                self._cond.wait(0.5)

    def _claim(self, entry: QueueEntry) -> data.Candidate | None:
        """Give ``entry`` an operator if it is the first waiting call that one is available for.

        The database is read outside the lock (``on_ended`` takes it on the SIP thread); the
        reservation is decided under it, so two calls never get the same operator."""
        generation = self._generation
        with self._db() as s:
            ready = data.ready_operators(s)
        with self._cond:
            if generation != self._generation:  # an operator was released meanwhile: read again
                self._cond.notify_all()
                return None
            queued = sorted((e for e in self.entries.values() if e.state == "queued"),
                            key=lambda e: e.queued_mono)
            if entry not in queued:
                return None
            ready = [c for c in ready if c.user_id not in self._reserved]
            for e in queued:
                cand = data.choose([c for c in ready if c.user_id not in e.tried], self.strategy, self._rr_last)
                if cand is None:
                    continue
                if e is not entry:
                    self._cond.notify_all()  # a caller ahead gets this operator
                    return None
                self._reserved.add(cand.user_id)
                self._rr_last = cand.user_id
                entry.state, entry.operator = "offering", cand
                return cand
            return None

    def _release(self, user_id: int) -> None:
        with self._cond:
            self._generation += 1
            self._reserved.discard(user_id)
            self._cond.notify_all()

    def _tend(self, entry: QueueEntry) -> None:
        """Hold music and position announcements while waiting (never silence)."""
        stream = self._stream(entry)
        if stream is None:
            return
        now = time.monotonic()
        if entry.state == "queued" and now >= entry.next_announce:
            stream.clear_output()
            stream.play(self.prompts.position(self.position(entry)))
            entry.next_announce = now + max(self.config.acd_announce_seconds, 5)
        if stream.queued_frames < HOLD_TOP_UP_FRAMES:
            stream.play(self.prompts.hold)

    @staticmethod
    def _stream(entry: QueueEntry):
        try:
            return entry.session.caller_leg.call.stream
        except AttributeError:
            return None

    # -- ringing an operator -----------------------------------------------------------------------
    def _offer(self, entry: QueueEntry, cand: data.Candidate) -> bool:
        """Ring ``cand``; True when the call was answered (or ended meanwhile)."""
        with self._db() as s:
            offer_id = data.open_offer(s, entry.call_uuid, cand, self.strategy)
        entry.offered_at = entry.offered_at or utcnow()
        self._safe_publish("call.offered", {"call_id": entry.call_uuid, "operator": cand.username,
                                            "extension": cand.extension, "caller": entry.session.caller,
                                            "called": entry.session.called})
        log.info("acd.offer call=%s operator=%s ext=%s strategy=%s", entry.call_uuid, cand.username,
                 cand.extension, self.strategy)
        result = self.dialer.start(cand.extension, self.config.acd_ring_timeout, display="12345")
        entry.dial = result
        while not result.wait(0.2):
            self._tend(entry)
            if entry.ended.is_set():
                break
        entry.dial = None
        if entry.ended.is_set():  # the caller hung up while the operator's phone rang
            self._cancel_dial(result)
            with self._db() as s:
                data.close_offer(s, offer_id, "cancelled")
            self._release(cand.user_id)
            return True
        if result.leg is not None:
            with self._db() as s:
                data.close_offer(s, offer_id, "answered")
                data.set_state(s, cand.user_id, "oncall", "answered")
            self._connect(entry, cand, result.leg)
            return True
        failure = result.failure or "rejected"
        with self._db() as s:
            data.close_offer(s, offer_id, failure)
            if failure in ("no_answer", "busy"):
                data.set_state(s, cand.user_id, "busy", failure)  # 示忙 until the operator is back
            elif failure == "unregistered":
                data.set_state(s, cand.user_id, "offline", failure)
        log.info("acd.offer_failed call=%s operator=%s failure=%s", entry.call_uuid, cand.username, failure)
        if failure == "rejected":
            entry.tried.add(cand.user_id)
        with self._cond:
            entry.state, entry.operator = "queued", None
        self._release(cand.user_id)
        if failure == "proxy_unreachable":
            self._intake(entry, "missed", "proxy_unreachable")
            return True
        return False

    @staticmethod
    def _cancel_dial(result) -> None:
        try:
            result.cancel()
        except Exception:  # noqa: BLE001 - ended meanwhile
            log.debug("acd.cancel_failed", exc_info=True)

    def _connect(self, entry: QueueEntry, cand: data.Candidate, leg) -> None:
        with self._cond:
            entry.state, entry.leg = "connected", leg
            entry.connected_at, entry.connected_mono = utcnow(), time.monotonic()
        stream = self._stream(entry)
        if stream is not None:
            stream.clear_output()
        bridge = getattr(entry.session, "bridge", None)
        if bridge is not None:
            bridge(leg, speaker="operator", extension=cand.extension)
        self._safe_publish("call.answered", {
            "call_id": entry.call_uuid, "caller": entry.session.caller, "called": entry.session.called,
            "operator": cand.username, "extension": cand.extension, "connected": True,
            "wait_seconds": round(entry.connected_mono - entry.queued_mono, 3)})
        log.info("acd.connected call=%s operator=%s wait=%.1f", entry.call_uuid, cand.username,
                 entry.connected_mono - entry.queued_mono)

    # -- voice intake ------------------------------------------------------------------------------
    def _intake(self, entry: QueueEntry, outcome: str, reason: str) -> None:
        with self._cond:
            if entry.state not in ("queued", "offering"):
                return
            entry.state, entry.outcome, entry.reason = "intake", outcome, reason
            entry.intake_mono, entry.intake_at = time.monotonic(), utcnow()
        stream = self._stream(entry)
        if stream is not None:
            stream.clear_output()
            stream.play(self.prompts.intake_closed if outcome == "out_of_hours" else self.prompts.intake_busy)
        self._safe_publish("call.intake", {"call_id": entry.call_uuid, "reason": reason, "outcome": outcome,
                                           "caller": entry.session.caller})
        log.info("acd.intake call=%s outcome=%s reason=%s", entry.call_uuid, outcome, reason)

    # -- after the call: wrap-up -------------------------------------------------------------------
    def operator_left(self, entry: QueueEntry) -> None:
        """The operator handed the caller on (transfer): their wrap-up starts now."""
        if entry.operator is None or entry.operator_released:
            return
        entry.operator_released = True
        entry.released_mono = time.monotonic()
        self._submit(self._after_call, entry, False)

    def _after_call(self, entry: QueueEntry, hangup_leg: bool = True) -> None:
        cand = entry.operator
        leg = entry.leg
        if hangup_leg and leg is not None and getattr(leg, "state", None) is not None and leg.state.name == "ANSWERED":
            try:
                leg.hangup("caller_hangup")
            except Exception:  # noqa: BLE001 - the bridge may have ended it already
                pass
        wrapup = self.config.acd_wrapup
        with self._db() as s:
            state, _since = data.agent_state(s, cand.user_id)
            if state == "oncall":
                self._wrapups[cand.user_id] = (entry.call_uuid, time.monotonic())
                data.set_state(s, cand.user_id, "wrapup" if wrapup > 0 else "idle", "after_call")
        self._release(cand.user_id)
        if wrapup > 0:
            timer = threading.Timer(wrapup, self._end_wrapup, [cand.user_id])
            timer.daemon = True
            timer.start()

    def _end_wrapup(self, user_id: int) -> None:
        if self._stopped:
            return
        try:
            with self._db() as s:
                data.set_state(s, user_id, "idle", "wrapup_over", only_from=("wrapup",))
        except Exception:
            log.exception("acd.wrapup_end_failed user=%s", user_id)

    def _on_agent_state(self, _name: str, payload: dict) -> None:
        """Any presence change may free an operator for a waiting call; leaving 话后处理 ends the
        wrap-up time of the call that caused it."""
        user_id = payload.get("user_id")
        if user_id in self._wrapups and payload.get("state") != "wrapup":
            call_uuid, started = self._wrapups.pop(user_id)
            self._submit(self._store_wrapup, call_uuid, time.monotonic() - started)
        with self._cond:
            self._cond.notify_all()

    def _on_leg_ended(self, _name: str, payload: dict) -> None:
        """The operator's phone hung up first: the hang-up side of the call is the operator."""
        entry = self.entries.get(payload.get("call_id"))
        if entry is not None and entry.operator is not None and entry.state == "connected" \
                and payload.get("extension") == entry.operator.extension:
            entry.operator_hung_up = True

    def _store_wrapup(self, call_uuid: str, seconds: float) -> None:
        for _ in range(50):  # the call row is written by the endpoint's finishing pool
            with self._db() as s:
                if data.record_wrapup(s, call_uuid, seconds):
                    return
            time.sleep(0.2)
        log.warning("acd.wrapup_unrecorded call=%s", call_uuid)
