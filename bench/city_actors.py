"""The actors of bench/city_load.py beside its load generator (bench/city_generator.py): the one
baresip operator phone, operators pressing 示闲 again after a missed offer, and the API call they
share."""
from __future__ import annotations

import http.client
import json
import subprocess
import threading
import time
from pathlib import Path

PASSWORD = "Bench-city-2026"


def call_api(base: str, path: str, *, method: str = "GET", body: dict | None = None, token: str | None = None,
         timeout: float = 15) -> tuple[int, bytes]:
    host, port = base.removeprefix("http://").split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=timeout)
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    c.request(method, path, body=json.dumps(body, ensure_ascii=False).encode() if body is not None else None,
              headers=headers)
    r = c.getresponse()
    return r.status, r.read()


# -- operators' phones -----------------------------------------------------------------------------------

def stop_process(proc) -> None:
    """SIGTERM, then SIGKILL after 5 s; waited for either way."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class BaresipPhone:
    """An operator's real softphone: Debian's baresip registered at Kamailio, answering on its own
    (answermode=auto), silent (aubridge). It hangs up a call whose audio stopped for 10 s (the
    call of a killed `sip` process, as an operator would) instead of staying in it."""

    def __init__(self, kamailio: tuple[str, int], ext: str, tmp: Path, log_path: Path) -> None:
        from tests.bridge_helpers import require_baresip
        from tests.telephony_helpers import free_udp_port

        self.ext, self.port = ext, free_udp_port()
        rtp_low = free_udp_port() // 2 * 2
        home = tmp / f"baresip-{ext}"
        home.mkdir()
        (home / "config").write_text("\n".join([
            "poll_method epoll", f"sip_listen 127.0.0.1:{self.port}", "audio_player aubridge,nil",
            "audio_source aubridge,nil", "audio_srate 8000", "audio_channels 1", "rtp_timeout 10",
            "module_path /usr/lib/baresip/modules", "module g711.so", "module aubridge.so", "module menu.so",
            "module account.so", f"rtp_ports {rtp_low}-{rtp_low + 40}", ""]))
        (home / "accounts").write_text(
            f"<sip:{ext}@{kamailio[0]}:{kamailio[1]}>;regint=3600;answermode=auto;audio_codecs=PCMU\n")
        self.log = open(tmp / f"baresip-{ext}.log", "w")
        self.proc = subprocess.Popen([require_baresip(), "-f", str(home)], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        seen = f"REQ REGISTER sip:{kamailio[0]}:{kamailio[1]} from 127.0.0.1:{self.port}"
        deadline = time.time() + 30
        while seen not in log_path.read_text(errors="replace"):
            assert self.proc.poll() is None and time.time() < deadline, f"baresip {ext} did not register"
            time.sleep(0.2)

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


class BackToReady(threading.Thread):
    """Operators as in a real centre: an operator who missed an offer is set 示忙 by the queue (the
    product's rule: nobody is offered calls at an unattended seat) and presses 示闲 again once back,
    here ``after`` seconds later, through the API like the console's button."""

    def __init__(self, db_url: str, base: str, tokens: dict[str, str], after: float) -> None:
        super().__init__(daemon=True)
        self.db_url, self.base, self.tokens, self.after = db_url, base, tokens, after
        self.halt = threading.Event()
        self.returns = 0
        self.failed: list = []

    def run(self) -> None:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.db_url, pool_size=1)
        busy_since: dict[str, float] = {}
        try:
            while not self.halt.wait(1.0):
                try:
                    with engine.connect() as c:
                        busy = {u for (u,) in c.execute(text(
                            "select u.username from agent_states a join users u on u.id = a.user_id "
                            "where a.state = 'busy'"))}
                except Exception as exc:  # noqa: BLE001 - PostgreSQL busy: look again next second
                    self.failed.append(repr(exc)[:80])
                    continue
                now = time.time()
                busy_since = {u: busy_since.get(u, now) for u in busy if u in self.tokens}
                for user, since in list(busy_since.items()):
                    if now - since < self.after:
                        continue
                    try:
                        status, raw = call_api(self.base, "/api/v1/console/state", method="POST",
                                               body={"state": "idle"}, token=self.tokens[user])
                    except OSError as exc:
                        self.failed.append(str(exc))
                        continue
                    if status == 200:
                        self.returns += 1
                        busy_since.pop(user)
                    else:
                        self.failed.append(status)
        finally:
            engine.dispose()
