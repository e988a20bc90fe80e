"""Call facts leave the signalling path through one in-process queue.

pyVoIP's SIP thread, the RTP and media-clock threads and the speech threads report what happened
(ringing, answered, transcript, ended, ...) with ``FactQueue.put``: it appends to a queue and
returns at once. One worker thread, ``call-facts``, drains the queue in order and hands each fact
to the event bus, whose subscribers may write to the database (call rollups), emit to Socket.IO
rooms or publish on Redis. A locked database or a slow Redis therefore delays the consoles and the
rollups, never a SIP response or an audio frame.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable

log = logging.getLogger("telephony.facts")

_STOP = object()


class FactQueue:
    def __init__(self, publish: Callable[[str, dict], None], name: str = "call-facts") -> None:
        self._publish = publish
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._unfinished = 0
        self._idle = threading.Condition()
        self._thread = threading.Thread(target=self._drain, name=name, daemon=True)
        self._thread.start()

    def put(self, name: str, payload: dict) -> None:
        """Queue one fact; never blocks (callable from the SIP, RTP and speech threads)."""
        with self._idle:
            self._unfinished += 1
        self._queue.put((name, payload))

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued fact was handed to the bus (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._unfinished:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    @property
    def backlog(self) -> int:
        return self._unfinished

    def stop(self, timeout: float = 10.0) -> None:
        """Deliver what is queued, then end the worker."""
        self.wait_idle(timeout)
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            name, payload = item
            try:
                self._publish(name, payload)
            except Exception:
                log.exception("event.publish_failed name=%s", name)
            finally:
                with self._idle:
                    self._unfinished -= 1
                    self._idle.notify_all()
