"""Shared fixtures: the app on SQLite and on a real PostgreSQL, Redis, and service detection.

Services: PostgreSQL at DATABASE_TEST_URL (default the machine's 127.0.0.1:5432/test) and Redis at
REDIS_TEST_URL (default the server at 127.0.0.1:6379, where each test process claims a database 1-15). When one is missing, its tests are skipped and the run
ends with a loud notice saying how to enable them; with CI=true a missing service is a failure.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, text

from sqlalchemy.engine import make_url

#: the server's database we connect to first; each pytest process then works in its own database
#: (created from it, dropped at the end) so concurrent runs never see each other's rows
PG_ADMIN_URL = os.environ.get("DATABASE_TEST_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_URL = make_url(PG_ADMIN_URL).set(database=f"hotline_test_{os.getpid()}").render_as_string(hide_password=False)
#: Redis server for the tests; each pytest process (an xdist worker or a separate run) claims one
#: of its numbered databases 1-15 (see _claim_redis_db), so concurrent runs never flush each other's
REDIS_SERVER_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0")
REDIS_URL: str | None = None
IN_CI = os.environ.get("CI", "").lower() == "true"
HOW_TO = {
    "postgres": "start PostgreSQL on 127.0.0.1:5432 with a database 'test' (trust auth) or set DATABASE_TEST_URL",
    "redis": "start redis-server on 127.0.0.1:6379 or set REDIS_TEST_URL",
}
_missing: dict[str, str] = {}
_checked: dict[str, str | None] = {}


def _pg_available() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return str(exc).splitlines()[0]


def _redis_available() -> str | None:
    try:
        _claim_redis_db()
        return None
    except Exception as exc:  # noqa: BLE001
        return str(exc).splitlines()[0]


_CLAIM_KEY = "hotline-test:claimed-db:{}"


def _claim_redis_db() -> str:
    """Claim a free numbered database for this process: a key on database 0 names the owner's pid
    and expires (a crashed run frees its database after 6 h; a live one renews it per claim)."""
    global REDIS_URL
    if REDIS_URL is not None:
        return REDIS_URL
    import redis

    server = redis.Redis.from_url(REDIS_SERVER_URL, db=0, socket_connect_timeout=1)
    for index in range(1, 16):
        key = _CLAIM_KEY.format(index)
        if server.set(key, os.getpid(), nx=True, ex=6 * 3600):
            REDIS_URL = urlsplit(REDIS_SERVER_URL)._replace(path=f"/{index}").geturl()
            return REDIS_URL
    raise RuntimeError("all 15 test databases of Redis are claimed by other test runs")


def _release_redis_db() -> None:
    if REDIS_URL is None:
        return
    import redis

    index = REDIS_URL.rsplit("/", 1)[1]
    server = redis.Redis.from_url(REDIS_SERVER_URL, db=0, socket_connect_timeout=1)
    if server.get(_CLAIM_KEY.format(index)) == str(os.getpid()).encode():
        server.delete(_CLAIM_KEY.format(index))


def require_service(name: str) -> None:
    """Skip (or, under CI, fail) a test whose service is not running (checked once per run)."""
    if name not in _checked:
        _checked[name] = {"postgres": _pg_available, "redis": _redis_available}[name]()
    problem = _checked[name]
    if problem is None:
        return
    _missing[name] = problem
    message = f"{name} unavailable ({problem}); to enable: {HOW_TO[name]}"
    if IN_CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)



#: modules that run real-time media or start and kill whole process sets without the ``sip`` marker:
#: with the ``sip`` ones they form one xdist group, so they run one after another on one worker
#: while the other worker runs the rest (``make test`` runs two workers, --dist loadgroup)
REALTIME_MODULES = {"test_intake_readback", "test_failover_celery", "test_failover_web", "test_failover_postgres"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("sip") or item.module.__name__.rsplit(".", 1)[-1] in REALTIME_MODULES:
            item.add_marker(pytest.mark.xdist_group("realtime"))


if importlib.util.find_spec("xdist") is not None:
    def pytest_testnodedown(node, error):
        """The controller collects what each worker found missing, for the notice below."""
        _missing.update(json.loads(getattr(node, "workeroutput", {}).get("hotline_missing", "{}")))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _missing:
        tr = terminalreporter
        tr.section("SERVICES MISSING - TESTS SKIPPED", sep="!", red=True, bold=True)
        for name, problem in _missing.items():
            tr.write_line(f"{name}: {problem}", red=True, bold=True)
            tr.write_line(f"    to enable: {HOW_TO[name]}", red=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- databases -----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once keeps tests fast)."""
    from hotline.app.dbadmin import upgrade

    from sqlalchemy.orm import Session

    from hotline.app.dbadmin import seed

    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    engine = create_engine(f"sqlite:///{path}")
    with Session(engine) as session:  # seeding once here saves hashing demo passwords per test
        seed(session, demo=True)
    engine.dispose()
    return path


