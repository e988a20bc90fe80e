"""Celery's configuration from :class:`Config`, for every process that sends or runs tasks.

The Celery object is in the core (``hotline.extensions.celery``) so that packages define tasks on it;
``create_app`` and the worker (hotline/app/worker.py) configure it here: broker and result backend
are REDIS_URL, the beat schedule from each package's plugin.
"""
from __future__ import annotations

from hotline.config import Config
from hotline.extensions import celery


def configure_celery(config: Config) -> None:
    """Broker, result backend and the packages' beat entries from the application's configuration."""
    from .plugins import PLUGINS

    url = config.redis_url or "redis://127.0.0.1:6379/0"
    schedule: dict = {}
    for plugin in PLUGINS:
        schedule.update(plugin.beat(config))
    celery.conf.update(
        broker_url=url,
        result_backend=url,
        # a task is acknowledged when it has run (acks_late), also when its worker process died
        # (reject_on_worker_lost: redelivered); a message a killed worker held is delivered again
        # once it has been unacknowledged for the visibility timeout, swept every few seconds.
        # Tasks are idempotent, so a redelivery never doubles an effect.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options=_transport_options(config.celery_visibility_timeout),
        timezone="Asia/Shanghai",
        beat_schedule=schedule,
    )


def _transport_options(visibility_timeout: int) -> dict:
    return {"visibility_timeout": visibility_timeout,
            "unacked_restore_interval": max(1, min(10, visibility_timeout // 10)),
            "unacked_restore_throttle": 1}


def load_tasks() -> None:
    """Register every package's tasks on the Celery app."""
    from .plugins import PLUGINS

    for plugin in PLUGINS:
        plugin.tasks()
