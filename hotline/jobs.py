"""Run a background job: through Celery in production, in a local thread pool in the embedded
default (HOTLINE_BACKGROUND_JOBS=inprocess). Callers never block on the job either way.

A job's CPU-heavy pure part (fitting the routing model) goes through ``in_child_process``: in the
embedded default the job's thread shares the GIL with the SIP media threads, so seconds of Python
there would delay their RTP packets; a child process has a GIL of its own."""
from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

log = logging.getLogger("hotline.jobs")

#: niceness added to a child process of ``in_child_process``: the serving process's threads come first
CHILD_NICENESS = 10

_mode = "inprocess"
_pool: ThreadPoolExecutor | None = None
_app = None


def configure(app, mode: str) -> None:
    global _mode, _app
    _mode, _app = mode, app


def drain(cancel: bool = False) -> None:
    """Stop the in-process pool: wait for the jobs running now (and, unless ``cancel``, for the
    queued ones too); the next job starts a fresh pool. The app shell calls it at shutdown so a
    job is not cut off half-way; tests call it with ``cancel=True`` between tests, so one test's
    leftover jobs (a retraining, a batch of suggestions) never hold the pool's threads while the
    next test waits for jobs of its own."""
    global _pool
    pool, _pool = _pool, None
    stop_children()  # a job waiting on a child (a retraining) ends now instead of when the child is done
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=cancel)


class ChildStopped(RuntimeError):
    """The child process of ``in_child_process`` ended without a result (stopped at shutdown)."""


_children: set = set()
_children_lock = threading.Lock()


def stop_children() -> None:
    """Terminate the child processes of ``in_child_process`` still computing: at shutdown nobody
    waits for their result (a retraining is asked for again later), and a child at low priority on
    a busy machine could otherwise keep the process from exiting for minutes."""
    with _children_lock:
        children = list(_children)
    for proc in children:
        proc.terminate()


def in_child_process(function, *args):
    """``function(*args)``, computed where it does not hold this process's GIL; blocks the caller
    (a job's thread) until the result is back. ``function`` must be importable by name (module
    level) and its arguments and result picklable; an exception it raises is raised here.

    Embedded default: in a child process of its own at ``CHILD_NICENESS``, started with ``spawn``
    (a fresh interpreter: forking a process whose SIP and RTP threads run would copy their locks in
    whatever state they are in), which exits when the call is done, so the one-process layout does
    not keep a second interpreter with scikit-learn loaded between retrainings.
    Under Celery the job already runs in a worker process: the function runs right here.
    """
    if _mode == "celery":
        return function(*args)
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    proc = context.Process(target=_child_main, args=(send, function, args), daemon=True, name="job-child")
    with _children_lock:
        proc.start()
        _children.add(proc)
    send.close()  # the child holds the sending end: its exit (or termination) ends recv() with EOFError
    try:
        ok, value = receive.recv()
    except EOFError:
        raise ChildStopped(f"{getattr(function, '__name__', function)} ended without a result") from None
    finally:
        receive.close()
        proc.join()
        with _children_lock:
            _children.discard(proc)
    if not ok:
        raise value
    return value


def _child_main(send, function, args) -> None:
    os.nice(CHILD_NICENESS)
    try:
        result = (True, function(*args))
    except BaseException as exc:  # noqa: BLE001 - handed to the parent, which raises it
        result = (False, exc)
    send.send(result)


def enqueue(task, *args, **kwargs) -> Future | object:
    """``task`` is a Celery task object; returns its AsyncResult or a local Future."""
    return _submit(task, args, kwargs)


def _submit(task, args: tuple, kwargs: dict, *, ignore_result: bool = False) -> Future | object:
    """``ignore_result``: nobody will read the result, so Celery neither stores it nor subscribes to
    it in this process (a subscription costs a Redis SUBSCRIBE per job, and a thread that sends its
    first job builds a result backend of its own)."""
    global _pool
    if _mode == "celery":
        return task.apply_async(args=args, kwargs=kwargs, ignore_result=ignore_result)
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
        except ChildStopped:  # shutdown stopped its child process: not a failure
            log.info("job.stopped task=%s", getattr(task, "name", task))
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
    process): at 200 tickets/s the routing suggestions go out as a few messages a second per
    process instead of 200, each many tickets long. The first item of a quiet period waits at most ``window``. Items
    still buffered when the process exits are flushed by ``flush()`` (called at exit); a crash can
    lose at most one window, which the task's periodic sweep must tolerate.

    Batches are sent by one long-lived thread per batcher (started on the first ``add`` in each
    process), not a timer thread per window: a new thread per batch cost its start and, under
    Celery, a result backend and a Redis subscription of its own for every batch. Nobody reads a
    batch's result, so it is sent with ``ignore_result``.
    """

    def __init__(self, task_getter, *, window: float = 0.05, max_items: int = 100,
                 items: bool = True) -> None:
        """``items=False``: a nudge. What was added is not kept; ``task()`` runs without arguments."""
        self._task_getter = task_getter  # a callable: tasks are imported lazily (no import cycles)
        self.window, self.max_items, self.with_items = window, max_items, items
        self._items: list = []
        self._cond = threading.Condition()
        self._due: float | None = None  # when the pending items go out (monotonic), None: nothing pending
        self._full: list[list] = []  # full batches waiting for the sender thread
        self._thread: threading.Thread | None = None
        self._pid = 0

    def add(self, item=None) -> None:
        with self._cond:
            if self.with_items or not self._items:  # one pending nudge is all a nudge needs
                self._items.append(item)
            if len(self._items) >= self.max_items:
                self._full.append(self._items)
                self._items, self._due = [], None
                self._cond.notify()
            elif self._due is None:
                self._due = time.monotonic() + self.window
                self._cond.notify()
            self._ensure_thread()

    def flush(self) -> None:
        """Send everything added so far, now, from the calling thread."""
        with self._cond:
            batches, self._full = self._full, []
            if self._items:
                batches.append(self._items)
            self._items, self._due = [], None
        for batch in batches:
            self._send(batch)

    def _ensure_thread(self) -> None:
        """(Under the lock.) A forked child inherits the object but not the thread: start its own."""
        if self._thread is None or self._pid != os.getpid():
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="jobs-batcher", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._full:
                    if self._due is None:
                        self._cond.wait()
                        continue
                    delay = self._due - time.monotonic()
                    if delay <= 0:
                        self._full.append(self._items)
                        self._items, self._due = [], None
                        break
                    self._cond.wait(delay)
                batches, self._full = self._full, []
            for batch in batches:
                self._send(batch)

    def _send(self, batch: list) -> None:
        try:
            task = self._task_getter()
            if self.with_items:
                _submit(task, (batch,), {}, ignore_result=True)
            else:
                _submit(task, (), {}, ignore_result=True)
        except Exception:
            log.exception("job.batch_enqueue_failed items=%d", len(batch))
