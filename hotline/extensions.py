"""Shared handles: the database, Socket.IO and Celery. Nothing here connects at import time."""
from __future__ import annotations

from contextlib import contextmanager

from celery import Celery, Task
from flask_socketio import SocketIO
from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, scoped_session, sessionmaker
from sqlalchemy.orm.session import make_transient_to_detached


class Base(DeclarativeBase):
    pass


class Database:
    """Owns the engine and a thread-scoped session factory.

    Views, tasks and telephony threads all get their session from here; services commit.
    """

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.Session = scoped_session(sessionmaker(expire_on_commit=False))

    def init(self, url: str, connect_timeout: int = 5) -> Engine:
        """``connect_timeout``: seconds a new PostgreSQL connection may take. While the database is
        down, a request fails within about that long (503, see hotline/errors.py) instead of waiting
        for the operating system's TCP timeout. Once it is back no process needs a restart: the
        first disconnect error invalidates the whole pool (SQLAlchemy), and a connection is pinged
        when checked out if it sat idle in the pool for more than ``PING_IDLE`` seconds or its socket
        has something to read (a terminated backend, a crashed server): a dead one is replaced
        before the request sees it. A busy pool's healthy connections are not pinged: a ping on
        every checkout was a round trip and about 0.3 ms of CPU per request."""
        if self.engine is not None and str(self.engine.url) == url:
            return self.engine
        if self.engine is not None:
            self.Session.remove()
            self.engine.dispose()
        kwargs: dict = {"future": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs.update(pool_size=20, max_overflow=20, pool_recycle=POOL_RECYCLE,
                          pool_timeout=max(10, 2 * connect_timeout),
                          connect_args={"connect_timeout": connect_timeout})
        engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin_immediate)
        else:
            _ping_when_idle(engine)
        self.engine = engine
        self.Session.configure(bind=engine)
        return engine

    @property
    def session(self):
        return self.Session()

    @property
    def is_sqlite(self) -> bool:
        return self.engine is not None and self.engine.dialect.name == "sqlite"

    @contextmanager
    def session_scope(self):
        """For threads outside a request (telephony, jobs): a session removed afterwards."""
        try:
            yield self.Session()
        finally:
            self.Session.remove()


def loaded_instance(cls, values: dict):
    """A detached instance of the mapped ``cls`` holding ``values`` (its row, every column) as the
    ORM's loader makes one: no per-attribute events, nothing pending, its identity key set; add it to
    a session to make it persistent there. For rows the hot path already has in hand (a new ticket
    after its INSERT, a cached town, the token's user): the declarative constructor cost more."""
    instance = inspect(cls).class_manager.new_instance()
    instance.__dict__.update(values)
    make_transient_to_detached(instance)
    return instance


def driver_execute(conn, sql: str, params: dict):
    """Run ``sql`` (compiled by SQLAlchemy for ``conn``'s dialect: ``%(name)s`` parameters, bind
    processors already applied by the caller) straight on psycopg, inside ``conn``'s transaction;
    returns psycopg's cursor. For the two statements of the API's hot path only (the bearer-token
    lookup, the ticket INSERT): SQLAlchemy's execution context around a statement cost about three
    times the statement itself (0.3 M instructions of 0.4). What it would do on failure still happens:
    the error is SQLAlchemy's (``OperationalError`` -> 503, ``IntegrityError`` -> 409) and a
    disconnect invalidates the connection, so the pool replaces it."""
    from sqlalchemy.exc import DBAPIError

    dbapi = conn.dialect.loaded_dbapi
    fairy = conn.connection
    try:
        return fairy.driver_connection.execute(sql, params, prepare=True)
    except dbapi.Error as exc:
        invalidated = conn.dialect.is_disconnect(exc, fairy.dbapi_connection, None)
        if invalidated:
            conn.invalidate(exc)
        raise DBAPIError.instance(sql, params, exc, dbapi.Error, connection_invalidated=invalidated,
                                  dialect=conn.dialect) from exc


#: seconds a pooled connection may sit unused before its next checkout pings it
PING_IDLE = 2.0
#: seconds after which a pooled connection is replaced anyway (server-side idle timeouts, failovers)
POOL_RECYCLE = 1800


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling for connections that were idle, instead of ``pool_pre_ping``
    on every checkout (SQLAlchemy's documented checkout-event recipe: raising DisconnectionError
    makes the pool discard the connection and check out another, up to three times)."""
    from time import monotonic

    from sqlalchemy.exc import DisconnectionError

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn, record):
        record.info["idle_since"] = monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn, record, _proxy):
        since = record.info.pop("idle_since", None)
        if since is None or (monotonic() - since < PING_IDLE and not _server_spoke(dbapi_conn)):
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # noqa: BLE001 - any failure of the ping means a dead connection
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc
        if alive is False:
            raise DisconnectionError("pooled connection failed its ping")


def _server_spoke(dbapi_conn) -> bool:
    """Whether the server sent something to an idle connection: a terminated backend ("terminating
    connection due to administrator command") or a crashed server leaves the socket readable. A
    system call, no round trip; then the checkout pings to find out."""
    import select

    try:
        poller = select.poll()
        poller.register(dbapi_conn.fileno(), select.POLLIN)
        return bool(poller.poll(0))
    except Exception:  # noqa: BLE001 - no socket to look at (closed): let the ping decide
        return True


def _sqlite_pragmas(dbapi_conn, _record):
    dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN itself
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin_immediate(conn):
    # Writers serialize at BEGIN instead of failing later with "database is locked".
    conn.exec_driver_sql("BEGIN IMMEDIATE")


class AppTask(Task):
    """Runs the task body inside the Flask app's context and releases the DB session afterwards.

    The app comes from ``celery.flask_app`` (set by the app shell's worker module, which creates it
    on first use in each worker process).
    """

    abstract = True

    def __call__(self, *args, **kwargs):
        with self.app.flask_app().app_context():
            try:
                return super().__call__(*args, **kwargs)
            finally:
                db.Session.remove()


def _no_flask_app():
    raise RuntimeError("Celery runs tasks only in a worker started from hotline.app.worker")


db = Database()
socketio = SocketIO()
#: packages define their tasks on this app (``@celery.task``); the app shell configures it from
#: Config and loads every package's tasks (hotline/app/worker.py)
celery = Celery("hotline", task_cls=AppTask)
celery.flask_app = _no_flask_app
