"""`hotline sip`: the SIP endpoint as its own process (the Procfile's ``sip``)."""
from __future__ import annotations

import os
import signal
import threading

import click


@click.command("sip")
def sip() -> None:
    """Run the SIP endpoint (answer, record, transcribe, draft tickets) until SIGTERM/SIGINT."""
    from hotline.commands import load_app
    from hotline.config import Config

    from telephony.queue_audio.media import start_for
    from telephony.endpoint import Endpoint
    from telephony.reaper import Heartbeat

    config = Config.from_env()
    app = load_app()  # connects the event bus to Redis when REDIS_URL is set
    from hotline import jobs

    from telephony import tasks

    # several `sip` processes (on PostgreSQL): the others reap this one's calls if it dies, and it
    # theirs; one process on the embedded SQLite file has nobody to reap it
    heartbeat = None
    if not config.database_url.startswith("sqlite"):
        heartbeat = Heartbeat(app, config,
                              transcribe=lambda call_id: jobs.enqueue(tasks.transcribe_call, call_id)).start()
    endpoint = Endpoint(app, config)
    acd = start_for(app, endpoint, config)
    if acd is not None and heartbeat is not None:
        acd.instance = heartbeat.instance_id
    # listen only now: a call answered before the queue was attached bypassed it (no queue row, no
    # operator; bench/city_load.py: a respawned `sip` process took a call in that second)
    endpoint.start()
    from telephony.contact import ContactCaller

    # 联系诉求人: departments' calls to citizens
    contact = ContactCaller(app, endpoint, config, node=heartbeat.instance_id if heartbeat else None)
    speech = "on" if endpoint.speech.enabled else f"off ({endpoint.speech.reason})"
    click.echo(f"SIP endpoint on {config.sip_host}:{config.sip_port} ({config.sip_mode} mode), "
               f"RTP {config.sip_rtp_low}-{config.sip_rtp_high}, transcription {speech}")
    if heartbeat is not None:
        click.echo(f"sip instance {heartbeat.instance_id} (pid {os.getpid()})")
    click.echo(f"call queue: {config.acd_strategy}, ring {config.acd_ring_timeout} s, wrap-up {config.acd_wrapup} s"
               if acd else "call queue: off (no SIP proxy: SIP_MODE=register and SIP_SERVER) - voice intake only")
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    click.echo("stopping: hanging up calls and storing their records")
    endpoint.stop()  # hangs up and stores every call (the queue records its facts meanwhile)
    contact.stop()  # the outcomes of contact calls ended by the shutdown are written
    if acd is not None:
        acd.stop()
    if heartbeat is not None:
        heartbeat.stop()
    from hotline.events import bus

    bus.flush(10)  # the last call events leave for Redis before the process does


from telephony.sip.proxy_cli import sip_proxy  # noqa: E402 - `hotline sip-proxy` (development Kamailio)
from telephony.speech.cli import speech_group  # noqa: E402 - `hotline speech check` (speech engineer's module)

COMMANDS = [sip, speech_group, sip_proxy]
