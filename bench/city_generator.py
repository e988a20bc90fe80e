"""bench/city_load.py's load generator, light enough to run beside the layout on 2 cores: every
citizen's call from ONE SIPp UAC process, every operator's SIPp phone as ONE SIPp UAS process
registered at Kamailio under each extension, every console in ONE Python process
(bench/city_consoles.py); their CPU: bench/city_procs.py."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from city_actors import stop_process

HERE = Path(__file__).resolve().parent


def sipp_command(*args: str | int) -> list[str]:
    from tests.telephony_helpers import SIPP, free_media_port, free_udp_port

    # an explicit control port each: SIPp's default 8888 (and the next 59 it tries) collide between
    # benches and tests running at once
    return [SIPP, *map(str, args), "-i", "127.0.0.1", "-mi", "127.0.0.1", "-mp", str(free_media_port()),
            "-cp", str(free_udp_port()), "-nostdin"]


class Tail:
    """A growing log file read on from where the last read stopped (whole lines only)."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0

    def read_new(self) -> str:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except OSError:
            return ""
        data = data[:data.rfind(b"\n") + 1]
        self.offset += len(data)
        return data.decode(errors="replace")


def sipp_error_entries(text: str) -> list[str]:
    """The entries of a SIPp error file (``-trace_err``): each starts with a date and a tab."""
    return [e for e in re.split(r"(?=\d{4}-\d\d-\d\d\t)", text) if re.match(r"\d{4}-\d\d-\d\d\t", e)]


# -- citizens --------------------------------------------------------------------------------------------
@dataclass
class CallRecord:
    caller: str
    call_id: str
    sent_at: float
    answered: bool = False
    end: str | None = None  # "done" (we hung up), "hungup" (the hotline did), None: failed or still up
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.end is not None


class Citizens:
    """All citizens' calls from one SIPp UAC (bench/sipp/city_citizens.xml) in ``-users`` mode:
    ``users`` users, each thinking Exp(think) then placing one call, so that the superposition of
    their arrivals is close to Poisson at ``rate`` per second (Palm-Khintchine: many sparse sources;
    with think = users/rate - hold a user's cycle averages users/rate while calls last ~hold, and the
    share of users busy in a call, which cannot call again, stays at calls/users = 5 %). Arrivals stop
    at ``end`` (epoch seconds)."""

    def __init__(self, kamailio: tuple[str, int], run_dir: Path, audio: Path, *, rate: float, hold: float,
                 end: float, users: int, answer_timeout: float = 300.0) -> None:
        self.run_dir, self.users = run_dir, users
        self.think = max(1.0, users / rate - hold)
        self.sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # where the hotline's audio goes (unread)
        self.sink.bind(("127.0.0.1", 0))
        inf = run_dir / "citizens.csv"
        with open(inf, "w") as fh:
            fh.write("SEQUENTIAL\n")
            fh.writelines(f"139{n:08d}\n" for n in range(1, 200_001))
        text = (HERE / "sipp" / "city_citizens.xml").read_text()
        for key, value in dict(THINK_MS=int(self.think * 1000), END_S=int(end), HOLD_S=f"{hold:g}", AUDIO=audio,
                               MEDIA_PORT=self.sink.getsockname()[1],
                               ANSWER_TIMEOUT_MS=int(answer_timeout * 1000)).items():
            text = text.replace(f"@{key}@", str(value))
        self.scenario = run_dir / "city_citizens.xml"
        self.scenario.write_text(text)
        self.log_path, self.err_path = run_dir / "citizens-logs.log", run_dir / "citizens-err.log"
        self._logs, self._errors = Tail(self.log_path), Tail(self.err_path)
        self._calls: dict[str, CallRecord] = {}
        self._unmatched: list[tuple[str, str]] = []
        from tests.telephony_helpers import free_udp_port

        self.out = open(run_dir / "citizens.out", "w")
        self.proc = subprocess.Popen(
            sipp_command(f"{kamailio[0]}:{kamailio[1]}", "-sf", self.scenario, "-s", "12345",
                         "-p", free_udp_port(), "-users", users, "-inf", inf, "-trace_logs", "-log_file",
                         self.log_path, "-trace_err", "-error_file", self.err_path),
            cwd=run_dir, stdout=self.out, stderr=subprocess.STDOUT)

    def calls(self) -> dict[str, CallRecord]:
        """Every call placed so far, by Call-ID, with its fate (both files read on from where the
        last call left them: the error file grows by a line per talking call per second)."""
        for line in self._logs.read_new().splitlines():
            parts = line.split()
            if len(parts) < 3:
                continue
            kind, caller, call_id = parts[:3]
            if kind == "INVITE":
                self._calls[call_id] = CallRecord(caller, call_id, float(parts[3]) + float(parts[4]) / 1e6)
            elif call_id in self._calls:
                if kind == "ANSWERED":
                    self._calls[call_id].answered = True
                elif kind in ("DONE", "HUNGUP"):
                    self._calls[call_id].end = kind.lower()
        unmatched = []  # an error may be read before its call's INVITE line: tried again next time
        for call_id, entry in self._unmatched + [
                (m.group(1), e) for e in sipp_error_entries(self._errors.read_new())
                if "jumping to label" not in e  # "receive timeout ... jumping to label": the talk tick
                and (m := re.search(r"(\d+-\d+@[\d.]+\d)", e))]:
            if call_id in self._calls:
                self._calls[call_id].errors.append(entry.strip()[:200])
            else:
                unmatched.append((call_id, entry))
        self._unmatched = unmatched
        return self._calls

    def open_calls(self) -> int:
        """Calls neither ended nor failed."""
        return sum(1 for c in self.calls().values() if not c.ok and not c.errors)

    def stop(self) -> None:
        stop_process(self.proc)
        self.out.close()
        self.sink.close()


