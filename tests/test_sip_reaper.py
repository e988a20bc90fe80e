"""The reaper judges a `sip` process dead by its stale heartbeat, except a process of this host that
still runs (a late heartbeat on a busy machine): reaping a live process closed its talking calls as
``interrupted`` and made it store them twice (bench/city_load.py at load 20)."""
from __future__ import annotations

import socket
import subprocess
import sys
from datetime import timedelta
from types import SimpleNamespace

import pytest

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


def _row(s, name: str, pid: int, *, host: str | None = None, late: float = 20.0, registered: float = 0.0):
    """A heartbeat row ``late`` seconds stale, registered ``registered`` seconds ago (0: after the
    process started; a minute: before it started, i.e. the pid now belongs to another process)."""
    from hotline.clock import utcnow
    from telephony.models import SipInstance

    now = utcnow()
    s.add(SipInstance(id=name, host=host or socket.gethostname()[:100], sip_address=f"127.0.0.1:{pid}", pid=pid,
                      started_at=now - timedelta(seconds=registered), beat_at=now - timedelta(seconds=late)))
    s.commit()


def test_a_live_process_with_a_late_heartbeat_is_not_reaped_a_dead_one_is(app):
    from hotline.extensions import db
    from telephony.models import SipInstance
    from telephony.reaper import LIVE_GRACE, reap_dead

    config = SimpleNamespace(sip_stale_seconds=10, recordings_dir="", max_content_chars=4000, vosk_model_dir="")
    alive = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])  # exits, never waited for while reaping
    _until_zombie(zombie.pid)
    try:
        with app.app_context():
            s = db.session
            _row(s, "live-late", alive.pid)  # 20 s late, stale limit 10 s: runs, so not dead
            _row(s, "dead", gone.pid)
            _row(s, "elsewhere", alive.pid, host="another-host")  # only its heartbeat tells
            _row(s, "hung", alive.pid, late=10 * LIVE_GRACE + 5)  # runs but beats no more: hung
            _row(s, "zombie", zombie.pid)  # killed, its parent has not waited for it yet
            _row(s, "reused", alive.pid, registered=60)  # the pid is now another, later process's
            reaped = {r["instance"] for r in reap_dead(s, config, "me")}
            assert reaped == {"dead", "elsewhere", "hung", "zombie", "reused"}
            assert s.get(SipInstance, "live-late").reaped_at is None
    finally:
        alive.stdin.close()
        alive.wait(10)
        zombie.wait(10)


def _until_zombie(pid: int) -> None:
    import time

    import psutil

    deadline = time.monotonic() + 30
    while psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.01)
