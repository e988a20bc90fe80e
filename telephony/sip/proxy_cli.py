"""`hotline sip-proxy`: a Kamailio registrar/proxy on this machine for development and demos."""
from __future__ import annotations

import signal
import threading

import click


@click.command("sip-proxy")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on (UDP)")
@click.option("--port", default=5060, show_default=True, type=int)
@click.option("--auth/--no-auth", default=False, show_default=True,
              help="digest authentication for REGISTER (one password for every extension)")
@click.option("--password", default="secret", show_default=True)
@click.option("--ring-limit", default=60, show_default=True, type=int, help="seconds a phone may ring")
def sip_proxy(host: str, port: int, auth: bool, password: str, ring_limit: int) -> None:
    """Run Kamailio (telephony/sip/kamailio/kamailio.cfg.tmpl) until SIGTERM/SIGINT. Point the endpoint
    at it with SIP_MODE=register SIP_SERVER=<host> SIP_SERVER_PORT=<port> SIP_USER=hotline, and
    register operators' softphones there with their extension as user name."""
    from telephony.sip.proxy import KamailioProxy

    proxy = KamailioProxy(host, port, auth=auth, password=password, ring_limit=ring_limit).start()
    click.echo(f"Kamailio on udp:{host}:{port} (run dir {proxy.run_dir}, log {proxy.log_path}); "
               f"calls to 12345 go to the extension 'hotline'")
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    while not done.wait(1.0):
        if proxy.proc is None or proxy.proc.poll() is not None:
            raise click.ClickException(f"kamailio stopped: {proxy.log_tail(1500)}")
    proxy.stop()
