"""Register mode: the endpoint registers at a PBX/proxy (here SIPp answering REGISTER) and takes calls."""
from __future__ import annotations

import threading

import pytest

from tests.telephony_helpers import (SIPP_DIR, free_udp_port, require_sipp, run_sipp, scenario,
                                     sipp_error_log, start_endpoint, udp_port_bound, wait_for)

pytestmark = pytest.mark.sip


def test_registered_endpoint_answers_calls_from_the_pbx(app, tmp_path):
    require_sipp()
    pbx_port = free_udp_port()
    sip_port = free_udp_port()
    sc = scenario("uac_call.xml", tmp_path, PRE_MS=2500, HOLD_MS=2000)  # > 0.9 s recorded, with margin under load
    # SIPp plays the PBX: it answers our REGISTER (out-of-call scenario) and then sends the INVITE
    proc = run_sipp(sc, sip_port, local_port=pbx_port, background=True, timeout=30,
                    extra=["-oocsf", str(SIPP_DIR / "ooc_register_200.xml")])
    assert wait_for(lambda: udp_port_bound(pbx_port) or proc.poll() is not None, 10)
    holder: dict = {}
    starter = threading.Thread(target=lambda: holder.setdefault("ep", start_endpoint(
        app, sip_port=sip_port, sip_mode="register", sip_server="127.0.0.1", sip_server_port=pbx_port,
        sip_user="hotline", sip_password="secret")))
    starter.start()
    starter.join(20)
    endpoint = holder.get("ep")
    assert endpoint is not None, "REGISTER was not answered"
    try:
        # pyVoIP retries a failed REGISTER in the background (e.g. sent before SIPp was listening)
        assert wait_for(lambda: endpoint.phone.get_status().name == "REGISTERED", 15)
        out, _ = proc.communicate(timeout=40)
        assert proc.returncode == 0, out[-2000:] + sipp_error_log(sc)
        assert endpoint.wait_idle(10)
        record = endpoint.finished[-1]
        assert record["cause"] == "caller_hangup" and record["recording_seconds"] > 0.9
    finally:
        endpoint.phone.sip.register_timeout = 1  # the "PBX" is gone: do not wait 30 s to de-register
        endpoint.stop()


def test_requests_during_register_are_answered_not_lost(app):
    """F15: pyVoIP reads the registrar's answer straight from the socket; a request arriving first
    (here an OPTIONS; in production an INVITE during re-registration) used to be eaten."""
    import socket

    from tests.telephony_helpers import RawUac

    registrar = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    registrar.bind(("127.0.0.1", 0))
    registrar.settimeout(10)
    sip_port = free_udp_port()
    seen: dict = {}

    def fake_registrar():
        data, addr = registrar.recvfrom(65535)
        uac = RawUac(sip_port)
        uac.send(uac.request("OPTIONS"))
        seen["options"] = uac.recv(3)
        uac.close()
        head = data.decode().split("\r\n\r\n")[0].split("\r\n")
        keep = [h for h in head[1:] if h.split(":")[0] in ("Via", "From", "Call-ID", "CSeq", "Contact")]
        to = [h + ";tag=reg1" for h in head if h.startswith("To:")]
        reply = "\r\n".join(["SIP/2.0 200 OK", *keep, *to, "Expires: 120", "Content-Length: 0"])
        registrar.sendto((reply + "\r\n\r\n").encode(), addr)

    thread = threading.Thread(target=fake_registrar, daemon=True)
    thread.start()
    endpoint = start_endpoint(app, sip_port=sip_port, sip_mode="register", sip_server="127.0.0.1",
                              sip_server_port=registrar.getsockname()[1], sip_user="hotline")
    try:
        thread.join(10)
        assert endpoint.phone.get_status().name == "REGISTERED"
        assert seen["options"] and seen["options"].startswith("SIP/2.0 200")
    finally:
        endpoint.phone.sip.register_timeout = 1
        endpoint.stop()
        registrar.close()
