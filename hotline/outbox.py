"""The transactional outbox and its Redis transport: events survive Redis outages.

An event that describes committed data is inserted into ``event_outbox`` in the same transaction as
that data (``hotline.events.install_session_hooks``), so it exists exactly when the data does. After
the commit, the process delivers it to its own subscribers and hands it to its :class:`Relay`
thread, which publishes it on the Redis channel and marks the row relayed. When Redis is down the
rows wait; the relay retries with back-off and, once Redis answers, publishes the backlog in commit
order. Its periodic sweep also publishes rows a crashed process left unrelayed (older than
``ORPHAN_AFTER``), and prunes relayed rows after the retention period.

Every process's :class:`Listener` receives events of other processes from Redis. It reconnects with
back-off and resubscribes after any disconnect (``CLIENT KILL``, a Redis restart); then it replays
from the outbox table what was committed during its gap, because Redis pub/sub keeps nothing for
absent subscribers. Publishing twice (a sweep racing the owner, a replay racing Redis) is harmless:
every event has a unique id and the bus delivers each id once per process.

Events without data behind them (``bus.publish``: call progress, transcripts from the SIP process)
are relayed from memory by the same thread (bounded, retried), so no SIP or RTP thread ever waits on
Redis.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import DateTime, Index, Integer, String, Text, bindparam, delete, select, update
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import Base

log = logging.getLogger("hotline.events.outbox")

OWN_GRACE = timedelta(seconds=5)  # our own unrelayed row this old missed the relay (it was down)
ORPHAN_AFTER = timedelta(seconds=10)  # another process's unrelayed row this old is presumed orphaned
REPLAY_MARGIN = timedelta(seconds=30)  # replay window before a listener gap (relay delay, clock skew)
MARK_EVERY = 1.0  # relayed rows are marked in batches this often (an UPDATE cost ~8 ms of CPU: at 0.25 s it
# was 0.4 ms per ticket at 80 tickets/s; rows wait unmarked far below OWN_GRACE either way)
SWEEP_EVERY = 2.0  # seconds between sweeps for orphaned rows
PRUNE_EVERY = 300.0
BACKOFF_MIN, BACKOFF_MAX = 0.1, 5.0
TRANSIENT_MAX = 10_000  # events without an outbox row kept in memory while Redis is down
BATCH = 500


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class OutboxEvent(Base):
    """One committed domain event; ``relayed_at`` is set once Redis has it."""

    __tablename__ = "event_outbox"
    __table_args__ = (Index("ix_event_outbox_relayed_at", "relayed_at"),
                      Index("ix_event_outbox_created_at", "created_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    relayed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


TABLE = OutboxEvent.__table__


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str, separators=(",", ":"))


def outbox_row(envelope: dict) -> dict:
    """The ``event_outbox`` row of a committed event's envelope."""
    return {"event_id": envelope["id"], "name": envelope["name"], "payload": dumps(envelope["payload"]),
            "origin": envelope["origin"], "created_at": utcnow()}


def _redis_client(url: str):
    """No hidden retries: a failure surfaces at once so the loops below can back off and say so."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10, retry=Retry(NoBackoff(), 0),
                                health_check_interval=5)


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]


class Status:
    """A thread's health as /healthz reports it: None when fine, else why not (and since when)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.problem: str | None = "starting"
        self.since = time.monotonic()

    def ok(self) -> None:
        if self.problem is not None:
            log.info("events.%s_ok after=%.1fs", self.what, time.monotonic() - self.since)
            self.since = time.monotonic()
        self.problem = None

    def down(self, reason: str) -> None:
        if self.problem != reason:
            log.warning("events.%s_down reason=%s", self.what, reason)
            if self.problem is None:
                self.since = time.monotonic()
        self.problem = reason

    def healthy_for(self) -> float:
        return time.monotonic() - self.since if self.problem is None else 0.0


