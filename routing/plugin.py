"""Routing's one entry: its API, its subscribers to ticket events, commands, tasks and schedule."""
from __future__ import annotations

from hotline.openapi import register_paths
from hotline.plugins import Plugin


def register(app) -> None:
    from . import runner
    from .api import bp
    from .schemas import openapi_paths

    app.register_blueprint(bp)
    register_paths(app, openapi_paths)
    if not app.config["HOTLINE"].testing:  # tests wire the subscribers they exercise themselves
        runner.wire(app)


def commands() -> list:
    from .cli import COMMANDS

    return list(COMMANDS)


def tasks() -> None:
    from . import tasks as _tasks  # noqa: F401 - defines the routing.* Celery tasks


def beat(_config) -> dict:
    return {"routing-suggest-missing": {"task": "routing.suggest_missing", "schedule": 600.0}}


def start(app) -> None:
    from . import runner

    runner.start(app)


def seed(session) -> None:
    from .catalogue import ensure_seeded

    ensure_seeded(session)


plugin = Plugin(name="routing", register=register, commands=commands, tasks=tasks, beat=beat, start=start,
                seed=seed)
