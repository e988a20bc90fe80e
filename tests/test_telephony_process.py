"""`hotline sip` as its own process (the Procfile's ``sip``): events reach other processes via Redis."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.telephony_helpers import (RawUac, free_udp_port, require_sipp, rtp_range, run_sipp,
                                     scenario, sipp_error_log, wait_for)

pytestmark = pytest.mark.sip
HOTLINE = str(Path(sys.executable).with_name("hotline"))


def _options_ok(port: int) -> bool:
    uac = RawUac(port)
    try:
        uac.send(uac.request("OPTIONS"))
        reply = uac.recv(0.3)
        return bool(reply and reply.startswith("SIP/2.0 200"))
    finally:
        uac.close()


def test_sip_process_publishes_call_events_through_redis(redis_url, tmp_path):
    from hotline.app.dbadmin import upgrade
    from hotline.events import bus

    require_sipp()
    db_url = f"sqlite:///{tmp_path / 'sip.db'}"
    upgrade(db_url)
    low, high = rtp_range()
    port = free_udp_port()
    env = dict(os.environ, DATABASE_URL=db_url, REDIS_URL=redis_url, SECRET_KEY="t",
               HOTLINE_INSTANCE_DIR=str(tmp_path), SIP_HOST="127.0.0.1", SIP_PORT=str(port),
               SIP_RTP_LOW=str(low), SIP_RTP_HIGH=str(high), VOSK_MODEL_DIR="",
               HOTLINE_RECORDINGS_DIR=str(tmp_path / "rec"))
    seen: list[tuple[str, dict]] = []
    bus.connect_redis(redis_url)
    unsubscribe = bus.subscribe("*", lambda name, payload: seen.append((name, payload)))
    proc = subprocess.Popen([HOTLINE, "sip"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        assert wait_for(lambda: _options_ok(port) or proc.poll() is not None, 30) and proc.poll() is None
        sc = scenario("uac_call.xml", tmp_path, HOLD_MS=1500)
        result = run_sipp(sc, port, timeout=30)
        assert result.returncode == 0, result.stdout[-2000:] + sipp_error_log(sc)
        wanted = ["call.ringing", "call.answered", "call.ended", "call.ticket"]
        assert wait_for(lambda: all(w in [n for n, _ in seen] for w in wanted), 15), [n for n, _ in seen]
    finally:
        unsubscribe()
        bus.disconnect_redis()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out[-3000:]
    assert "SIP endpoint on 127.0.0.1" in out and "transcription off" in out
    call_ids = {p["call_id"] for n, p in seen if n.startswith("call.")}
    assert len(call_ids) == 1
