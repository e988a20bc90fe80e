"""The Celery worker and beat (production: `worker` and `beat` in the Procfile).

The Celery object itself is in the core (``hotline.extensions.celery``) so that packages can define
tasks on it; this module configures it from :class:`Config` (broker and result backend are
REDIS_URL), loads every package's tasks and creates the Flask app lazily in each worker process,
so the database and event bus are configured there; nothing connects at import time.
"""
from __future__ import annotations

from celery import signals

from hotline.config import Config
from hotline.extensions import celery

_app = None


def configure_celery(config: Config) -> None:
    """Broker, result backend and beat schedule from the application's configuration."""
    url = config.redis_url or "redis://127.0.0.1:6379/0"
    celery.conf.update(
        broker_url=url,
        result_backend=url,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        timezone="Asia/Shanghai",
        beat_schedule={
            "supervision-scan": {"task": "supervision.scan",
                                 "schedule": float(config.supervision_scan_seconds or 60)},
            "telephony-recording-retention": {"task": "telephony.cleanup_recordings", "schedule": 3600.0},
            "routing-suggest-missing": {"task": "routing.suggest_missing", "schedule": 600.0},
            "privacy-retention": {"task": "supervision.privacy_retention", "schedule": 3600.0},
        },
    )


def load_tasks() -> None:
    """Register every package's tasks on the Celery app."""
    import routing.tasks  # noqa: F401
    import supervision.tasks  # noqa: F401
    import telephony.tasks  # noqa: F401


def flask_app():
    """The Flask app inside a worker process (created on first use)."""
    global _app
    if _app is None:
        from .factory import create_app

        _app = create_app()
    return _app


@signals.worker_process_init.connect
def _init_worker(**_kwargs):
    flask_app()


configure_celery(Config.from_env())
load_tasks()
celery.flask_app = flask_app
