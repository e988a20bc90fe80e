"""Run a background job: through Celery in production, in a local thread pool in the embedded
default (HOTLINE_BACKGROUND_JOBS=inprocess). Callers never block on the job either way."""
from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

log = logging.getLogger("hotline.jobs")

_mode = "inprocess"
_pool: ThreadPoolExecutor | None = None
_app = None


def configure(app, mode: str) -> None:
    global _mode, _app
    _mode, _app = mode, app


def enqueue(task, *args, **kwargs) -> Future | object:
    """``task`` is a Celery task object; returns its AsyncResult or a local Future."""
    global _pool
    if _mode == "celery":
        return task.apply_async(args=args, kwargs=kwargs)
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="job")
    app = _app

    def run():
        from hotline.extensions import db

        try:
            if app is not None:
                with app.app_context():
                    return task.run(*args, **kwargs)
            return task.run(*args, **kwargs)
        except Exception:
            log.exception("job.failed task=%s", getattr(task, "name", task))
            raise
        finally:
            db.Session.remove()

    return _pool.submit(run)


class Batcher:
    """Coalesce many small jobs into one: ``add(item)`` collects items and enqueues
    ``task(items)`` once per ``window`` seconds (or as soon as ``max_items`` are waiting).

    Creating a ticket must not pay for a Celery message of its own (about 1 ms of CPU in the web
    process): at 200 tickets/s the routing suggestions go out as ~20 messages a second instead of
    200, each a few tickets long. The first item of a quiet period waits at most ``window``. Items
    still buffered when the process exits are flushed by ``flush()`` (called at exit); a crash can
    lose at most one window, which the task's periodic sweep must tolerate.
    """

    def __init__(self, task_getter, *, window: float = 0.05, max_items: int = 100,
                 items: bool = True) -> None:
        """``items=False``: a nudge. What was added is not kept; ``task()`` runs without arguments."""
        self._task_getter = task_getter  # a callable: tasks are imported lazily (no import cycles)
        self.window, self.max_items, self.with_items = window, max_items, items
        self._items: list = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def add(self, item=None) -> None:
        with self._lock:
            if self.with_items or not self._items:  # one pending nudge is all a nudge needs
                self._items.append(item)
            if len(self._items) >= self.max_items:
                batch, self._items = self._items, []
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
            else:
                batch = None
                if self._timer is None:
                    self._timer = threading.Timer(self.window, self.flush)
                    self._timer.daemon = True
                    self._timer.name = "jobs-batcher"
                    self._timer.start()
        if batch:
            self._send(batch)

    def flush(self) -> None:
        with self._lock:
            batch, self._items = self._items, []
            self._timer = None
        if batch:
            self._send(batch)

    def _send(self, batch: list) -> None:
        try:
            if self.with_items:
                enqueue(self._task_getter(), batch)
            else:
                enqueue(self._task_getter())
        except Exception:
            log.exception("job.batch_enqueue_failed items=%d", len(batch))
