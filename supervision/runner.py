"""Embedded default: the deadline scan (and KPI catch-up) every HOTLINE_SUPERVISION_SCAN_SECONDS in
a daemon thread owned by the app (``app.extensions["supervision.scan_thread"]``), and the
personal-data retention job once an hour. Production uses Celery beat (``supervision.scan`` and
``supervision.privacy_retention``, supervision/plugin.py) instead; running both is harmless (scans
are idempotent), only wasteful."""
from __future__ import annotations

import logging
import threading
import time

from hotline.plugins import on_shutdown

log = logging.getLogger("hotline.supervision")

RETENTION_SECONDS = 3600


def start(app) -> threading.Thread | None:
    config = app.config["HOTLINE"]
    if config.background_jobs == "celery" or config.supervision_scan_seconds <= 0:
        return None
    running = app.extensions.get("supervision.scan_thread")
    if running is not None and running.is_alive():
        return running
    stop = threading.Event()
    thread = threading.Thread(target=_loop, args=(app, config.supervision_scan_seconds, stop), daemon=True,
                              name="supervision-scan")
    app.extensions["supervision.scan_thread"] = thread
    on_shutdown(app, stop.set)
    thread.start()
    return thread


def _loop(app, interval: int, stop: threading.Event) -> None:
    from hotline.extensions import db
    from hotline.clock import utcnow

    from .hotspots import HotspotSettings
    from .scan import run_scan
    from .schemas import Settings

    settings = Settings.from_config(app.config["HOTLINE"])
    hot_settings = HotspotSettings.from_config(app.config["HOTLINE"])
    next_retention = 0.0
    while not stop.is_set():
        if time.monotonic() >= next_retention:
            next_retention = time.monotonic() + RETENTION_SECONDS
            _retention(app)
        try:
            with app.app_context():
                result = run_scan(db.session, utcnow(), settings, hot_settings)
                if result["cards"] or result["escalations"]:
                    log.info("supervision.scan cards=%d escalations=%d", len(result["cards"]),
                             len(result["escalations"]))
        except Exception:
            log.exception("supervision.scan_failed")
        finally:
            db.Session.remove()
        stop.wait(interval)


def _retention(app) -> None:
    from hotline.extensions import db
    from hotline.identity import Actor
    from ticketing.erasure import erase_expired

    days = app.config["HOTLINE"].personal_data_retention_days
    if days <= 0:
        return
    try:
        with app.app_context():
            erase_expired(db.session, days, Actor.system("retention"))
    except Exception:
        log.exception("privacy.retention_failed")
    finally:
        db.Session.remove()
