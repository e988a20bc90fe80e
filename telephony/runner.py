"""Embedded default: the SIP endpoint in background threads of the web process."""
from __future__ import annotations

import atexit
import logging

log = logging.getLogger("telephony.runner")

endpoint = None


def start(app):
    """Start the endpoint (``hotline run``); a failure to bind is logged, the web keeps running."""
    global endpoint
    from .endpoint import Endpoint

    config = app.config["HOTLINE"]
    if not config.sip_enabled:
        return None
    try:
        endpoint = Endpoint(app, config).start()
    except OSError as exc:
        log.error("sip.start_failed %s:%s: %s (set SIP_HOST/SIP_PORT or HOTLINE_SIP_ENABLED=false)",
                  config.sip_host, config.sip_port, exc)
        return None
    from .queue_media import start_for

    acd = start_for(app, endpoint, config)
    if acd is not None:
        atexit.register(acd.stop)  # atexit runs in reverse: the endpoint stops (stores calls) first
    atexit.register(endpoint.stop)
    return endpoint
