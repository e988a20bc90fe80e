"""Split mode, as in production: ``hotline sip`` is its own process (queue and calls), this test
process is the web (console API), PostgreSQL is shared and events cross over Redis. Presence set
in the console reaches the queue; the operator's hang-up command reaches the call."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.acd_helpers import OperatorPhone, proxy  # noqa: F401
from tests.bridge_helpers import Citizen
from tests.telephony_helpers import AUDIO_DIR, free_udp_port, rtp_range, wait_for

pytestmark = pytest.mark.sip
HOTLINE = str(Path(sys.executable).with_name("hotline"))


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_console_presence_and_commands_reach_the_sip_process(app, api, proxy, redis_url, database_url,
                                                              tmp_path, events):
    from hotline.events import bus
    from hotline.extensions import db
    from routing.calls.models import QueuedCall

    phone = OperatorPhone(proxy, "1001")
    low, high = rtp_range()
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, SECRET_KEY="t",
               HOTLINE_INSTANCE_DIR=str(tmp_path), SIP_HOST="127.0.0.1", SIP_PORT=str(free_udp_port()),
               SIP_RTP_LOW=str(low), SIP_RTP_HIGH=str(high), VOSK_MODEL_DIR="", SIP_MODE="register",
               SIP_SERVER=proxy.host, SIP_SERVER_PORT=str(proxy.port), SIP_USER="hotline",
               SIP_PASSWORD="secret", HOTLINE_RECORDINGS_DIR=str(tmp_path / "rec"),
               HOTLINE_ACD_RING_TIMEOUT="8", HOTLINE_ACD_WRAPUP="60", HOTLINE_ACD_MAX_WAIT="30")
    log_path = tmp_path / "sip.log"
    bus.connect_redis(redis_url)
    with open(log_path, "w") as log:
        proc = subprocess.Popen([HOTLINE, "sip"], env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    op = api("operator1")
    citizen = None
    try:
        assert wait_for(lambda: "call queue: longest_idle" in log_path.read_text() or proc.poll() is not None, 40)
        assert proc.poll() is None, log_path.read_text()[-3000:]
        assert op.post("/api/v1/console/state", json={"state": "idle"}).status_code == 200
        citizen = Citizen(proxy, tmp_path, AUDIO_DIR / "ko_1.ulaw", end="wait_bye", timeout=40)
        live = wait_for(lambda: [c for c in op.get("/api/v1/console/calls").get_json()["items"]
                                 if c["info"].get("connected") and c["state"] == "talking"], 20)
        assert live, log_path.read_text()[-3000:] + proxy.log_tail()
        call_id = live[0]["call_id"]
        assert op.get("/api/v1/console/state").get_json()["state"] == "oncall"  # set by the SIP process
        assert op.post(f"/api/v1/calls/{call_id}/commands/hangup").status_code == 202
        result = wait_for(lambda: next((p for n, p in events if n == "call.command_result"), None), 15)
        assert result and result["ok"] is True, result
        code, out = citizen.wait(30)
        assert code == 0, out  # the citizen received the hotline's BYE
        with app.app_context():
            call = wait_for(lambda: db.session.scalar(select(QueuedCall).where(
                QueuedCall.call_uuid == call_id, QueuedCall.state == "ended")) or db.session.rollback(), 15)
            assert call is not None
            assert (call.outcome, call.hangup_side, call.operator_extension) == ("answered", "operator", "1001")
            db.Session.remove()
        assert wait_for(lambda: op.get("/api/v1/console/state").get_json()["state"] == "wrapup", 10)
    finally:
        if citizen is not None:
            citizen.stop()
        bus.disconnect_redis()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        phone.stop()
    assert proc.returncode == 0, log_path.read_text()[-3000:]
