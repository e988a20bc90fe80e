"""质检's one entry: its API and OpenAPI paths, the inspection task and its schedule."""
from __future__ import annotations

from hotline.openapi import register_paths
from hotline.plugins import Plugin


def register(app) -> None:
    from . import models  # noqa: F401 - the tables join the metadata
    from .api import bp, openapi_paths

    app.register_blueprint(bp)
    register_paths(app, openapi_paths)


def tasks() -> None:
    from . import tasks as _tasks  # noqa: F401


def beat(_config) -> dict:
    return {"quality-inspect": {"task": "quality.inspect_pending", "schedule": 60.0}}


def start(app) -> None:
    from . import runner

    runner.start(app)


plugin = Plugin(name="quality", register=register, tasks=tasks, beat=beat, start=start)
