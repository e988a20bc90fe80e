"""The hotline endpoint and phones at the Kamailio registrar (issue 7): one binding per extension,
de-registration on shutdown, a wrong password shows in get_status()."""
from __future__ import annotations

import socket
import threading
import uuid

import pytest

from telephony.sip.proxy import KamailioProxy
from tests.bridge_helpers import bridge_endpoint, proxy, register, require_kamailio  # noqa: F401
from tests.telephony_helpers import start_endpoint, wait_for

pytestmark = pytest.mark.sip


def invite(proxy, user: str, timeout: float = 3.0) -> str | None:
    """Send one INVITE for ``user`` through the proxy from a scratch socket; the first final
    response's status line (None if nothing final came)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(timeout)
        me, call_id = s.getsockname()[1], uuid.uuid4().hex
        body = "v=0\r\no=t 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"
        s.sendto(("\r\n".join([
            f"INVITE sip:{user}@{proxy.host}:{proxy.port} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK{call_id[:12]};rport", "Max-Forwards: 70",
            f"From: <sip:t@127.0.0.1>;tag={call_id[:6]}", f"To: <sip:{user}@{proxy.host}>",
            f"Call-ID: {call_id}", "CSeq: 1 INVITE", f"Contact: <sip:t@127.0.0.1:{me}>",
            "Content-Type: application/sdp", f"Content-Length: {len(body)}"]) + "\r\n\r\n" + body).encode(),
            proxy.address)
        try:
            while True:
                line = s.recv(65535).decode().split("\r\n", 1)[0]
                if int(line.split()[1]) >= 200:
                    return line
        except socket.timeout:
            return None


def test_one_binding_per_extension(proxy):
    """A phone (or the endpoint) that re-registers from a new address replaces its old binding:
    calls are not forked to a stale contact (pyVoIP makes a new instance id at every start)."""
    old, new = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2))
    try:
        for s in (old, new):
            s.bind(("127.0.0.1", 0))
            s.settimeout(2)
        assert register(proxy, "1005", old.getsockname()[1]).startswith("SIP/2.0 200")
        assert register(proxy, "1005", new.getsockname()[1]).startswith("SIP/2.0 200")
        threading.Thread(target=invite, args=(proxy, "1005", 2.0), daemon=True).start()
        assert new.recv(65535).startswith(b"INVITE sip:1005@127.0.0.1:")
        with pytest.raises(socket.timeout):
            old.recv(65535)
    finally:
        old.close()
        new.close()


def test_endpoint_registers_as_hotline_and_deregisters_on_stop(app, proxy):
    endpoint = bridge_endpoint(app, proxy)
    try:
        status = invite(proxy, "12345", 5.0)  # reaches the endpoint: answered (then left alone)
        assert status is not None and status.startswith("SIP/2.0 200"), status
    finally:
        endpoint.stop()
    assert invite(proxy, "12345") == "SIP/2.0 404 Not Found"  # no stale binding after shutdown


def test_wrong_password_shows_in_status(app, tmp_path):
    require_kamailio()
    guarded = KamailioProxy(run_dir=str(tmp_path / "kamailio-auth"), auth=True, password="right").start()
    try:
        good = start_endpoint(app, sip_mode="register", sip_server=guarded.host, sip_server_port=guarded.port,
                              sip_user="hotline", sip_password="right")
        try:
            assert wait_for(lambda: good.phone.get_status().name == "REGISTERED", 10)
        finally:
            good.stop()
        bad = start_endpoint(app, sip_mode="register", sip_server=guarded.host, sip_server_port=guarded.port,
                             sip_user="hotline", sip_password="wrong")
        try:
            assert bad.phone.get_status().name != "REGISTERED"
            assert wait_for(lambda: bad.phone.get_status().name == "FAILED", 15), bad.phone.get_status()
        finally:
            bad.phone.sip.register_timeout = 1
            bad.stop()
        assert invite(guarded, "12345") == "SIP/2.0 404 Not Found"
    finally:
        guarded.stop()


def test_registrar_outage_does_not_stop_the_endpoint(app, proxy):
    """F21: pyVoIP stops the SIP client (and hangs up every call) after three failed REGISTERs."""
    from pyVoIP import SIP

    victim = bridge_endpoint(app, proxy)
    endpoint = bridge_endpoint(app, proxy, user="hotline2")
    try:
        proxy.stop()
        victim.phone.sip.register_timeout = endpoint.phone.sip.register_timeout = 0.5
        victim.phone.sip.registerFailures = 2
        SIP.SIPClient.register(victim.phone.sip)  # pyVoIP's own policy, third failure
        assert not victim.phone.sip.NSD and victim.phone.get_status().name == "FAILED"  # stopped

        for _ in range(4):
            assert not endpoint.phone.sip.register()
        assert endpoint.phone.get_status().name == "FAILED"
        assert endpoint.phone.sip.NSD and endpoint.phone.media._running  # still up: calls go on
        proxy.start()
        assert endpoint.phone.sip.register()
        assert endpoint.phone.get_status().name == "REGISTERED"
    finally:
        victim.stop()
        endpoint.stop()
