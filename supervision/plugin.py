"""Supervision's one entry: its API, its subscribers (call facts, KPI nudges), commands, tasks and
the deadline scan's schedule (Celery beat; a thread in the embedded default)."""
from __future__ import annotations

from hotline.openapi import register_paths
from hotline.plugins import Plugin


def register(app) -> None:
    from .api import bp
    from .hotspot_api import bp as hotspot_bp
    from .hotspot_api import openapi_paths as hotspot_paths
    from .lists import openapi_paths as list_paths
    from .report_api import bp as reports_bp
    from .report_api import openapi_paths as report_paths
    from .schemas import openapi_paths
    from .subscribers import install

    app.register_blueprint(bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(hotspot_bp)
    register_paths(app, openapi_paths, list_paths, report_paths, hotspot_paths)
    install(app)


def commands() -> list:
    from .cli import COMMANDS

    return list(COMMANDS)


def tasks() -> None:
    from . import tasks as _tasks  # noqa: F401 - defines the supervision.* Celery tasks


def beat(config) -> dict:
    return {"supervision-scan": {"task": "supervision.scan",
                                 "schedule": float(config.supervision_scan_seconds or 60)},
            "privacy-retention": {"task": "supervision.privacy_retention", "schedule": 3600.0}}


def start(app) -> None:
    from . import runner

    runner.start(app)


plugin = Plugin(name="supervision", register=register, commands=commands, tasks=tasks, beat=beat, start=start)
