"""A real softphone (Debian's baresip) calls the endpoint: SIPp forgives protocol mistakes, phones do not."""
from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests.bridge_helpers import require_baresip
from tests.telephony_helpers import AUDIO_DIR, free_udp_port, read_wav, start_endpoint

pytestmark = pytest.mark.sip




def test_baresip_call_is_answered_recorded_and_ended_cleanly(app, tmp_path):
    np = pytest.importorskip("numpy")
    baresip = require_baresip()
    source = AUDIO_DIR / "ko_1.wav"
    rtp_low = free_udp_port() // 2 * 2
    (tmp_path / "config").write_text("\n".join([
        "poll_method epoll", f"sip_listen 127.0.0.1:{free_udp_port()}",
        f"audio_source aufile,{source}", f"audio_player aufile,{tmp_path / 'heard.wav'}",
        "audio_srate 8000", "audio_channels 1", "module_path /usr/lib/baresip/modules",
        "module g711.so", "module aufile.so", "module menu.so", "module account.so",
        f"rtp_ports {rtp_low}-{rtp_low + 20}", ""]))
    (tmp_path / "accounts").write_text("<sip:13912345678@127.0.0.1>;regint=0;audio_codecs=PCMU\n")
    endpoint = start_endpoint(app)
    try:
        # baresip hangs up by itself when its audio file ends (~4.5 s): a real phone's BYE
        result = subprocess.run([baresip, "-f", str(tmp_path), "-e",
                                 f"/dial sip:12345@127.0.0.1:{endpoint.config.sip_port}", "-t", "12"],
                                capture_output=True, text=True, timeout=40)
        assert endpoint.wait_idle(20)
        record = endpoint.finished[-1]
    finally:
        endpoint.stop()
    log = re.sub(r"\[\d:\d\d:\d\d\] audio=.*\n", "", result.stdout)
    assert "Call established" in log and "terminated" in log, log[-2000:]
    assert not re.search(r"\b(4\d\d|5\d\d) ", log.split("Call established")[0]), log[-2000:]
    assert record["cause"] == "caller_hangup" and record["caller"] == "13912345678"
    assert record["stats"]["acked"] and record["stats"]["answer_retransmits"] == 0
    assert record["ticket_number"]
    recorded, _ = read_wav(os.path.join(endpoint.config.recordings_dir, record["recording_path"]))
    original, _ = read_wav(source)
    assert len(recorded) / 8000 >= len(original) / 8000 - 0.3
    a = np.asarray(recorded, dtype=float)
    b = np.asarray(original, dtype=float)
    corr = np.correlate(a, b, mode="valid") if len(a) >= len(b) else np.correlate(b, a, mode="valid")
    lag = int(np.argmax(np.abs(corr)))
    seg = a[lag:lag + len(b)] if len(a) >= len(b) else a
    ref = b if len(a) >= len(b) else b[lag:lag + len(a)]
    score = float(np.dot(seg, ref) / (np.linalg.norm(seg) * np.linalg.norm(ref)))
    assert score > 0.99, score
