"""The Celery application (production: `worker` and `beat` in the Procfile).

Broker and result backend are REDIS_URL. Tasks live in each package's ``tasks`` module and take ids,
reload rows, and are safe to retry. The Flask app is created lazily in the worker so the database
and event bus are configured; nothing connects at import time.
"""
from __future__ import annotations

import os

from celery import Celery, signals

celery = Celery("hotline")
celery.conf.update(
    broker_url=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
    result_backend=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    timezone="Asia/Shanghai",
    beat_schedule={
        "supervision-scan": {"task": "supervision.scan",
                             "schedule": float(os.environ.get("HOTLINE_SUPERVISION_SCAN_SECONDS") or 60)},
        "telephony-recording-retention": {"task": "telephony.cleanup_recordings", "schedule": 3600.0},
        "routing-suggest-missing": {"task": "routing.suggest_missing", "schedule": 600.0},
    },
)
celery.autodiscover_tasks(["routing", "telephony", "supervision"], related_name="tasks")

_app = None


def flask_app():
    """The Flask app inside a worker process (created on first use)."""
    global _app
    if _app is None:
        from hotline import create_app

        _app = create_app()
    return _app


@signals.worker_process_init.connect
def _init_worker(**_kwargs):
    flask_app()


class AppTask(celery.Task):
    """Runs the task body inside an app context and releases the DB session afterwards."""

    abstract = True

    def __call__(self, *args, **kwargs):
        from hotline.extensions import db

        with flask_app().app_context():
            try:
                return super().__call__(*args, **kwargs)
            finally:
                db.Session.remove()


celery.Task = AppTask
