"""The knowledge base's one entry: its API, `hotline knowledge-seed` and the bundled articles."""
from __future__ import annotations

from hotline.openapi import register_paths
from hotline.plugins import Plugin


def register(app) -> None:
    from .api import bp
    from .schemas import openapi_paths

    app.register_blueprint(bp)
    register_paths(app, openapi_paths)


def commands() -> list:
    from .cli import COMMANDS

    return list(COMMANDS)


def seed(session) -> None:
    from .service import seed as seed_articles

    seed_articles(session)


plugin = Plugin(name="knowledge", register=register, commands=commands, seed=seed)
