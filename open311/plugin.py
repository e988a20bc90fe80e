"""Open311's one entry: the /open311/v2 blueprint (CSRF-exempt POST with its per-address limit)
and `hotline open311 keys`."""
from __future__ import annotations

from hotline.plugins import Plugin


def register(app) -> None:
    from hotline import throttle

    from .api import POST_ENDPOINT, bp

    app.register_blueprint(bp)
    # the API key is a form field, never an ambient credential: no CSRF token, no staff session
    app.config["CSRF_EXEMPT_ENDPOINTS"] = set(app.config.get("CSRF_EXEMPT_ENDPOINTS", ())) | {POST_ENDPOINT}
    throttle.limit_endpoint(POST_ENDPOINT)


def commands() -> list:
    from .cli import COMMANDS

    return list(COMMANDS)


plugin = Plugin(name="open311", register=register, commands=commands)
