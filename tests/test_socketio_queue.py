"""Shutting an app down stops its Socket.IO Redis listener (hotline/app/socketio_queue.py).

Before: the listener thread of python-socketio's RedisManager, started by the first socket
connection, outlived its app; once that app's Redis was gone (a test's own redis-server stopped) it
logged "Cannot receive from redis... retrying" into the rest of the run, forever. And an app built
without Redis after one with Redis inherited the first app's Redis manager (Flask-SocketIO keeps
the manager it built in its options), so such stale listeners were started by later tests too.
Each test here has a redis-server of its own, which it stops while the app is still there.
"""
from __future__ import annotations

import logging

import pytest

from hotline.app import socketio_queue
from tests.conftest import free_port
from tests.console_helpers import LiveServer, wait_until
from tests.redis_helpers import private_redis  # noqa: F401 - fixture
from tests.test_console_api import Listener

CANNOT_RECEIVE = "Cannot receive from redis"


@pytest.fixture
def app_config(private_redis):
    return {"redis_url": private_redis.url}


@pytest.fixture
def listening(app, caplog):
    """The app served, one console connected (which starts the listener); yields the manager."""
    caplog.set_level(logging.INFO, logger="socketio")
    manager = app.extensions[socketio_queue.SERVER].manager
    assert isinstance(manager, socketio_queue.RedisQueue)
    with LiveServer(app, free_port()) as server:
        console = Listener(server.url, "operator1").connect()
        try:
            wait_until(lambda: getattr(manager, "thread", None) is not None and manager.thread.is_alive())
            yield manager
        finally:
            console.client.disconnect()


def _complaints(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if CANNOT_RECEIVE in r.getMessage()]


def test_shutdown_ends_the_listener_thread_and_it_stays_quiet(app, listening, private_redis, caplog):
    from hotline.plugins import shutdown

    shutdown(app)
    wait_until(lambda: not listening.thread.is_alive(), timeout=30)
    private_redis.kill()  # what used to start the endless retries: nobody listens any more
    assert not listening.thread.is_alive()
    assert _complaints(caplog) == []


def test_shutdown_ends_a_listener_that_is_retrying(app, listening, private_redis, caplog):
    """Redis goes away while the app listens: the listener says so (as it should), and the app's
    shutdown still ends it at once, not after its retry wait."""
    from hotline.plugins import shutdown

    private_redis.kill()
    wait_until(lambda: _complaints(caplog), timeout=30)
    said = len(_complaints(caplog))
    shutdown(app)
    wait_until(lambda: not listening.thread.is_alive(), timeout=30)
    assert len(_complaints(caplog)) == said


def test_an_app_without_redis_gets_a_manager_of_its_own(app):
    from hotline.app import create_app
    from socketio import PubSubManager

    queue = app.extensions[socketio_queue.SERVER].manager
    other = create_app({"database_url": app.config["HOTLINE"].database_url, "testing": True,
                        "sip_enabled": False, "secret_key": "k", "redis_url": ""})
    manager = other.extensions[socketio_queue.SERVER].manager
    assert manager is not queue and not isinstance(manager, PubSubManager)