# -- operators' SIPp phones ----------------------------------------------------------------------------
class OperatorPhones:
    """Every operator's SIPp phone as one SIPp UAS (tests/sipp/uas_operator.xml: rings 300 ms,
    answers, streams audio, waits for the BYE; it ignores the Request-URI), registered at Kamailio
    under each extension (third-party REGISTER, Expires 7200 s: longer than any run)."""

    def __init__(self, kamailio: tuple[str, int], exts: list[str], run_dir: Path, audio: Path) -> None:
        from tests.bridge_helpers import register
        from tests.telephony_helpers import SIPP_DIR, free_udp_port

        self.port = free_udp_port()
        self.sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # where the bridge's audio goes (unread)
        self.sink.bind(("127.0.0.1", 0))
        text = (SIPP_DIR / "uas_operator.xml").read_text().replace("@END@", (SIPP_DIR / "uas_end_wait_bye.inc").read_text())
        for key, value in dict(USER="operator", MEDIA_PORT=self.sink.getsockname()[1], RING_MS=300, LOOPS=-1,
                               AUDIO=audio, WAIT_BYE_MS=600_000).items():
            text = text.replace(f"@{key}@", str(value))
        sc = run_dir / "operators.xml"
        sc.write_text(text)
        self.err_path = run_dir / "operators-err.log"
        self.out = open(run_dir / "operators.out", "w")
        self.proc = subprocess.Popen(
            sipp_command("-sf", sc, "-p", self.port, "-trace_err", "-error_file", self.err_path),
            cwd=run_dir, stdout=self.out, stderr=subprocess.STDOUT)
        proxy = SimpleNamespace(address=kamailio)  # what register() reads of a proxy
        for ext in exts:
            answer = register(proxy, ext, self.port, expires=7200)
            assert answer.startswith("SIP/2.0 200"), answer

    def errors(self) -> dict[str, int]:
        """Calls SIPp aborted, by reason ("UDP retransmission timeout": a 200 OK never ACKed, e.g.
        by the killed sip process; "an unexpected CANCEL": an offer withdrawn while ringing)."""
        try:
            text = self.err_path.read_text(errors="replace")
        except OSError:
            return {}
        out: dict[str, int] = {}
        for entry in sipp_error_entries(text):
            m = re.search(r"Aborting call on (.+?) for", entry)
            reason = m.group(1) if m else entry.split(": ", 1)[-1][:60]
            out[reason] = out.get(reason, 0) + 1
        return out

    def stop(self) -> None:
        stop_process(self.proc)
        self.out.close()
        self.sink.close()


# -- consoles ------------------------------------------------------------------------------------------
class Consoles:
    """``n`` supervisors' consoles in one child process (bench/city_consoles.py), so that their CPU
    is measured apart from the bench's own."""

    def __init__(self, base: str, cookie: str, n: int, run_dir: Path) -> None:
        self.dump_path = run_dir / "consoles.json"
        self.proc = subprocess.Popen([sys.executable, str(HERE / "city_consoles.py"), base, str(n), str(self.dump_path)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=dict(os.environ, CITY_CONSOLE_COOKIE=cookie))
        line = self.proc.stdout.readline()
        assert line.startswith("ready"), f"consoles did not connect: {line!r}"
        self.frames: list[dict[str, float]] = [{} for _ in range(n)]
        self.other = [0] * n

    def refresh(self) -> list[dict[str, float]]:
        """Each console's ticket.created frames so far: ticket number -> push latency (ms)."""
        self.proc.stdin.write("dump\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().startswith("dumped")
        data = json.loads(self.dump_path.read_text())
        self.frames, self.other = data["frames"], data["other"]
        return self.frames

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            stop_process(self.proc)
