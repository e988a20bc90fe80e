"""Celery tasks (production ``beat``/``worker``); the embedded default runs quality/runner.py."""
from __future__ import annotations

from hotline.extensions import celery


@celery.task(name="quality.inspect_pending")
def inspect_pending() -> int:
    """Inspect answered calls whose wrap-up is over (each call once: safe to run twice)."""
    from flask import current_app

    from hotline.extensions import db

    from . import service

    return service.inspect_pending(db.session, current_app.config["HOTLINE"].recordings_dir)
