"""Background parts of the embedded default: jobs and the SIP endpoint, in-process."""
from __future__ import annotations

import logging

from .packages import optional_modules

log = logging.getLogger("hotline.runtime")


def wire_subscribers(app) -> None:
    """Event subscribers that do work, in every process that can publish (web, sip, worker).

    They subscribe with ``remote=False``: an event is handled once, where it was committed.
    """
    for module in optional_modules("routing.runner"):
        module.wire()


def start_background(app, sip: bool) -> None:
    """Start each package's in-process runner (``<package>.runner.start(app)``) if it has one."""
    names = ["supervision.runner", "routing.runner", "agent_console.runner"]
    if sip:
        names.append("telephony.runner")
    for module in optional_modules(*names):
        module.start(app)
        log.info("runtime.started %s", module.__name__)
