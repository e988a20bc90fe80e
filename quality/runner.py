"""Embedded default: inspect pending calls every minute in a daemon thread (production: Celery beat)."""
from __future__ import annotations

import logging
import threading

from hotline.plugins import on_shutdown

log = logging.getLogger("hotline.quality")
INTERVAL = 60.0


def start(app) -> threading.Thread | None:
    config = app.config["HOTLINE"]
    if config.background_jobs == "celery" or config.testing:
        return None
    stop = threading.Event()
    thread = threading.Thread(target=_loop, args=(app, stop), daemon=True, name="quality-inspect")
    on_shutdown(app, stop.set)
    thread.start()
    return thread


def _loop(app, stop: threading.Event) -> None:
    from hotline.extensions import db

    from . import service

    while not stop.wait(INTERVAL):
        try:
            with app.app_context():
                done = service.inspect_pending(db.session, app.config["HOTLINE"].recordings_dir)
                if done:
                    log.info("quality.inspected calls=%d", done)
        except Exception:
            log.exception("quality.inspect_failed")
        finally:
            db.Session.remove()
