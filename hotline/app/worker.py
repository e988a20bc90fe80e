"""The Celery worker and beat (production: `worker` and `beat` in the Procfile: ``-A hotline.app.worker``).

Configures the core's Celery object from :class:`Config`, loads every package's tasks and creates the
Flask app lazily in each worker process, so the database and event bus are configured there; nothing
connects at import time.
"""
from __future__ import annotations

from celery import signals

from hotline.config import Config
from hotline.extensions import celery
from hotline.plugins import shutdown

from .celery_config import configure_celery, load_tasks
from .factory import create_app

_app = None


def flask_app():
    """The Flask app inside a worker process (created on first use)."""
    global _app
    if _app is None:
        _app = create_app()
    return _app


@signals.worker_process_init.connect
def _init_worker(**_kwargs):
    flask_app()


@signals.worker_process_shutdown.connect
def _shutdown_worker(**_kwargs):
    if _app is not None:
        shutdown(_app)


configure_celery(Config.from_env())
load_tasks()
celery.flask_app = flask_app
