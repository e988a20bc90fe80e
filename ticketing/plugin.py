"""Ticketing's one entry: the ticket API (the shell's `hotline audit verify` reads its audit trail)."""
from __future__ import annotations

from hotline.plugins import Plugin


def register(app) -> None:
    from .api import bp

    app.register_blueprint(bp)


def seed(session) -> None:
    from . import directory

    directory.seed(session)


plugin = Plugin(name="ticketing", register=register, seed=seed)
