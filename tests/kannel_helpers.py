"""A real Kannel for tests: bearerbox + smsbox with Kannel's own test SMSC (``fakesmsc`` from
kannel-extras) on free ports, from a generated kannel.conf. ``received()`` decodes what fakesmsc
got (it prints ``Got message N: <from to ucs-2 %xx...>``)."""
from __future__ import annotations

import re
import socket
import subprocess
import urllib.parse
from pathlib import Path

from tests.conftest import free_port
from tests.telephony_helpers import require_tool, stop_process, wait_for

BEARERBOX = "/usr/sbin/bearerbox"
SMSBOX = "/usr/sbin/smsbox"
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
USER, PASSWORD = "hotline", "kannel-test-pass"

CONF = """\
group = core
admin-port = {admin}
admin-password = {password}
smsbox-port = {smsbox}
box-allow-ip = 127.0.0.1
dlr-storage = internal
log-level = 1
log-file = "{dir}/bearerbox.log"

group = smsc
smsc = fake
smsc-id = fake
port = {fake}
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {smsbox}
sendsms-port = {sendsms}
global-sender = 12345
log-level = 1
log-file = "{dir}/smsbox.log"

group = sendsms-user
username = {user}
password = {password}
concatenation = true
max-messages = 5

group = sms-service
keyword = default
catch-all = true
get-url = "{inbound}?token={token}&from=%p&text=%a"
omit-empty = true
accept-x-kannel-headers = true
"""

_GOT = re.compile(r"Got message (\d+): <(\S+) (\S+) (\S+) (.*)>$")


def require_kannel() -> None:
    require_tool(BEARERBOX, "kannel", BEARERBOX)
    require_tool(FAKESMSC, "kannel-extras", FAKESMSC)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Kannel:
    """``start()`` / ``stop()`` the whole gateway (bearerbox, fakesmsc, smsbox) - an outage."""

    def __init__(self, workdir: Path, *, inbound_url: str, inbound_token: str) -> None:
        require_kannel()
        self.dir = workdir
        self.ports = {k: free_port() for k in ("admin", "smsbox", "fake", "sendsms")}
        self.url = f"http://127.0.0.1:{self.ports['sendsms']}/cgi-bin/sendsms"
        self.conf = workdir / "kannel.conf"
        self.conf.write_text(CONF.format(dir=workdir, user=USER, password=PASSWORD, inbound=inbound_url,
                                         token=inbound_token, **self.ports))
        self.procs: list[subprocess.Popen] = []
        self.runs = 0

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        out = open(self.dir / f"{name}-{self.runs}.out", "w")
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=self.dir)
        out.close()
        self.procs.append(proc)
        return proc

    def start(self, *, mo: list[str] | None = None, timeout: float = 60.0) -> "Kannel":
        """``mo``: messages fakesmsc sends to the gateway once connected ("from to text words").
        A start that fails stops what it started (a fixture that fails in setup is never torn down)."""
        try:
            return self._start(mo, timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, mo: list[str] | None, timeout: float) -> "Kannel":
        self.runs += 1
        self._spawn("bearerbox", [BEARERBOX, str(self.conf)])
        assert wait_for(lambda: _listening(self.ports["fake"]), timeout), self.log_tail()
        self._spawn("fakesmsc", [FAKESMSC, "-H", "127.0.0.1", "-r", str(self.ports["fake"]), "-i", "0.1",
                                 "-m", str(len(mo or [])), *(mo or ["0 0 text none"])])
        self._spawn("smsbox", [SMSBOX, str(self.conf)])
        assert wait_for(lambda: _listening(self.ports["sendsms"]), timeout), self.log_tail()
        assert wait_for(self._smsc_online, timeout), self.log_tail()
        return self

    def _smsc_online(self) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ports['admin']}/status.txt?password={PASSWORD}",
                                        timeout=5) as r:
                status = r.read().decode("utf-8", "replace")
        except OSError:
            return False
        return bool(re.search(r"FAKE:\d+ \(online", status)) and "smsbox:" in status

    def stop(self) -> None:
        for proc in reversed(self.procs):  # smsbox, fakesmsc, then bearerbox
            stop_process(proc, grace=5.0)
        self.procs.clear()

    def received(self) -> list[dict]:
        """Every message fakesmsc (the "phone network") received, decoded, in order."""
        out = []
        for path in sorted(self.dir.glob("fakesmsc-*.out"), key=lambda p: int(p.stem.split("-")[1])):
            seen = set()  # fakesmsc logs some messages twice (log and console): one per number
            for line in path.read_text(errors="replace").splitlines():
                m = _GOT.search(line)
                if not m or m.group(1) in seen:
                    continue
                seen.add(m.group(1))
                _, sender, to, coding, data = m.groups()
                if coding == "ucs-2":
                    text = urllib.parse.unquote_to_bytes(data).decode("utf-16-be")
                else:
                    text = urllib.parse.unquote_plus(data)
                out.append({"from": sender, "to": to, "text": text})
        return out

    def log_tail(self, lines: int = 30) -> str:
        parts = []
        for path in sorted(self.dir.glob("*.out")) + sorted(self.dir.glob("*.log")):
            parts.append(f"--- {path.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(parts)
