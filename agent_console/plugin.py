"""The consoles' one entry: pages, the Socket.IO namespace and the event fan-out to it."""
from __future__ import annotations

from hotline.openapi import register_paths
from hotline.plugins import Plugin


def register(app) -> None:
    from . import realtime
    from .calls import board
    from .schemas import openapi_paths
    from . import supervisor_pages  # noqa: F401 - adds the 热点/考核 pages to the console blueprint
    from .views import bp

    app.register_blueprint(bp)
    register_paths(app, openapi_paths)
    board.reset()  # a new app (tests build one each) starts with an empty call board
    realtime.wire()


def start(app) -> None:
    from . import runner

    runner.start(app)


plugin = Plugin(name="agent_console", register=register, start=start)
