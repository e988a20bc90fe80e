"""Background parts of the embedded default: jobs and the SIP endpoint, in-process."""
from __future__ import annotations

import importlib
import logging

log = logging.getLogger("hotline.runtime")


def wire_subscribers(app) -> None:
    """Event subscribers that do work, in every process that can publish (web, sip, worker).

    They subscribe with ``remote=False``: an event is handled once, where it was committed.
    """
    try:
        from routing import runner as routing_runner
    except ModuleNotFoundError as exc:
        if exc.name != "routing":
            raise
    else:
        routing_runner.wire()


def start_background(app, sip: bool) -> None:
    """Start each package's in-process runner (``<package>.runner.start(app)``) if it has one."""
    names = ["supervision.runner", "routing.runner", "agent_console.runner"]
    if sip:
        names.append("telephony.runner")
    for name in names:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue
            raise
        module.start(app)
        log.info("runtime.started %s", name)
