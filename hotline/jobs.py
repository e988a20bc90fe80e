"""Run a background job: through Celery in production, in a local thread pool in the embedded
default (HOTLINE_BACKGROUND_JOBS=inprocess). Callers never block on the job either way."""
from __future__ import annotations

import logging
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
