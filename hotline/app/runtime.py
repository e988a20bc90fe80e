"""Background parts of the embedded default: jobs and the SIP endpoint, in-process."""
from __future__ import annotations

import logging

log = logging.getLogger("hotline.runtime")


def wire_subscribers(app) -> None:
    """Event subscribers that do work, in every process that can publish (web, sip, worker).

    They subscribe with ``remote=False``: an event is handled once, where it was committed.
    """
    from routing import runner as routing_runner

    routing_runner.wire()


def start_background(app, sip: bool) -> None:
    """Start each package's in-process runner (``<package>.runner.start(app)``)."""
    from agent_console import runner as console_runner
    from routing import runner as routing_runner
    from supervision import runner as supervision_runner
    from telephony import runner as telephony_runner

    runners = [supervision_runner, routing_runner, console_runner]
    if sip:
        runners.append(telephony_runner)
    for module in runners:
        module.start(app)
        log.info("runtime.started %s", module.__name__)
