"""What the consoles know about live calls: an in-memory board fed by telephony's events.

Every web process subscribes to the event bus (with REDIS_URL the bus carries the SIP process's
events to every web process), so each process keeps the same board without a shared store. It
serves catch-up after a reconnect (current call and transcript so far) and the wallboard's live
counters (waiting, talking). Ended calls stay for ``KEEP_ENDED`` seconds so an operator still
registering a ticket after hang-up can reload and see the transcript. Today's call KPIs are not
counted here: they are supervision's rollup (``supervision.kpis.calls_today``), one computation.
"""
from __future__ import annotations

import threading
import time

KEEP_ENDED = 30 * 60
MAX_SEGMENTS = 400
QUEUE_STATES = {"call.queued": "queued", "call.offered": "offering", "call.intake": "intake"}
TARGET_KEYS = ("operator", "extension")  # the operator a call event names: username, SIP extension
#: the events that say whose call it is (the operator it is offered to / who took it); the
#: extensions in call.consult, call.bridged, call.transferred... are other parties, not the owner
OWNER_EVENTS = ("call.ringing", "call.offered", "call.answered")


class CallBoard:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: dict[str, dict] = {}

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()

    def _call(self, name: str, payload: dict) -> dict:
        call_id = str(payload["call_id"])
        call = self.calls.get(call_id)
        if call is None:
            call = self.calls[call_id] = {
                "call_id": call_id, "caller": payload.get("caller"), "called": payload.get("called"),
                "state": "ringing", "ringing_at": time.time(), "answered_at": None, "ended_at": None,
                "segments": [], "partial": {}, "ticket": None, "target": None, "info": {}}
        for key in TARGET_KEYS if name in OWNER_EVENTS else ():
            if payload.get(key):
                call["target"] = str(payload[key])
        for key in ("recording", "recording_url", "transcription", "transcription_note", "connected",
                    "wait_seconds", "position", "reason", "outcome"):
            if key in payload:
                call["info"][key] = payload[key]
        return call

    def apply(self, name: str, payload: dict) -> None:
        """Update the board from one domain event (non-call events are ignored)."""
        if not (name.startswith("call.") or name.startswith("transcript.")):
            return
        with self._lock:
            if str(payload.get("call_id")) not in self.calls:
                if name in ("call.ended", "call.ticket"):
                    return
                if name.startswith("transcript."):
                    self._call(name, payload)["state"] = "talking"
            call = self._call(name, payload)
            now = time.time()
            if name == "call.ringing":
                call["ringing_at"] = now
            elif name == "call.answered":
                # with the queue, the endpoint's answer only starts the wait; an operator taking
                # the call (``connected``) is the answer the console shows
                if call["answered_at"] is None or payload.get("connected"):
                    call["answered_at"] = now
                call["state"] = "talking"
            elif name in QUEUE_STATES:  # the queue: waiting, ringing an operator, sent to voice intake
                call["state"] = QUEUE_STATES[name]
                call["queued"] = True
            elif name == "transcript.partial":
                call["partial"][payload.get("speaker") or "caller"] = payload.get("text", "")
            elif name == "transcript.final":
                speaker = payload.get("speaker") or "caller"
                call["partial"].pop(speaker, None)
                if payload.get("text"):
                    call["segments"].append({"text": payload["text"], "start": payload.get("start"),
                                             "end": payload.get("end"), "speaker": speaker})
                    del call["segments"][:-MAX_SEGMENTS]
            elif name == "call.ended":
                call["state"] = "ended"
                call["ended_at"] = now
                call["partial"] = {}
                call["info"]["duration"] = payload.get("duration")
                call["info"]["cause"] = payload.get("cause")
            elif name == "call.ticket":
                key = "linked_ticket" if payload.get("source") == "console" else "ticket"
                call[key] = payload.get("number")
            self._expire(now)

    def _expire(self, now: float) -> None:
        for call_id in [c["call_id"] for c in self.calls.values()
                        if c["ended_at"] and now - c["ended_at"] > KEEP_ENDED]:
            del self.calls[call_id]

    def visible_to(self, targets: set[str] | None) -> list[dict]:
        """Calls for an operator (``targets`` = their username and extension) or all (None)."""
        with self._lock:
            self._expire(time.time())
            rows = [c for c in self.calls.values()
                    if targets is None or c["target"] is None or c["target"] in targets]
            return [self._view(c) for c in sorted(rows, key=lambda c: c["ringing_at"])]

    @staticmethod
    def _view(call: dict) -> dict:
        out = {k: v for k, v in call.items() if k not in ("segments", "partial")}
        out["segments"] = list(call["segments"])
        out["partial"] = dict(call["partial"])
        return out

    def counters(self, *, unqueued_only: bool = False) -> dict:
        """Calls live now: waiting (ringing, queued, being offered) and talking. ``unqueued_only``:
        only calls that never entered the call queue (no queue: the embedded default without a
        SIP proxy); queued calls are counted from the shared queue rows, the same on every web."""
        with self._lock:
            calls = [c for c in self.calls.values() if not (unqueued_only and c.get("queued"))]
            waiting = sum(1 for c in calls if c["state"] in ("ringing", "queued", "offering"))
            talking = sum(1 for c in calls if c["state"] == "talking")
            return {"waiting": waiting, "talking": talking}


board = CallBoard()