_pg_migrated = False


def _own_database(create: bool) -> None:
    name = make_url(PG_URL).database
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def pytest_sessionfinish(session, exitstatus):
    if hasattr(session.config, "workeroutput"):  # an xdist worker: tell the controller
        session.config.workeroutput["hotline_missing"] = json.dumps(_missing)
    try:
        _release_redis_db()
    except Exception:  # noqa: BLE001 - Redis gone: the claim expires by itself
        pass
    if _pg_migrated:
        from hotline.extensions import db

        if db.engine is not None:
            db.Session.remove()
            db.engine.dispose()
        _own_database(create=False)


def _reset_postgres() -> None:
    global _pg_migrated
    from hotline.app.dbadmin import upgrade

    if not _pg_migrated:
        _own_database(create=True)
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        # connections a previous test leaked (a job thread mid-transaction) would block TRUNCATE
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        conn.execute(text("SET lock_timeout = '20s'"))
        if _pg_migrated:
            tables = [r[0] for r in conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'"))]
            if tables:
                conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    engine.dispose()
    if not _pg_migrated:
        upgrade(PG_URL)
        _pg_migrated = True


@pytest.fixture
def database_url(request, sqlite_template, tmp_path) -> str:
    """The URL of a fresh, migrated database; parametrize with "sqlite" / "postgres"."""
    backend = getattr(request, "param", "sqlite")
    if backend == "postgres":
        require_service("postgres")
        _reset_postgres()
        return PG_URL
    path = tmp_path / "hotline.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


both_databases = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def app_config() -> dict:
    """Extra create_app settings for the `app` fixture; a test module overrides it (e.g. a REDIS_URL)."""
    return {}


@pytest.fixture
def app(database_url, tmp_path, app_config):
    from hotline.app import create_app, socketio_queue
    from hotline import jobs
    from hotline.app.dbadmin import seed
    from hotline.events import bus
    from hotline.extensions import db

    application = create_app({"database_url": database_url, "testing": True, "sip_enabled": False,
                              "secret_key": "test-secret", "recordings_dir": str(tmp_path / "rec"),
                              "flask": {"WTF_CSRF_ENABLED": True}, **app_config})
    with application.app_context():
        seed(db.session, demo=True)
        db.Session.remove()
    yield application
    jobs.drain(cancel=True)  # this test's leftover jobs must not occupy the next test's job threads
    socketio_queue.stop(application)  # its Redis listener must not outlive the test (nor its Redis)
    bus.clear()
    bus.disconnect_redis()
    db.Session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


class Api:
    """A bearer-token client for one demo user."""

    def __init__(self, client, username: str, password: str):
        self.client = client
        r = client.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert r.status_code == 200, r.get_json()
        self.headers = {"Authorization": f"Bearer {r.get_json()['token']}"}

    def get(self, url, **kw):
        return self.client.get(url, headers=self.headers, **kw)

    def post(self, url, json=None, **kw):
        return self.client.post(url, json=json, headers=self.headers, **kw)

    def patch(self, url, json=None, **kw):
        return self.client.patch(url, json=json, headers=self.headers, **kw)

    def put(self, url, json=None, **kw):
        return self.client.put(url, json=json, headers=self.headers, **kw)

    def act(self, number, action, body=None):
        return self.post(f"/api/v1/tickets/{number}/actions/{action}", json=body or {})


@pytest.fixture
def api(client):
    """api("operator1") -> an Api logged in as that demo user."""
    from hotline.app.dbadmin import DEMO_USERS

    passwords = {u[0]: u[3] for u in DEMO_USERS}
    return lambda username: Api(client, username, passwords[username])


@pytest.fixture(autouse=True)
def _event_recorder():
    """Every domain event delivered in this process during every test of the suite (published here
    or received from another process over Redis) is checked against its payload schema, and so is
    every payload a publisher had refused (a caller may swallow the error): a test that produced an
    invalid event fails, naming it (issue 14: each event has one schema; the whole suite proves it)."""
    import agent_console  # noqa: F401 - the packages register their schemas when imported
    import routing  # noqa: F401
    import supervision  # noqa: F401
    import telephony  # noqa: F401
    import ticketing  # noqa: F401
    from hotline.events import InvalidEvent, UnknownEvent, bus, validate

    seen: list[tuple[str, dict]] = []
    rejected_before = len(bus.rejected)
    unsubscribe = bus.subscribe("*", lambda name, payload: seen.append((name, payload)))
    yield
    unsubscribe()
    problems = [f"{name}: refused at publish: {why}" for name, why in bus.rejected[rejected_before:]]
    for name, payload in list(seen):
        try:
            validate(name, payload)
        except (UnknownEvent, InvalidEvent) as exc:
            problems.append(str(exc))
    del bus.rejected[:]
    if problems:
        pytest.fail("events that do not match their schema:\n" + "\n".join(problems[:20]), pytrace=False)


@pytest.fixture
def events():
    """Every domain event published during the test, as (name, payload), in order (each one is
    also checked against its schema by ``_event_recorder``)."""
    from hotline.events import bus

    seen: list[tuple[str, dict]] = []
    unsubscribe = bus.subscribe("*", lambda name, payload: seen.append((name, payload)))
    yield seen
    unsubscribe()


@pytest.fixture
def redis_url():
    require_service("redis")
    import redis

    url = _claim_redis_db()
    redis.Redis.from_url(url).flushdb()
    return url


def use_broker(celery, **conf) -> dict:
    """Point this process's Celery app at another broker/backend; returns the old settings. The
    app's broker connection pool (and the producer pool built on it) and its result backend
    keep the URLs they were made with: they are dropped so the next send, ``control.ping`` or
    ``AsyncResult.ready`` connects to the new one."""
    old = {k: celery.conf[k] for k in conf}
    celery.conf.update(conf)
    celery._pool = None  # (kombu keeps the pool per URL: closing it would break the next use of that URL)
    amqp = celery.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
    celery._backend_cache = None  # the result backend, made on first use (per thread if not thread-safe)
    celery._local.__dict__.pop("backend", None)
    return old


@contextmanager
def celery_worker(app, database_url: str, redis_url: str, tmp_path, **env_extra):
    """A real Celery worker process on ``redis_url``; this process's jobs go to it meanwhile.

    The worker's output goes to a file (a pipe nobody reads would block it once full); on failure
    the tail of that file is worth reading.
    """
    import subprocess
    import sys

    from hotline import jobs
    from hotline.extensions import celery

    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, HOTLINE_BACKGROUND_JOBS="celery",
               HOTLINE_INSTANCE_DIR=str(tmp_path / "worker-instance"), HOTLINE_SIP_ENABLED="false", **env_extra)
    log_path = tmp_path / "celery-worker.log"
    old = use_broker(celery, broker_url=redis_url, result_backend=redis_url)
    with open(log_path, "w") as log_file:
        worker = subprocess.Popen([str(Path(sys.executable).parent / "celery"), "-A", "hotline.app.worker",
                                   "worker", "--pool", "solo", "--loglevel", "WARNING", "-Q", "celery"],
                                  env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        jobs.configure(app, "celery")
        yield log_path
    finally:
        jobs.configure(app, "inprocess")
        use_broker(celery, **old)
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
