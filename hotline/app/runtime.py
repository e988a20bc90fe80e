"""Background parts of the embedded default (`hotline run`): jobs and the SIP endpoint, in-process."""
from __future__ import annotations

import logging

from .plugins import PLUGINS

log = logging.getLogger("hotline.runtime")


def start_background(app, sip: bool) -> None:
    """Start each package's in-process background work (the SIP endpoint only with ``sip``)."""
    started = [p for p in PLUGINS if p.start is not None and p.name != "telephony"]
    if sip:  # last, as the endpoint answers calls the rest may need to see
        started += [p for p in PLUGINS if p.name == "telephony"]
    for plugin in started:
        plugin.start(app)
        log.info("runtime.started %s", plugin.name)
