"""The call queue (ACD): waiting callers, choosing and offering operators, wrap-up.

``CallQueue`` runs in each SIP process and decides; telephony carries out what it is told through
the ``media`` object it passes in (``telephony`` provides it: play the queue's audio, ring an
extension, bridge the answered leg, hang a leg up) and reports facts (a call answered, ended).
Every shared fact is in the database (``store``): the FIFO order across processes, the operator
reservation, the offers and each call's queue record.

Flow of one answered citizen call (the endpoint calls ``enqueue`` after the 200 OK):

1. Outside ``HOTLINE_SERVICE_HOURS``, or with no operator on duty (everyone 离线), the caller goes
   straight to voice intake (prompt, recording, draft ticket on hang-up).
2. Otherwise the call waits in the queue hearing hold music and its position (on entry, then
   every ``HOTLINE_ACD_ANNOUNCE_SECONDS``). The first waiting caller (of every process) for whom a
   ready (示闲) operator exists gets the operator chosen by ``HOTLINE_ACD_STRATEGY``
   (``strategies.choose``) once ``store.reserve`` won them; each attempt is a ``call_offers`` row.
3. The operator's phone rings for ``HOTLINE_ACD_RING_TIMEOUT``. No answer or busy: the operator
   is set 示忙 (unregistered: 离线) and the call is offered to the next one, keeping its place.
   Answered: the operator is 通话中 and telephony bridges the legs.
4. After ``HOTLINE_ACD_MAX_WAIT`` without an operator the caller is offered voice intake (outcome
   ``missed``, listed for callback). A caller hanging up while queued is ``abandoned`` with its
   wait. After a call the operator is in 话后处理 for ``HOTLINE_ACD_WRAPUP`` seconds, then ready.

Threads: one worker per waiting call (it waits on a condition woken by ``agent.state`` and polls
the shared queue); a small pool for writes triggered by the SIP thread and by events. The SIP
thread (``on_ended``) only computes facts from memory and hands the writes to the pool.
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
from hotline.clock import iso, utcnow

from . import store
from .strategies import Candidate, choose

log = logging.getLogger("routing.calls.queue")

POLL_SECONDS = 0.5  # how often a waiting call looks at the shared queue when nothing woke it


@dataclass
class QueueEntry:
    """A call of this process in the queue. ``call`` is telephony's session: the queue reads
    ``call_uuid``, ``caller``, ``called``, ``ringing_at``, ``ended_at``, ``hold_seconds`` and
    ``hangup_side`` from it and hands it back to ``media``."""

    call: object
    queued_mono: float
    queued_at: datetime
    state: str = "queued"  # queued | offering | connected | intake | ended
    offered_at: datetime | None = None
    operator: Candidate | None = None
    dial: object | None = None  # the ringing offer (media.offer's result)
    leg: object | None = None
    connected_at: datetime | None = None
    connected_mono: float | None = None
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
        return self.call.call_uuid


class _Scope:
    """An app context and a database session for one unit of work on a queue thread."""

    def __init__(self, app) -> None:
        self.app = app

    def __enter__(self):
        from hotline.extensions import db

        self.ctx = self.app.app_context()
        self.ctx.push()
        self.cm = db.session_scope()
        return self.cm.__enter__()

    def __exit__(self, *exc):
        try:
            self.cm.__exit__(*exc)
        finally:
            self.ctx.pop()


class CallQueue:
    def __init__(self, app, config, media, *, publish=None) -> None:
        self.app, self.config, self.media = app, config, media
        self.publish = publish or bus.publish
        self.strategy = config.acd_strategy
        self.hours = parse_service_hours(config.service_hours)
        self.lease = config.acd_ring_timeout + 30.0  # a reservation outlives its ring
        self.horizon = config.acd_max_wait + 30.0  # older queue rows belong to a dead process
        self._cond = threading.Condition()
        self.entries: dict[str, QueueEntry] = {}  # this process's queued, ringing and talking calls
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="acd")
        self._unsubscribe = [bus.subscribe("agent.state", self._on_agent_state),
                             bus.subscribe("call.leg_ended", self._on_leg_ended)]
        self._on_stop: list = []
        self._stopped = False
        #: this `sip` process's heartbeat id (``telephony.reaper``): its queue rows carry it, so a
        #: survivor can close them if this process dies
        self.instance: str | None = None

    def on_stop(self, fn) -> None:
        """Run ``fn`` when the queue stops (telephony's command handler)."""
        self._on_stop.append(fn)

    def stop(self) -> None:
        self._stopped = True
        for off in self._unsubscribe:
            off()
        for fn in self._on_stop:
            fn()
        with self._cond:
            self._cond.notify_all()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _db(self) -> _Scope:
        return _Scope(self.app)

    def _safe_publish(self, name: str, payload: dict) -> None:
        try:
            self.publish(name, payload)
        except Exception:
            log.exception("event.publish_failed name=%s", name)

    def _submit(self, fn, *args) -> None:
        """Run ``fn`` on the pool, or on a thread of its own once the pool is shut down."""
        try:
            self._pool.submit(fn, *args)
        except RuntimeError:
            threading.Thread(target=fn, args=args, daemon=True).start()

    # -- telephony's reports (SIP thread: return quickly) -----------------------------------------
    def enqueue(self, call) -> QueueEntry:
        entry = QueueEntry(call, time.monotonic(), utcnow())
        entry.next_announce = entry.queued_mono + self.media.welcome_seconds
        with self._cond:
            self.entries[call.call_uuid] = entry
        threading.Thread(target=self._serve, args=(entry,), name=f"acd-{call.call_uuid[:8]}",
                         daemon=True).start()
        return entry

    def on_ended(self, call, cause: str) -> dict:
        """The caller's leg ended: close the entry, start wrap-up, return the call's queue facts
        (merged into ``call.ended``). Never raises: the endpoint must still publish the end."""
        try:
            return self._on_ended(call, cause)
        except Exception:
            log.exception("acd.on_ended_failed call=%s", call.call_uuid)
            return {}

    def _on_ended(self, call, cause: str) -> dict:
        with self._cond:
            entry = self.entries.pop(call.call_uuid, None)
            self._cond.notify_all()
        if entry is None:
            return {}
        entry.ended.set()
        now_mono, now = time.monotonic(), call.ended_at or utcnow()
        if entry.state in ("queued", "offering"):
            entry.outcome = "abandoned"
        elif entry.state == "connected":
            entry.outcome = "answered"
        previous, entry.state = entry.state, "ended"
        if previous == "offering" and entry.dial is not None:
            self._submit(self._cancel_dial, entry.dial)
        side = "citizen" if cause == "caller_hangup" else "operator" if entry.operator_hung_up else \
            call.hangup_side or "system"
        arrived = call.ringing_at or entry.queued_at
        until = entry.connected_at or entry.intake_at or now
        hold = float(call.hold_seconds or 0.0)
        # talk is the operator's: it ends when they hand the caller on (transfer), not at hang-up
        talk_end = entry.released_mono or now_mono
        talk = round(max(0.0, talk_end - entry.connected_mono - hold), 3) if entry.connected_mono else None
        op = entry.operator if entry.connected_mono else None
        facts = {
            "queued_at": entry.queued_at, "offered_at": entry.offered_at, "connected_at": entry.connected_at,
            "wait_seconds": store.seconds_between(arrived, until), "talk_seconds": talk,
            "hold_seconds": round(hold, 3) if op else None, "hangup_side": side, "outcome": entry.outcome,
            "answered": entry.outcome == "answered", "operator": op.username if op else None,
            "operator_id": op.user_id if op else None, "operator_extension": op.extension if op else None,
        }
        self._submit(self._store_end, entry, facts, now)
        if entry.operator is not None and entry.connected_mono is not None and not entry.operator_released:
            entry.operator_released = True
            self._submit(self._after_call, entry)
        log.info("acd.ended call=%s outcome=%s wait=%.1f side=%s", entry.call_uuid, entry.outcome,
                 facts["wait_seconds"], side)
        return {k: iso(v) if isinstance(v, datetime) else v for k, v in facts.items() if v is not None}

    def _store_end(self, entry: QueueEntry, facts: dict, ended_at: datetime) -> None:
        values = {k: facts[k] for k in ("queued_at", "offered_at", "connected_at", "wait_seconds", "talk_seconds",
                                        "hold_seconds", "hangup_side", "outcome", "operator_id",
                                        "operator_extension")}
        values.update(state="ended", ended_at=ended_at, caller=entry.call.caller, reason=entry.reason)
        try:
            with self._db() as s:
                store.save_queued_call(s, entry.call_uuid, values)
        except Exception:
            log.exception("acd.store_end_failed call=%s", entry.call_uuid)

    # -- the queue ---------------------------------------------------------------------------------
    def position(self, entry: QueueEntry) -> int:
        """How many callers (of every process) are ahead (0 = next)."""
        with self._db() as s:
            waiting = [uuid for uuid, _state in store.waiting_calls(s, self.horizon)]
        return waiting.index(entry.call_uuid) if entry.call_uuid in waiting else 0

    def _serve(self, entry: QueueEntry) -> None:
        try:
            call = entry.call
            with self._db() as s:
                store.save_queued_call(s, entry.call_uuid, {
                    "caller": call.caller, "called": call.called, "state": "queued",
                    "ringing_at": call.ringing_at, "queued_at": entry.queued_at, "sip_instance": self.instance})
                on_duty = store.operators_on_duty(s)
            if not store.in_service_hours(self.hours):
                return self._intake(entry, "out_of_hours", "out_of_hours")
            if not on_duty:
                return self._intake(entry, "voice_intake", "no_operator_on_duty")
            self._safe_publish("call.queued", {"call_id": entry.call_uuid, "caller": call.caller,
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

    def _wait_for_operator(self, entry: QueueEntry) -> Candidate | None:
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
                self._cond.wait(POLL_SECONDS)

    def _claim(self, entry: QueueEntry) -> Candidate | None:
        """Give ``entry`` an operator if it is the first waiting call (of every process) that a
        ready operator is available for, and the reservation of that operator is won."""
        with self._db() as s:
            store.queue_lock(s)  # every call that entered the queue before this claim is seen
            waiting = [uuid for uuid, state in store.waiting_calls(s, self.horizon) if state == "queued"]
            if entry.call_uuid not in waiting:
                return None
            ready = store.ready_operators(s, lease=self.lease)
            if not ready:
                return None
            refused = store.rejected_by(s, waiting)
            last = store.last_offered(s) if self.strategy == "round_robin" else None
            for uuid in waiting:
                cand = choose([c for c in ready if c.user_id not in refused.get(uuid, ())], self.strategy, last)
                if cand is None:
                    continue
                if uuid != entry.call_uuid:
                    return None  # a caller ahead gets this operator
                if not store.reserve(s, cand.user_id, entry.call_uuid, lease=self.lease):
                    return None  # another process or call took them meanwhile: look again
                with self._cond:
                    if entry.ended.is_set():
                        store.release(s, cand.user_id, entry.call_uuid)
                        return None
                    entry.state, entry.operator = "offering", cand
                store.set_queue_state(s, entry.call_uuid, "offering")
                return cand
            return None

    def _tend(self, entry: QueueEntry) -> None:
        """Hold music and position announcements while waiting (never silence)."""
        now = time.monotonic()
        if entry.state == "queued" and now >= entry.next_announce:
            self.media.announce(entry.call, self.position(entry))
            entry.next_announce = now + max(self.config.acd_announce_seconds, 5)
        self.media.keep_hold(entry.call)

    # -- offering the call to an operator ----------------------------------------------------------
    def _offer(self, entry: QueueEntry, cand: Candidate) -> bool:
        """Ring ``cand``; True when the call was answered (or ended meanwhile)."""
        first = entry.offered_at is None
        entry.offered_at = entry.offered_at or utcnow()
        with self._db() as s:
            offer_id = store.open_offer(s, entry.call_uuid, cand, self.strategy)
            if first:
                store.set_queue_state(s, entry.call_uuid, "offering", offered_at=entry.offered_at)
        self._safe_publish("call.offered", {"call_id": entry.call_uuid, "operator": cand.username,
                                            "extension": cand.extension, "caller": entry.call.caller,
                                            "called": entry.call.called})
        log.info("acd.offer call=%s operator=%s ext=%s strategy=%s", entry.call_uuid, cand.username,
                 cand.extension, self.strategy)
        result = self.media.offer(cand.extension, self.config.acd_ring_timeout)
        entry.dial = result
        while not result.wait(0.2):
            self._tend(entry)
            if entry.ended.is_set():
                break
        entry.dial = None
        if entry.ended.is_set():  # the caller hung up while the operator's phone rang
            self._cancel_dial(result)
            with self._db() as s:
                store.close_offer(s, offer_id, "cancelled")
                store.release(s, cand.user_id, entry.call_uuid)
            self._wake()
            return True
        if result.leg is not None:
            with self._db() as s:
                store.close_offer(s, offer_id, "answered")
                store.set_state(s, cand.user_id, "oncall", "answered")
                store.release(s, cand.user_id, entry.call_uuid)
            self._connect(entry, cand, result.leg)
            return True
        failure = result.failure or "rejected"
        with self._db() as s:
            store.close_offer(s, offer_id, failure)
            if failure in ("no_answer", "busy"):
                store.set_state(s, cand.user_id, "busy", failure)  # 示忙 until the operator is back
            elif failure == "unregistered":
                store.set_state(s, cand.user_id, "offline", failure)
            with self._cond:
                entry.state, entry.operator = "queued", None
            store.set_queue_state(s, entry.call_uuid, "queued")
            store.release(s, cand.user_id, entry.call_uuid)
        log.info("acd.offer_failed call=%s operator=%s failure=%s", entry.call_uuid, cand.username, failure)
        self._wake()
        if failure == "proxy_unreachable":
            self._intake(entry, "missed", "proxy_unreachable")
            return True
        return False

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    @staticmethod
    def _cancel_dial(result) -> None:
        try:
            result.cancel()
        except Exception:  # noqa: BLE001 - ended meanwhile
            log.debug("acd.cancel_failed", exc_info=True)

    def _connect(self, entry: QueueEntry, cand: Candidate, leg) -> None:
        with self._cond:
            entry.state, entry.leg = "connected", leg
            entry.connected_at, entry.connected_mono = utcnow(), time.monotonic()
        self.media.bridge(entry.call, leg, cand.extension)
        with self._db() as s:
            store.set_queue_state(s, entry.call_uuid, "connected", connected_at=entry.connected_at,
                                  operator_id=cand.user_id, operator_extension=cand.extension)
        self._safe_publish("call.answered", {
            "call_id": entry.call_uuid, "caller": entry.call.caller, "called": entry.call.called,
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
            entry.intake_at = utcnow()
        self.media.play_intake(entry.call, closed=outcome == "out_of_hours")
        with self._db() as s:
            store.set_queue_state(s, entry.call_uuid, "intake", outcome=outcome, reason=reason)
        self._safe_publish("call.intake", {"call_id": entry.call_uuid, "reason": reason, "outcome": outcome,
                                           "caller": entry.call.caller})
        log.info("acd.intake call=%s outcome=%s reason=%s", entry.call_uuid, outcome, reason)

    # -- live calls: what telephony's command handler asks ------------------------------------------
    def in_intake(self, call_uuid: str) -> bool:
        """Is this call leaving a voice message (so "#" ends it and reads the ticket number back)?"""
        entry = self.entries.get(call_uuid)
        return entry is not None and entry.state == "intake"

    def connected_call(self, call_uuid: str) -> QueueEntry | None:
        """This process's call ``call_uuid`` if an operator is talking on it."""
        entry = self.entries.get(call_uuid)
        return entry if entry is not None and entry.state == "connected" else None

    def operator_left(self, entry: QueueEntry) -> None:
        """The operator handed the caller on (transfer): their wrap-up starts now."""
        if entry.operator is None or entry.operator_released:
            return
        entry.operator_released = True
        entry.released_mono = time.monotonic()
        self._submit(self._after_call, entry, False)

    # -- after the call: wrap-up -------------------------------------------------------------------
    def _after_call(self, entry: QueueEntry, hangup_leg: bool = True) -> None:
        cand = entry.operator
        if hangup_leg and entry.leg is not None:
            self.media.hang_up(entry.leg)
        wrapup = self.config.acd_wrapup
        with self._db() as s:
            state, _since = store.agent_state(s, cand.user_id)
            if state == "oncall":
                store.start_wrapup(s, entry.call_uuid)
                store.set_state(s, cand.user_id, "wrapup" if wrapup > 0 else "idle", "after_call")
        self._wake()
        if wrapup > 0:
            timer = threading.Timer(wrapup, self._end_wrapup, [cand.user_id])
            timer.daemon = True
            timer.start()

    def _end_wrapup(self, user_id: int) -> None:
        if self._stopped:
            return
        try:
            with self._db() as s:
                store.set_state(s, user_id, "idle", "wrapup_over", only_from=("wrapup",))
        except Exception:
            log.exception("acd.wrapup_end_failed user=%s", user_id)

    def _on_agent_state(self, _name: str, payload: dict) -> None:
        """Any presence change may free an operator for a waiting call; leaving 话后处理 ends the
        wrap-up time of the call that caused it (idempotent: every SIP process hears it)."""
        if payload.get("previous") == "wrapup" and payload.get("state") != "wrapup" and payload.get("user_id"):
            self._submit(self._store_wrapup, payload["user_id"])
        self._wake()

    def _store_wrapup(self, user_id: int) -> None:
        try:
            with self._db() as s:
                store.end_wrapup(s, user_id)
        except Exception:
            log.exception("acd.wrapup_unrecorded user=%s", user_id)

    def _on_leg_ended(self, _name: str, payload: dict) -> None:
        """The operator's phone hung up first: the hang-up side of the call is the operator."""
        entry = self.entries.get(payload.get("call_id"))
        if entry is not None and entry.operator is not None and entry.state == "connected" \
                and payload.get("extension") == entry.operator.extension:
            entry.operator_hung_up = True
