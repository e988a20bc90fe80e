"""The one catalogue of domain events, and the bus that carries them.

Services publish after commit (``publish_after_commit``); subscribers are Socket.IO rooms, jobs and
tests. In the embedded default delivery is in-process. With ``REDIS_URL`` set, every event is also
published on the Redis channel ``hotline:events:<db>`` (the database number of REDIS_URL) so other
processes of the deployment (the ``sip`` process, other web processes) see it; each process ignores
its own echoes.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections import defaultdict
from typing import Callable

log = logging.getLogger("hotline.events")

CHANNEL = "hotline:events"


def redis_channel(base: str, url: str) -> str:
    """`base` scoped to the Redis database of `url`: Redis pub/sub ignores the database number, so
    two deployments (or test runs) sharing one Redis on different databases would otherwise hear
    each other's events. Every process of one deployment uses the same REDIS_URL, hence the same
    channel."""
    from redis.connection import parse_url

    return f"{base}:{parse_url(url).get('db', 0)}"

#: name -> required payload keys. Extra keys are allowed; missing ones are a programming error.
CATALOGUE: dict[str, tuple[str, ...]] = {
    # the case record
    "ticket.created": ("number", "status", "type", "channel"),
    "ticket.changed": ("number", "action", "from_status", "to_status", "actor", "departments"),
    # telephony
    "call.ringing": ("call_id", "caller", "called"),
    "call.answered": ("call_id", "caller"),
    "transcript.partial": ("call_id", "text", "start", "end"),
    "transcript.final": ("call_id", "text", "start", "end"),
    "call.ended": ("call_id", "caller", "duration", "cause"),
    "call.ticket": ("call_id", "number"),
    # the queue (ACD, issue 7): waiting, offered to an operator's phone, sent to voice intake
    "call.queued": ("call_id", "caller", "position"),
    "call.offered": ("call_id", "operator", "extension"),
    "call.intake": ("call_id", "reason"),
    # the bridge (issue 7): a leg (operator, department, emergency) joined or left the citizen's call;
    # hold; transfers (kind blind/consult/emergency) and three-party calls, for the ticket history
    "call.bridged": ("call_id", "leg", "extension"),
    "call.leg_ended": ("call_id", "leg", "extension", "cause"),
    "call.hold": ("call_id", "held"),
    "call.consult": ("call_id", "extension", "state"),
    "call.transferred": ("call_id", "kind", "extension", "from_leg"),
    "call.transfer_failed": ("call_id", "kind", "extension", "failure"),
    "call.conference": ("call_id", "extension", "parties"),
    # console -> SIP process: an operator's command on their current call, and its result
    "call.command": ("call_id", "command", "operator"),
    "call.command_result": ("call_id", "command", "operator", "ok"),
    # supervision
    "deadline.card": ("number", "card", "deadline_kind", "department"),
    "urging.created": ("number", "urging_id", "department"),
    "urging.acknowledged": ("number", "urging_id", "department"),
    "urging.escalated": ("number", "urging_id", "department"),
    # consoles: operator presence (示闲/示忙/小休/话后处理/离线), read by the ACD
    "agent.state": ("user", "state"),
}

Handler = Callable[[str, dict], None]


class UnknownEvent(KeyError):
    pass


class EventBus:
    def __init__(self) -> None:
        self._subs: dict[str, list[Handler]] = defaultdict(list)
        self._lock = threading.Lock()
        self.origin = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._redis = None
        self._channel = CHANNEL
        self._listener: threading.Thread | None = None
        self._stop = threading.Event()

    # -- subscription -------------------------------------------------------------------------
    def subscribe(self, name: str, handler: Handler, *, remote: bool = True) -> Callable[[], None]:
        """Subscribe to one event name or ``"*"``; returns an unsubscribe function.

        ``remote=False``: only events published in this process. Use it for handlers that do work
        (enqueue jobs, write rows): every process that publishes also subscribes, so each event is
        handled exactly once, by the process whose commit produced it, however many processes
        receive it over Redis.
        """
        if name != "*" and name not in CATALOGUE:
            raise UnknownEvent(name)
        entry = (handler, remote)
        with self._lock:
            self._subs[name].append(entry)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._subs[name]:
                    self._subs[name].remove(entry)

        return unsubscribe

    def clear(self) -> None:
        with self._lock:
            self._subs.clear()

    # -- publishing ---------------------------------------------------------------------------
    def publish(self, name: str, payload: dict) -> None:
        if name not in CATALOGUE:
            raise UnknownEvent(name)
        missing = [k for k in CATALOGUE[name] if k not in payload]
        if missing:
            raise ValueError(f"event {name} lacks {missing}")
        self._deliver(name, payload)
        if self._redis is not None:
            try:
                self._redis.publish(self._channel, json.dumps(
                    {"name": name, "payload": payload, "origin": self.origin},
                    ensure_ascii=False, default=str))
            except Exception:  # the local delivery already happened; Redis outage is logged
                log.exception("event.redis_publish_failed name=%s", name)

    def publish_after_commit(self, session, name: str, payload: dict) -> None:
        """Queue an event on a SQLAlchemy session; it is published only if the commit succeeds."""
        pending = session.info.setdefault("pending_events", [])
        pending.append((name, payload))

    def _deliver(self, name: str, payload: dict, *, from_remote: bool = False) -> None:
        with self._lock:
            entries = list(self._subs.get(name, ())) + list(self._subs.get("*", ()))
        for handler, remote in entries:
            if from_remote and not remote:
                continue
            try:
                handler(name, payload)
            except Exception:
                log.exception("event.handler_failed name=%s handler=%r", name, handler)

    # -- Redis transport ----------------------------------------------------------------------
    def connect_redis(self, url: str, listen: bool = True) -> None:
        import redis

        self._redis = redis.Redis.from_url(url)
        self._channel = redis_channel(CHANNEL, url)
        if listen and self._listener is None:
            self._stop.clear()
            self._listener = threading.Thread(target=self._listen, args=(url,), daemon=True,
                                              name="events-redis-listener")
            self._listener.start()

    def disconnect_redis(self) -> None:
        self._stop.set()
        self._redis = None
        self._listener = None

    def _listen(self, url: str) -> None:
        import redis

        client = redis.Redis.from_url(url)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(self._channel)
        while not self._stop.is_set():
            message = pubsub.get_message(timeout=0.5)
            if not message:
                continue
            try:
                data = json.loads(message["data"])
            except (ValueError, TypeError):
                log.warning("event.redis_bad_message")
                continue
            if data.get("origin") == self.origin or data.get("name") not in CATALOGUE:
                continue
            self._deliver(data["name"], data.get("payload") or {}, from_remote=True)
        pubsub.close()


bus = EventBus()


def install_session_hooks(session_factory) -> None:
    """Publish queued events after commit, drop them after rollback."""
    from sqlalchemy import event

    @event.listens_for(session_factory, "after_commit")
    def _after_commit(session):
        pending = session.info.pop("pending_events", [])
        for name, payload in pending:
            bus.publish(name, payload)

    @event.listens_for(session_factory, "after_rollback")
    def _after_rollback(session):
        session.info.pop("pending_events", None)


publish = bus.publish
publish_after_commit = bus.publish_after_commit
subscribe = bus.subscribe
