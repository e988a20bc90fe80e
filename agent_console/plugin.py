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

    register_paths(app, openapi_paths)
    if app.config["HOTLINE"].web_role == "api":
        # the REST-only `api` role has no sockets and does not listen to other processes' events, so
        # it has no live call board: the consoles' pages and /api/v1/console/ are `web`'s (nginx
        # sends them there whatever the credentials), and nothing here fans events out to rooms
        return
    app.register_blueprint(bp)
    board.reset()  # a new app (tests build one each) starts with an empty call board
    realtime.wire()


def start(app) -> None:
    from . import runner

    runner.start(app)


plugin = Plugin(name="agent_console", register=register, start=start)
