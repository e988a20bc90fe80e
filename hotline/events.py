"""The one catalogue of domain events, and the bus that carries them.

Services queue events on their session (``publish_after_commit``); subscribers are Socket.IO rooms,
jobs and tests. In the embedded default (no Redis) the events are delivered in-process after the
commit. With ``REDIS_URL`` set, they are also written to the outbox table in the same transaction
as the data they describe, and relayed to the Redis channel ``hotline:events:<db>`` (the database
number of REDIS_URL) so other processes (the ``sip`` process, other web processes, workers) see
them, even after a Redis outage (``hotline.outbox``). Every event has a unique id; each process
delivers each id once, whichever way it arrives.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import OrderedDict, defaultdict
from datetime import timedelta
from typing import Callable

from pydantic import BaseModel, ConfigDict, ValidationError

log = logging.getLogger("hotline.events")

CHANNEL = "hotline:events"


def redis_channel(base: str, url: str) -> str:
    """`base` scoped to the Redis database of `url`: Redis pub/sub ignores the database number, so
    two deployments (or test runs) sharing one Redis on different databases would otherwise hear
    each other's events. Every process of one deployment uses the same REDIS_URL, hence the same
    channel."""
    from redis.connection import parse_url

    return f"{base}:{parse_url(url).get('db', 0)}"

#: name -> the package that emits it and owns its payload schema (``<package>/events.py``, which
#: registers the schema here when imported: the core never imports the packages).
CATALOGUE: dict[str, str] = {
    # the case record
    "ticket.created": "ticketing",
    "ticket.changed": "ticketing",
    "urging.acknowledged": "ticketing",
    # telephony: the call, its transcript, the ticket drafted for it
    "call.ringing": "telephony",
    "call.answered": "telephony",
    "transcript.partial": "telephony",
    "transcript.final": "telephony",
    "call.ended": "telephony",
    "call.ticket": "telephony",  # also published by the console when an operator links a ticket
    # call distribution (routing's queue): waiting, offered to an operator's phone, sent to voice
    # intake; operator presence (示闲/示忙/小休/话后处理/离线)
    "call.queued": "routing",
    "call.offered": "routing",
    "call.intake": "routing",
    "agent.state": "routing",
    # the bridge: a leg (operator, department, emergency) joined or left the citizen's call; hold;
    # transfers (kind blind/consult/emergency) and three-party calls, for the ticket history
    "call.bridged": "telephony",
    "call.leg_ended": "telephony",
    "call.hold": "telephony",
    "call.consult": "telephony",
    "call.transferred": "telephony",
    "call.transfer_failed": "telephony",
    "call.conference": "telephony",
    "call.command_result": "telephony",
    # consoles: an operator's command on their current call (to the SIP process)
    "call.command": "agent_console",
    # 联系诉求人: a department asked the hotline to connect its clerk with the citizen (to the
    # SIP process), and how that call goes (to the clerk's console); neither carries the number
    "contact.requested": "ticketing",
    "contact.progress": "telephony",
    # supervision
    "deadline.card": "supervision",
    "urging.created": "supervision",
    "urging.escalated": "supervision",
    "hotspot.detected": "supervision",  # a hot-topic spike (matter x town x day), once per spike
    # identity: every session and token of a user ended (logout, password change, revocation,
    # deactivation); consoles drop that user's open sockets
    "user.sessions_ended": "hotline",
}


class EventPayload(BaseModel):
    """Base of every event payload schema: exactly the declared fields, one name per fact."""

    model_config = ConfigDict(extra="forbid")


#: name -> its payload schema, filled by the owning packages (``register``)
SCHEMAS: dict[str, type[EventPayload]] = {}


class UnknownEvent(KeyError):
    pass


class InvalidEvent(ValueError):
    """A payload that does not match its event's schema (or an event without a schema)."""


def register(owner: str, schemas: dict[str, type[EventPayload]]) -> None:
    """Called by a package's ``events`` module: the payload schemas of the events it emits."""
    for name, schema in schemas.items():
        if name not in CATALOGUE:
            raise UnknownEvent(name)
        if CATALOGUE[name] != owner:
            raise InvalidEvent(f"{name} is owned by {CATALOGUE[name]}, not {owner}")
        if SCHEMAS.get(name) not in (None, schema):
            raise InvalidEvent(f"{name} already has a schema")
        SCHEMAS[name] = schema


class SessionsEnded(EventPayload):
    """The core's own event (``hotline.accounts``): every session and token of a user ended."""

    user_id: int
    username: str
    reason: str


register("hotline", {"user.sessions_ended": SessionsEnded})


