"""The portal's one entry: the citizen pages at `/` (anonymous CSRF-checked forms, rate limits, a
larger body limit for the photos of the submit form)."""
from __future__ import annotations

from hotline.plugins import Plugin


def register(app) -> None:
    from hotline import throttle

    from .photos import MAX_REQUEST
    from .views import FORMS, LIMITED, bp

    app.register_blueprint(bp)
    app.config["CSRF_ANONYMOUS_ENDPOINTS"] = set(app.config.get("CSRF_ANONYMOUS_ENDPOINTS", ())) | set(FORMS)
    app.config["BODY_LIMITS"] = {**app.config.get("BODY_LIMITS", {}), "portal.submit": MAX_REQUEST,
                                 "portal.submit_code": MAX_REQUEST}
    for endpoint in LIMITED:
        throttle.limit_endpoint(endpoint)


plugin = Plugin(name="portal", register=register)
