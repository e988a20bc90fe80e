"""Ticketing's one entry: the ticket API, `hotline audit` and `hotline privacy`, the directory seed."""
from __future__ import annotations

from hotline.plugins import Plugin


def register(app) -> None:
    from hotline.openapi import register_paths, register_schemas

    from . import deadlines, directory, service
    from .api import bp
    from .openapi import openapi_paths, openapi_schemas

    app.register_blueprint(bp)
    register_paths(app, openapi_paths)
    register_schemas(app, openapi_schemas)
    # What ticketing caches from the database (calendar and SLA policy, reserved ticket-number
    # blocks, towns) lives as long as the app: a new app (tests build one per fresh database) starts empty.
    deadlines.invalidate_cache()
    service.reset_number_blocks()
    directory.forget_towns()


def commands() -> list:
    from .cli import COMMANDS

    return list(COMMANDS)


def seed(session) -> None:
    from . import directory

    directory.seed(session)


plugin = Plugin(name="ticketing", register=register, commands=commands, seed=seed)