def validate(name: str, payload: dict) -> None:
    """Raise unless `payload` is a valid `name` event (its owner's schema, nothing else)."""
    if name not in CATALOGUE:
        raise UnknownEvent(name)
    schema = SCHEMAS.get(name)
    if schema is None:
        raise InvalidEvent(f"event {name} has no schema: {CATALOGUE[name]}.events registers it")
    try:
        schema.model_validate(payload)
    except ValidationError as exc:
        raise InvalidEvent(f"event {name}: {exc}") from None


Handler = Callable[[str, dict], None]

#: how many recently delivered event ids each process remembers to drop duplicates
SEEN_MAX = 100_000


class EventBus:
    def __init__(self) -> None:
        self._subs: dict[str, list[tuple[Handler, bool]]] = defaultdict(list)
        self._lock = threading.Lock()
        self.origin = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.rejected: list[tuple[str, str]] = []
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._seen_lock = threading.Lock()
        self._current = threading.local()
        self._url: str | None = None
        self._engine = None
        self._channel = CHANNEL
        self._relay = None
        self._keeper = None
        self._listener = None

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

    @property
    def current(self) -> dict | None:
        """The envelope being delivered on this thread (``id``, ``name``, ``origin``, ``ts`` in ms
        since the epoch at commit/publish time), for subscribers that pass the id on (console frames)."""
        return getattr(self._current, "envelope", None)

    # -- publishing ---------------------------------------------------------------------------
    def check(self, name: str, payload: dict) -> None:
        """Publishing validates: a bad payload is the publisher's bug, raised where it is made
        (and remembered in ``rejected`` for the tests' recorder, in case a caller swallows it)."""
        try:
            validate(name, payload)
        except (UnknownEvent, InvalidEvent) as exc:
            self.rejected.append((name, str(exc)))
            del self.rejected[:-100]
            raise

    def envelope(self, name: str, payload: dict, durable: bool = False) -> dict:
        return {"id": uuid.uuid4().hex, "name": name, "payload": payload, "origin": self.origin,
                "ts": round(time.time() * 1000, 2), "durable": durable}

    def publish(self, name: str, payload: dict) -> None:
        """An event with no committed data behind it (call progress, transcripts): delivered here
        at once and handed to the relay thread for other processes; never waits on Redis."""
        self.check(name, payload)
        envelope = self.envelope(name, payload)
        self._deliver(envelope)
        if self._relay is not None:
            self._relay.enqueue([envelope])

    def publish_after_commit(self, session, name: str, payload: dict) -> dict:
        """Queue an event on a SQLAlchemy session: written to the outbox with the commit (when the
        deployment has Redis), delivered after the commit succeeds, dropped on rollback. Returns
        the queued envelope (for ``claim_outbox_row``)."""
        self.check(name, payload)
        envelope = self.envelope(name, payload, durable=True)
        session.info.setdefault("pending_events", []).append(envelope)
        return envelope

    def claim_outbox_row(self, envelope: dict) -> dict | None:
        """For a hot path that writes the outbox row of a queued envelope in its own statement (one
        round trip fewer than the commit hook's INSERT): the row's values, and the commit hook then
        leaves that envelope's row alone. None when this deployment has no outbox (nothing to write).
        The row belongs to the caller's transaction: a rollback drops it with the event."""
        if not self.uses_outbox:
            return None
        from .outbox import outbox_row

        envelope["stored"] = True
        return outbox_row(envelope)

    @property
    def uses_outbox(self) -> bool:
        return self._keeper is not None

    def _first_time(self, event_id: str | None) -> bool:
        if event_id is None:
            return True
        with self._seen_lock:
            if event_id in self._seen:
                return False
            self._seen[event_id] = None
            if len(self._seen) > SEEN_MAX:
                self._seen.popitem(last=False)
            return True

    def _deliver(self, envelope: dict, *, from_remote: bool = False) -> None:
        if not self._first_time(envelope.get("id")):
            return
        name, payload = envelope["name"], envelope["payload"]
        with self._lock:
            entries = list(self._subs.get(name, ())) + list(self._subs.get("*", ()))
        previous = self.current
        self._current.envelope = envelope
        try:
            for handler, remote in entries:
                if from_remote and not remote:
                    continue
                try:
                    handler(name, payload)
                except Exception:
                    log.exception("event.handler_failed name=%s handler=%r", name, handler)
        finally:
            self._current.envelope = previous

    def _deliver_remote(self, envelope: dict) -> None:
        """From the Redis listener (or its replay of the outbox): other processes' events only."""
        if envelope.get("origin") == self.origin or envelope.get("name") not in CATALOGUE:
            return
        if not isinstance(envelope.get("payload"), dict):
            return
        self._deliver(envelope, from_remote=True)

    # -- Redis transport ----------------------------------------------------------------------
    def connect_redis(self, url: str, listen: bool = True, engine=None,
                      retention: timedelta = timedelta(hours=24)) -> None:
        """Start the relay (and the listener) for `url`; with `engine`, events of committed data
        go through the outbox table. Idempotent for the same url and engine."""
        from .outbox import Keeper, Listener, Relay

        if self._url == url and self._engine is engine and self._relay is not None and self._relay.is_alive():
            if listen and (self._listener is None or not self._listener.is_alive()):
                self._start_listener(Listener)
            return
        self.disconnect_redis()
        self._url, self._engine = url, engine
        self._channel = redis_channel(CHANNEL, url)
        self._relay = Relay(url, self._channel)
        if engine is not None:
            self._keeper = Keeper(engine, self.origin, self._relay, retention)
            self._keeper.start()
        self._relay.start()
        if listen:
            self._start_listener(Listener)

    def _start_listener(self, listener_cls) -> None:
        self._listener = listener_cls(self._url, self._channel, self._engine, self._deliver_remote)
        self._listener.start()

    def _threads(self) -> list:
        return [t for t in (self._relay, self._keeper, self._listener) if t is not None]

    def disconnect_redis(self) -> None:
        threads = self._threads()
        for thread in threads:
            thread.stop()
        for thread in threads:
            thread.join(timeout=10)
        self._relay = self._keeper = self._listener = None
        self._url = self._engine = None

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the events handed to the relay so far are on Redis (short-lived processes)."""
        return self._relay is None or self._relay.flush(timeout)

    def health(self) -> list[str]:
        """Why cross-process events are not flowing right now; empty when they are (or when the
        deployment has no Redis: in-process delivery cannot be down)."""
        reasons = []
        for thread in self._threads():
            if not thread.is_alive():
                reasons.append(f"event {thread.status.what} thread stopped")
            elif thread.status.problem is not None:
                down_for = time.monotonic() - thread.status.since
                reasons.append(f"event {thread.status.what}: {thread.status.problem} (for {down_for:.0f} s)")
        return reasons


    def _after_fork(self) -> None:
        """A forked child (gunicorn/Celery without preload is fine; with it, this) is a process of
        its own: its own origin, no threads of its parent (create_app in the child starts them)."""
        self.origin = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._relay = self._keeper = self._listener = None
        self._url = self._engine = None


bus = EventBus()
os.register_at_fork(after_in_child=bus._after_fork)


def install_session_hooks(session_factory) -> None:
    """Outbox rows are inserted before the commit; events are delivered after it, dropped on rollback."""
    from sqlalchemy import event, insert

    from .outbox import TABLE, outbox_row

    insert_outbox = insert(TABLE)  # built once: it runs with every commit that carries events

    @event.listens_for(session_factory, "before_commit")
    def _before_commit(session):
        pending = session.info.get("pending_events")
        if not pending or not bus.uses_outbox:
            return
        rows = [outbox_row(e) for e in pending if not e.get("stored")]
        if rows:
            session.execute(insert_outbox, rows)

    @event.listens_for(session_factory, "after_commit")
    def _after_commit(session):
        pending = session.info.pop("pending_events", [])
        if not pending:
            return
        stamp = round(time.time() * 1000, 2)
        for envelope in pending:
            envelope["ts"] = stamp
            bus._deliver(envelope)
        relay = bus._relay
        if relay is not None:
            if not bus.uses_outbox:  # no outbox row was written: relay from memory
                for envelope in pending:
                    envelope["durable"] = False
            relay.enqueue(pending)

    @event.listens_for(session_factory, "after_rollback")
    def _after_rollback(session):
        session.info.pop("pending_events", None)


publish = bus.publish
publish_after_commit = bus.publish_after_commit
subscribe = bus.subscribe


class Subscriptions:
    """One owner's handlers on the bus (a package's per-app state), all ``remote=False``: the
    process whose commit produced an event does the work, once. ``replace`` drops the old set before
    subscribing the new one (wiring twice is harmless); ``stop`` drops them all."""

    def __init__(self) -> None:
        self._unsubscribe: list[Callable[[], None]] = []

    def replace(self, handlers: list[tuple[str, Handler]]) -> None:
        self.stop()
        self._unsubscribe.extend(bus.subscribe(name, handler, remote=False) for name, handler in handlers)

    def stop(self) -> None:
        while self._unsubscribe:
            self._unsubscribe.pop()()
