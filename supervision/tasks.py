"""Celery tasks (production ``worker``/``beat``); the embedded default runs them in-process.

Both are safe to run twice or concurrently: cards and escalations are unique rows, the rollup
updater locks its high-water mark.
"""
from __future__ import annotations

from hotline.extensions import celery


@celery.task(name="supervision.scan")
def scan() -> dict:
    from flask import current_app

    from hotline.extensions import db
    from hotline.clock import utcnow

    from .hotspots import HotspotSettings
    from .scan import run_scan
    from .schemas import Settings

    result = run_scan(db.session, utcnow(), Settings.from_config(current_app.config["HOTLINE"]),
                      HotspotSettings.from_config(current_app.config["HOTLINE"]))
    return {"cards": len(result["cards"]), "escalations": len(result["escalations"]),
            "rollup_tickets": result["rollup_tickets"], "hotspots": len(result["hotspots"])}


@celery.task(name="supervision.kpi_catch_up")
def kpi_catch_up() -> int:
    from flask import current_app

    from hotline.extensions import db

    from .rollup import catch_up
    from .schemas import Settings
    return catch_up(db.session, settings=Settings.from_config(current_app.config["HOTLINE"]))


@celery.task(name="supervision.record_call")
def record_call(payload: dict) -> bool:
    """Count one ended call (``call.ended`` payload) in the call rollup; insert-or-ignore by call id,
    so a retry or a second delivery counts it once."""
    from flask import current_app

    from hotline.extensions import db

    from .rollup import record_call as add

    return add(db.session, payload, current_app.config["HOTLINE"].answer_target_seconds)


@celery.task(name="supervision.privacy_retention")
def privacy_retention() -> int:
    """Erase the callers' data of tickets finished HOTLINE_PERSONAL_DATA_RETENTION_DAYS ago (0: never)."""
    from flask import current_app

    from hotline.extensions import db
    from ticketing.erasure import erase_expired
    from hotline.identity import Actor

    days = current_app.config["HOTLINE"].personal_data_retention_days
    return erase_expired(db.session, days, Actor.system("retention"))
