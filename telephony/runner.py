"""Embedded default: the SIP endpoint in background threads of the web process.

The endpoint belongs to the app (``app.extensions["telephony.endpoint"]``); the app shell stops it
(and the call queue) when it shuts the app down.
"""
from __future__ import annotations

import logging

from hotline.plugins import on_shutdown

log = logging.getLogger("telephony.runner")


def start(app):
    """Start the endpoint (``hotline run``); a failure to bind is logged, the web keeps running."""
    from telephony.endpoint import Endpoint

    config = app.config["HOTLINE"]
    if not config.sip_enabled:
        return None
    try:
        endpoint = Endpoint(app, config).start()
    except OSError as exc:
        log.error("sip.start_failed %s:%s: %s (set SIP_HOST/SIP_PORT or HOTLINE_SIP_ENABLED=false)",
                  config.sip_host, config.sip_port, exc)
        return None
    from telephony.queue_audio.media import start_for

    acd = start_for(app, endpoint, config)
    from telephony.contact import ContactCaller

    on_shutdown(app, ContactCaller(app, endpoint, config).stop)  # 联系诉求人 (after the endpoint stopped)
    if acd is not None:
        on_shutdown(app, acd.stop)  # shutdown runs in reverse: the endpoint stops (stores calls) first
    on_shutdown(app, endpoint.stop)
    app.extensions["telephony.endpoint"] = endpoint
    return endpoint
