"""ACD tests: Kamailio on loopback, SIPp operator phones registered as extensions, an endpoint
registered as ``hotline`` with the queue attached, and operator presence set as the console does.

``queued_call`` reads a call's record (telephony's ``calls`` row) together with its queue record
(``routing.calls``' ``call_queue`` row, written by the queue's worker once the call ended)."""
from __future__ import annotations

import subprocess
from dataclasses import replace
from datetime import timedelta

from tests.bridge_helpers import proxy, register  # noqa: F401 - the Kamailio fixture, re-exported
from tests.telephony_helpers import (SIPP, free_media_port, free_udp_port, run_sipp, scenario, start_endpoint, stop_process,
                                     tmp_dir, udp_port_bound, wait_for)


class OperatorPhone:
    """A SIPp UAS registered as ``extension``: answers (or only rings) ``calls`` calls."""

    def __init__(self, proxy, extension: str, *, answer: bool = True, ring_ms: int = 300, calls: int = 1,
                 workdir=None) -> None:
        self.extension = extension
        self.dir = workdir or tmp_dir()
        name = "acd_operator_answer.xml" if answer else "acd_operator_noanswer.xml"
        sc = scenario(name, self.dir, EXT=extension, RING_MS=ring_ms)
        self.port = free_udp_port()
        self.log = open(self.dir / f"op-{extension}.log", "w")
        self.proc = subprocess.Popen(
            [SIPP, "-sf", str(sc), "-i", "127.0.0.1", "-p", str(self.port), "-mi", "127.0.0.1",
             "-mp", str(free_media_port()), "-m", str(calls), "-timeout", "90s", "-nostdin",
             "-trace_err", "-error_file", str(self.dir / f"op-{extension}-err.log")],
            cwd=self.dir, stdout=self.log, stderr=subprocess.STDOUT)
        assert wait_for(lambda: udp_port_bound(self.port), 5), f"SIPp for {extension} did not start"
        status = register(proxy, extension, self.port)
        assert status.startswith("SIP/2.0 200"), status

    def wait(self, timeout: float = 30) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


def acd_endpoint(app, proxy, **settings):
    """An endpoint registered at ``proxy`` as ``hotline`` with the call queue attached."""
    from telephony.queue_audio.media import attach_queue

    host, port = proxy.address
    cfg = dict(acd_ring_timeout=10, acd_wrapup=60, acd_max_wait=30, acd_announce_seconds=20,
               service_hours="")
    cfg.update({k: v for k, v in settings.items() if k.startswith("acd_") or k == "service_hours"})
    endpoint = start_endpoint(app, sip_mode="register", sip_server=host, sip_server_port=port,
                              sip_user="hotline", sip_password="secret",
                              **{k: v for k, v in settings.items() if k not in cfg})
    assert wait_for(lambda: endpoint.phone.get_status().name == "REGISTERED", 10), proxy.log_tail()
    config = replace(endpoint.config, **cfg)
    acd = attach_queue(app, endpoint, config)
    endpoint.acd_config = config
    return endpoint, acd


def stop_endpoint(endpoint, acd) -> None:
    endpoint.phone.sip.register_timeout = 1
    endpoint.stop()
    acd.stop()


def add_operator(app, username: str, extension: str):
    from hotline.auth import create_user
    from hotline.extensions import db

    with app.app_context():
        user = create_user(db.session, username, f"{username}-pass", "operator", display_name=username,
                           sip_extension=extension)
        db.session.commit()
        db.Session.remove()
        return user.id


def set_states(app, states: dict[str, str], *, ready_order: list[str] | None = None) -> None:
    """Set presence through the console service; ``ready_order`` backdates 示闲 since-times so the
    first named has been ready longest (10 s apart)."""
    from sqlalchemy import select

    from hotline.auth import User
    from hotline.extensions import db
    from routing.calls import presence
    from routing.calls.models import AgentState
    from hotline.clock import utcnow

    with app.app_context():
        users = {u.username: u for u in db.session.scalars(select(User).where(User.username.in_(states)))}
        for name, state in states.items():
            presence.set_state(db.session, users[name], state)
        if ready_order:
            now = utcnow()
            for i, name in enumerate(ready_order):
                db.session.get(AgentState, users[name].id).since = now - timedelta(seconds=10 * (len(ready_order) - i))
            db.session.commit()
        db.Session.remove()


def citizen_call(proxy, tmpdir, hold_ms: int = 2000, background: bool = False):
    sc = scenario("uac_call.xml", tmpdir, HOLD_MS=hold_ms)
    return sc, run_sipp(sc, proxy.port, timeout=60, background=background)


class CallView:
    """A call's telephony record and its queue record read as one: queue facts come from the
    queue row, the rest (ticket, recording...) from the call row."""

    def __init__(self, call, queued) -> None:
        self.call, self.queued = call, queued

    def __getattr__(self, name):
        if self.queued is not None and hasattr(self.queued, name) and name not in ("id", "caller"):
            return getattr(self.queued, name)
        return getattr(self.call, name)


def queued_call(app, call_uuid: str, timeout: float = 15) -> CallView:
    """The stored call once both records are written (the queue row has ended)."""
    from sqlalchemy import select

    from hotline.extensions import db
    from routing.calls.models import QueuedCall
    from telephony.models import Call

    def read():
        with app.app_context():
            call = db.session.scalar(select(Call).where(Call.call_uuid == call_uuid))
            queued = db.session.scalar(select(QueuedCall).where(QueuedCall.call_uuid == call_uuid))
            db.session.expunge_all()
            db.Session.remove()
        return CallView(call, queued) if call is not None and queued is not None and queued.state == "ended" else None

    view = wait_for(read, timeout)
    assert view is not None, f"call {call_uuid} was not stored with its queue record"
    return view
