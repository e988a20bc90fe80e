"""`hotline run` (what `make run` starts): migrates, seeds, prints the demo logins, serves."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

from .conftest import free_port


def test_run_serves_healthz_and_login(tmp_path):
    port, sip = free_port(), free_port()
    env = {**os.environ, "HOTLINE_INSTANCE_DIR": str(tmp_path), "HOTLINE_PORT": str(port),
           "SIP_PORT": str(sip), "SIP_RTP_LOW": "31000", "SIP_RTP_HIGH": "31100"}
    for key in ("DATABASE_URL", "REDIS_URL", "VOSK_MODEL_DIR"):
        env.pop(key, None)
    proc = subprocess.Popen([sys.executable, "-m", "hotline.app.cli", "run"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, status = time.time() + 90, None
        while time.time() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    status = r.status
                    break
            except OSError:
                time.sleep(0.5)
        assert status == 200, "hotline run did not serve /healthz"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as r:
            assert r.status == 200 and "工作人员登录" in r.read().decode()
        assert (tmp_path / "hotline.db").exists()
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "operator1" in out and "operator1-pass" in out and "supervisor-pass" in out
    assert f"http://127.0.0.1:{port}/" in out