class Relay(threading.Thread):
    """Publishes this process's events on Redis in the order it gets them; never waits on the
    database (the :class:`Keeper` does that), so a slow or locked database delays no event."""

    def __init__(self, url: str, channel: str) -> None:
        super().__init__(daemon=True, name="events-relay")
        self.url, self.channel = url, channel
        self.status = Status("relay")
        self.keeper: Keeper | None = None
        #: durable events wait in the outbox after a failure: until the keeper has handed them
        #: over again (in commit order), fresh durable events are left to it too
        self.backlog = False
        self._queue: deque[dict] = deque()
        self._cond = threading.Condition()
        self._halt = threading.Event()
        self._busy = False

    def enqueue(self, envelopes: list[dict]) -> None:
        with self._cond:
            self._queue.extend(envelopes)
            self._cond.notify()

    def stop(self) -> None:
        self._halt.set()
        with self._cond:
            self._cond.notify()

    def flush(self, timeout: float) -> bool:
        """Wait until everything handed over so far is on Redis (tests, short-lived processes)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                if not self._queue and not self._busy and self.status.problem is None:
                    return True
            time.sleep(0.02)
        return False

    def run(self) -> None:
        client, backoff = None, BACKOFF_MIN
        while not self._halt.is_set():
            with self._cond:
                if not self._queue and self.status.problem is None:
                    self._cond.wait(timeout=SWEEP_EVERY)
                batch = list(self._queue)
                self._queue.clear()
                self._busy = True
            if self._halt.is_set():
                break
            send = [e for e in batch if not (self.backlog and e.get("durable") and not e.get("swept"))]
            try:
                client = client or _redis_client(self.url)
                if self.status.problem is not None:
                    client.ping()
                if send:
                    self._publish(client, send)
                self.status.ok()
                backoff = BACKOFF_MIN
                durable = [e["id"] for e in send if e.get("durable")]
                if self.keeper is not None and (durable or self.backlog):
                    self.keeper.relayed(durable)  # also wakes it to hand over the backlog
            except Exception as exc:  # noqa: BLE001 - Redis down: retry with back-off, say why
                self.status.down(f"redis unreachable from the relay ({_reason(exc)})")
                self._requeue(send)
                client = None
                self._halt.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
            finally:
                with self._cond:
                    self._busy = False

    def _requeue(self, batch: list[dict]) -> None:
        """Durable events wait in the outbox (the keeper hands them over again, in order); the
        others wait here, oldest first, at most TRANSIENT_MAX of them."""
        durable = [e["id"] for e in batch if e.get("durable")]
        if durable and self.keeper is not None:
            self.backlog = True
            self.keeper.failed(durable)
        keep = [e for e in batch if not e.get("durable") or self.keeper is None]
        with self._cond:
            self._queue.extendleft(reversed(keep))
            while len(self._queue) > TRANSIENT_MAX:
                dropped = self._queue.popleft()
                log.warning("events.relay_dropped name=%s id=%s", dropped["name"], dropped["id"])

    def _publish(self, client, envelopes: list[dict]) -> None:
        messages = [dumps({k: e[k] for k in ("id", "name", "payload", "origin", "ts")}) for e in envelopes]
        if len(messages) == 1:  # the usual case between commits: a pipeline object costs more than it saves
            client.publish(self.channel, messages[0])
            return
        pipe = client.pipeline(transaction=False)
        for message in messages:
            pipe.publish(self.channel, message)
        pipe.execute()


class Keeper(threading.Thread):
    """The outbox's database side: marks relayed rows, hands unrelayed ones to the relay again (our
    backlog after an outage, rows of crashed processes), prunes old rows."""

    def __init__(self, engine, origin: str, relay: Relay, retention: timedelta) -> None:
        super().__init__(daemon=True, name="events-outbox")
        self.engine, self.origin, self.relay, self.retention = engine, origin, relay, retention
        relay.keeper = self
        self.status = Status("outbox")
        self._marks: list[str] = []
        self._inflight: set[str] = set()  # handed to the relay by a sweep, not yet marked
        self._cond = threading.Condition()
        self._halt = threading.Event()
        self._next_sweep = self._next_prune = 0.0

    def relayed(self, event_ids: list[str]) -> None:
        with self._cond:
            self._marks.extend(event_ids)
            self._cond.notify()

    def failed(self, event_ids: list[str]) -> None:
        with self._cond:
            self._inflight.difference_update(event_ids)

    def stop(self) -> None:
        self._halt.set()
        with self._cond:
            self._cond.notify()

    def run(self) -> None:
        backoff = BACKOFF_MIN
        while not self._halt.is_set():
            with self._cond:
                if not self._marks and self.status.problem is None:
                    self._cond.wait(timeout=max(0.05, self._next_sweep - time.monotonic()))
            if self._marks and not self.relay.backlog:
                self._halt.wait(MARK_EVERY)  # one UPDATE for every row relayed meanwhile, not one per commit
            with self._cond:
                marks, self._marks = self._marks, []
            if self._halt.is_set():
                break
            try:
                if marks:
                    self._mark(marks)
                    with self._cond:
                        self._inflight.difference_update(marks)
                now = time.monotonic()
                if now >= self._next_sweep or (self.relay.backlog and self.relay.status.problem is None):
                    self._sweep()
                    self._next_sweep = now + SWEEP_EVERY
                if now >= self._next_prune:
                    self._prune()
                    self._next_prune = now + PRUNE_EVERY
                self.status.ok()
                backoff = BACKOFF_MIN
            except Exception as exc:  # noqa: BLE001 - database down or locked: retry, say why
                self.status.down(f"outbox table unreachable ({_reason(exc)})")
                with self._cond:
                    self._marks[:0] = marks
                self._halt.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)

    def _mark(self, event_ids: list[str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(TABLE).where(TABLE.c.event_id.in_(bindparam("ids", expanding=True)))
                         .values(relayed_at=utcnow()), {"ids": event_ids})

    def _sweep(self) -> None:
        """Unrelayed rows, oldest first, to the relay: ours of any age (the backlog of an outage),
        and other processes' rows older than ORPHAN_AFTER once the relay has been healthy that long
        (so live owners drain their own backlog first and orphans are not published by everyone)."""
        if self.relay.status.problem is not None:
            return
        orphans = self.relay.status.healthy_for() >= ORPHAN_AFTER.total_seconds()
        cond = TABLE.c.origin == self.origin
        if not self.relay.backlog:  # else fresh rows are on their way through the relay already
            cond = cond & (TABLE.c.created_at < utcnow() - OWN_GRACE)
        if orphans:
            cond = cond | (TABLE.c.created_at < utcnow() - ORPHAN_AFTER)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(TABLE.c.event_id, TABLE.c.name, TABLE.c.payload, TABLE.c.origin, TABLE.c.created_at)
                .where(TABLE.c.relayed_at.is_(None), cond).order_by(TABLE.c.id).limit(BATCH)).all()
        with self._cond:
            rows = [r for r in rows if r.event_id not in self._inflight]
            self._inflight.update(r.event_id for r in rows)
        if not any(r.origin == self.origin for r in rows):
            self.relay.backlog = False
        if rows:
            self.relay.enqueue([dict(envelope_from_row(r), durable=True, swept=True) for r in rows])
            log.info("events.outbox_swept rows=%d", len(rows))

    def _prune(self) -> None:
        with self.engine.begin() as conn:
            n = conn.execute(delete(TABLE).where(TABLE.c.relayed_at < utcnow() - self.retention)).rowcount
        if n:
            log.info("events.outbox_pruned rows=%d", n)


def envelope_from_row(row) -> dict:
    return {"id": row.event_id, "name": row.name, "payload": json.loads(row.payload), "origin": row.origin,
            "ts": row.created_at.replace(tzinfo=timezone.utc).timestamp() * 1000}


class Listener(threading.Thread):
    """Receives other processes' events from Redis; reconnects with back-off and resubscribes, then
    replays what the outbox committed during the gap."""

    def __init__(self, url: str, channel: str, engine, deliver: Callable[[dict], None]) -> None:
        super().__init__(daemon=True, name="events-redis-listener")
        self.url, self.channel, self.engine, self.deliver = url, channel, engine, deliver
        self.status = Status("listener")
        self._halt = threading.Event()
        self.connects = 0  # successful subscriptions so far (the first one and every resubscription)
        self._gap_since: datetime | None = None

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        backoff = BACKOFF_MIN
        while not self._halt.is_set():
            pubsub = None
            try:
                pubsub = _redis_client(self.url).pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                pubsub.get_message(timeout=1.0)  # the subscribe confirmation: we are listening from here
                self.status.ok()
                backoff = BACKOFF_MIN
                if self._gap_since is not None:
                    self._replay(self._gap_since)
                self._gap_since = None
                self.connects += 1
                self._receive(pubsub)
            except Exception as exc:  # noqa: BLE001 - Redis (or, in a replay, the database) failed
                if self._gap_since is None:  # also before a first connection: events may wait meanwhile
                    self._gap_since = utcnow()
                self.status.down(f"redis unreachable from the listener ({_reason(exc)})")
                self._halt.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:  # noqa: BLE001 - closing a dead connection
                        pass

    def _receive(self, pubsub) -> None:
        while not self._halt.is_set():
            message = pubsub.get_message(timeout=1.0)
            if not message:
                continue
            try:
                envelope = json.loads(message["data"])
            except (ValueError, TypeError):
                log.warning("event.redis_bad_message")
                continue
            if isinstance(envelope, dict):
                self.deliver(envelope)

    def _replay(self, gap_since: datetime) -> None:
        """What the outbox committed around the gap, oldest first; the bus drops ids it has seen."""
        if self.engine is None:
            return
        since = gap_since - REPLAY_MARGIN
        last_id, count = 0, 0
        while not self._halt.is_set():
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(TABLE.c.id, TABLE.c.event_id, TABLE.c.name, TABLE.c.payload, TABLE.c.origin,
                           TABLE.c.created_at)
                    .where(TABLE.c.id > last_id,
                           (TABLE.c.created_at >= since) | TABLE.c.relayed_at.is_(None) | (TABLE.c.relayed_at >= since))
                    .order_by(TABLE.c.id).limit(BATCH)).all()
            for row in rows:
                self.deliver(envelope_from_row(row))
            count += len(rows)
            if len(rows) < BATCH:
                break
            last_id = rows[-1].id
        log.info("events.listener_replayed rows=%d since=%s", count, since.isoformat())
