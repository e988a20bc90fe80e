"""What telephony does for the call queue (``routing.calls.queue``): play its audio, ring an
operator's extension, bridge the answered leg, hang a leg up. Also wires the queue to the endpoint.

The queue decides; this module only carries out, on the call's session (``CallSession``).
"""
from __future__ import annotations

import logging

from telephony.queue_audio.prompts import Prompts

log = logging.getLogger("telephony.queue")

HOLD_TOP_UP_FRAMES = 25  # keep at least 0.5 s of hold audio queued so the caller never hears silence


class QueueMedia:
    def __init__(self, endpoint, prompts: Prompts | None = None) -> None:
        self.endpoint = endpoint
        self.prompts = prompts or Prompts.load()

    @property
    def welcome_seconds(self) -> float:
        return self.prompts.welcome_seconds

    @staticmethod
    def _stream(session):
        leg = session.caller_leg
        return leg.call.stream if leg is not None and leg.call is not None else None

    def announce(self, session, ahead: int) -> None:
        """Say the caller's place in the queue (replacing what was playing)."""
        stream = self._stream(session)
        if stream is not None:
            stream.clear_output()
            stream.play(self.prompts.position(ahead))

    def keep_hold(self, session) -> None:
        """Top up hold music so a waiting caller never hears silence."""
        stream = self._stream(session)
        if stream is not None and stream.queued_frames < HOLD_TOP_UP_FRAMES:
            stream.play(self.prompts.hold)

    def play_intake(self, session, *, closed: bool) -> None:
        """Offer voice intake: "outside service hours" or "everyone is busy, leave a message"."""
        stream = self._stream(session)
        if stream is not None:
            stream.clear_output()
            stream.play(self.prompts.intake_closed if closed else self.prompts.intake_busy)

    def offer(self, extension: str, ring_timeout: float):
        """Ring ``extension`` through the proxy; the result tells answered (``leg``) or ``failure``."""
        return self.endpoint.dialer.start(extension, ring_timeout, display="12345")

    @staticmethod
    def bridge(session, leg, extension: str) -> None:
        session.bridge(leg, speaker="operator", extension=extension)

    @staticmethod
    def hang_up(leg) -> None:
        if leg.state.name != "ANSWERED":
            return
        try:
            leg.hangup("caller_hangup")
        except Exception:  # noqa: BLE001 - the bridge may have ended it already
            log.debug("queue.leg_hangup_failed", exc_info=True)


def attach_queue(app, endpoint, config, *, prompts: Prompts | None = None):
    """Make ``endpoint`` queue its answered calls (``routing.calls``), greet with the queue
    welcome and run console commands on the queue's connected calls."""
    from routing.calls.queue import CallQueue

    from telephony.commands import CommandHandler

    media = QueueMedia(endpoint, prompts)
    # the queue's events join the endpoint's one ordered stream of call facts, off the SIP thread
    queue = CallQueue(app, config, media, publish=endpoint.facts.put)
    endpoint.acd = queue
    endpoint.greeting = media.prompts.welcome
    endpoint.hold_audio = media.prompts.hold  # what a held or transferred caller hears
    commands = CommandHandler(queue, app, publish=endpoint.facts.put)  # results after the events they caused
    queue.on_stop(commands.stop)
    return queue


def start_for(app, endpoint, config):
    """Attach the queue when operators' phones are reachable: the endpoint registers at a proxy
    (SIP_MODE=register with SIP_SERVER). Otherwise every call goes to voice intake."""
    if config.sip_mode != "register" or not config.sip_server:
        log.info("acd.off: no SIP proxy (SIP_MODE=register, SIP_SERVER) - calls go to voice intake")
        return None
    queue = attach_queue(app, endpoint, config)
    log.info("acd.on strategy=%s ring_timeout=%ss wrapup=%ss max_wait=%ss hours=%s", config.acd_strategy,
             config.acd_ring_timeout, config.acd_wrapup, config.acd_max_wait, config.service_hours or "24h")
    return queue
