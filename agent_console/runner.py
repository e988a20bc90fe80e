"""`hotline run` hook: the console needs no thread of its own; make sure wiring and seed data exist.

The Socket.IO namespace and the event fan-out are wired by the console plugin in create_app
(agent_console/plugin.py), so web processes started any other way get them too.
"""
from __future__ import annotations

import logging

log = logging.getLogger("hotline.console")


def start(app) -> None:
    from hotline.extensions import db
    from knowledge.service import seed

    from . import realtime

    realtime.wire()
    with app.app_context():
        try:
            added = seed(db.session)
            if added:
                log.info("knowledge.seeded articles=%s", added)
        finally:
            db.Session.remove()
