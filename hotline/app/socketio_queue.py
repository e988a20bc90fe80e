"""Socket.IO's client manager for one app, and stopping it when the app shuts down.

``socketio`` (hotline.extensions) is one object for the whole process; every ``create_app`` gives it
a new Socket.IO server with a client manager of its own. Two things python-socketio 5.18 does not do
are done here:

- Flask-SocketIO keeps the ``client_manager`` it built for one app in its options and hands it to
  the next app's server unless that call names one: an app without Redis created after one with
  Redis inherited the first app's Redis manager (and its dead test Redis). Every app gets its own.
- A Redis manager's listener thread (started at the first socket connection) runs forever, and
  after its Redis went away logs "Cannot receive from redis... retrying" forever: neither
  ``Server.shutdown()`` nor the manager can stop it (python-socketio's master neither, Dec 2026).
  ``RedisQueue.close()`` does.
"""
from __future__ import annotations

import logging
import threading

from socketio import Manager, RedisManager

log = logging.getLogger("hotline.socketio")

#: app.extensions key of this app's Socket.IO server (the shared ``socketio`` moves on to the next app)
SERVER = "hotline.socketio_server"


class ListenerClosed(BaseException):
    """Ends the listener thread from inside python-socketio's loop: ``PubSubManager._thread``
    catches ``Exception`` (and then listens again), not this."""


class RedisQueue(RedisManager):
    """python-socketio's ``RedisManager`` with a ``close()``.

    It overrides the manager's listening loop (``_redis_listen_with_retries``, as in 5.18.1, which
    requirements.txt pins): the same reconnecting loop, which ends when the manager is closed, and
    whose wait between retries a close interrupts."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._listening = None  # the pubsub the listener thread is blocked on

    def _thread(self) -> None:
        try:
            super()._thread()
        except ListenerClosed:
            log.info("socketio.listener_stopped channel=%s", self.channel)

    def _redis_listen_with_retries(self):
        retry_sleep = 1
        while not self._closed.is_set():
            pubsub = None
            try:
                self._redis_connect()
                pubsub = self.pubsub
                pubsub.subscribe(self.channel)
                with self._lock:  # a close() from now on sees this pubsub and unsubscribes it
                    if self._closed.is_set():
                        break
                    self._listening = pubsub
                retry_sleep = 1
                yield from pubsub.listen()  # ends when unsubscribed (by close)
            except Exception as exc:
                if self._closed.is_set():
                    break
                self._get_logger().error(f"Cannot receive from redis... retrying in {retry_sleep} secs",
                                         extra={"redis_exception": str(exc)})
                if self._closed.wait(retry_sleep):
                    break
                retry_sleep = min(retry_sleep * 2, 60)
            finally:
                with self._lock:
                    self._listening = None
                if pubsub is not None:
                    pubsub.close()
        raise ListenerClosed

    def close(self, timeout: float = 10.0) -> bool:
        """Stop the listener thread (if it was started) and drop the Redis connections; returns
        whether the thread has ended within ``timeout`` seconds. Emitting afterwards still works
        (a publish reconnects); receiving does not."""
        with self._lock:
            self._closed.set()
            pubsub = self._listening
        if pubsub is not None:
            try:
                pubsub.unsubscribe(self.channel)  # its reply ends listen() in the listener thread
            except Exception:  # the connection is gone: listen() raises and the loop sees the close
                pass
        thread = getattr(self, "thread", None)  # set by initialize() at the first connection
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        if self.redis is not None:
            self.redis.close()
        return thread is None or not thread.is_alive()


def client_manager(redis_url: str | None, channel: str, write_only: bool = False) -> Manager:
    """This app's own manager: through Redis (several processes share rooms) or in memory."""
    if not redis_url:
        return Manager()
    return RedisQueue(redis_url, channel=channel, write_only=write_only)


def stop(app) -> None:
    """Stop this app's Socket.IO background work: Engine.IO's service task and the Redis listener
    (idempotent; registered with the app's shutdown functions by create_app)."""
    server = app.extensions.pop(SERVER, None)
    if server is None:
        return
    server.shutdown()
    close = getattr(server.manager, "close", None)
    if close is not None and not close():
        log.warning("socketio.listener_still_running channel=%s", server.manager.channel)
