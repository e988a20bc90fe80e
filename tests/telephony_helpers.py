"""Shared by the telephony tests: SIPp runs, scenario templates, an in-process endpoint, audio maths."""
from __future__ import annotations

import array
import math
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
import wave
from dataclasses import replace
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SIPP_DIR = HERE / "sipp"
AUDIO_DIR = HERE / "data" / "audio"
SIPP = shutil.which("sipp") or "/usr/bin/sipp"
IN_CI = os.environ.get("CI", "").lower() == "true"
CALLER = "13800138000"


def require_tool(name: str, package: str, path: str | None = None) -> str:
    """The tool's path (`path` if it exists, else `name` on PATH). Missing: skip loudly with the
    apt command that installs it, or fail under CI=true (scripts/system-deps.sh installs it there)."""
    found = path if path and os.path.exists(path) else shutil.which(name)
    if found:
        return found
    message = f"{name} not installed: apt-get install -y --no-install-recommends {package}"
    if IN_CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def stop_process(proc, grace: float = 5.0) -> None:
    """Terminate a child process, kill it if it does not exit within `grace` seconds, reap it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(grace)


def require_sipp() -> None:
    """SIPp is Debian's sip-tester."""
    require_tool("sipp", "sip-tester", SIPP)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_media_port() -> int:
    """An even port with the next three free too (SIPp binds RTP/RTCP for audio and video there):
    a random pick collided with other tests' SIPp on this shared machine."""
    for _ in range(200):
        port = random.randrange(20000, 29000, 2)
        socks = []
        try:
            for p in range(port, port + 4):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free media port range")


def udp_port_bound(port: int) -> bool:
    """Is some process listening on this UDP port (IPv4)? Read from /proc/net/udp."""
    with open("/proc/net/udp") as f:
        return any(line.split()[1].endswith(f":{port:04X}") for line in list(f)[1:])


def rtp_range(size: int = 200) -> tuple[int, int]:
    low = random.randrange(30000, 59000, 2)
    return low, low + size - 1


def scenario(name: str, tmpdir: Path, **values) -> Path:
    """Fill a tests/sipp template: @KEY@ -> value; DTMF=True / REINVITE=True include blocks."""
    text = (SIPP_DIR / name).read_text()
    dtmf = (SIPP_DIR / "dtmf.inc").read_text() if values.pop("DTMF", False) else ""
    middle = ""
    if values.pop("REINVITE", False):
        middle = f'  <pause milliseconds="{values.pop("REINVITE_AFTER_MS", 2500)}"/>\n' + \
            (SIPP_DIR / "reinvite.inc").read_text()
    text = text.replace("@DTMF@", dtmf).replace("@MIDDLE@", middle)
    defaults = {"CALLER": CALLER, "PT": "0", "CODEC": "PCMU", "MEDIA_PORT": "[auto_media_port]",
                "HOLD_MS": "1000", "PRE_MS": "0", "AUDIO": str(AUDIO_DIR / "ko_1.ulaw")}
    defaults.update({k: str(v) for k, v in values.items()})
    for key, value in defaults.items():
        text = text.replace(f"@{key}@", value)
    path = tmpdir / f"{name.split('.')[0]}-{random.randrange(1 << 30)}.xml"
    path.write_text(text)
    return path


def run_sipp(scenario_path: Path, sip_port: int, *, calls: int = 1, rate: float | None = None,
             timeout: int = 60, background: bool = False, cwd: Path | None = None,
             local_port: int | None = None, extra: list[str] | None = None):
    """Place calls with SIPp against 127.0.0.1:sip_port. Returns the CompletedProcess (or Popen)."""
    require_sipp()
    cwd = cwd or scenario_path.parent
    cmd = [SIPP, f"127.0.0.1:{sip_port}", "-sf", str(scenario_path), "-s", "12345",
           "-i", "127.0.0.1", "-p", str(local_port or free_udp_port()), "-mi", "127.0.0.1",
           "-mp", str(free_media_port()), "-m", str(calls), "-l", str(calls),
           "-timeout", f"{timeout}s", "-timeout_error", "-nostdin", "-trace_err",
           "-error_file", str(cwd / f"sipp-{scenario_path.stem}-err.log")]
    cmd += list(extra or [])
    if rate:
        cmd += ["-r", str(rate)]
    else:
        cmd += ["-r", str(max(calls, 1)), "-rp", "1000"]
    kwargs = dict(cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if background:
        return subprocess.Popen(cmd, **kwargs)
    return subprocess.run(cmd, timeout=timeout + 30, **kwargs)


def sipp_error_log(scenario_path: Path) -> str:
    path = scenario_path.parent / f"sipp-{scenario_path.stem}-err.log"
    return path.read_text()[-3000:] if path.exists() else ""


def start_endpoint(app, *, speech=None, greeting: bytes | None = b"", answer_delay: float = 0.05,
                   **overrides):
    """An endpoint on free ports inside the test process (stop it with .stop())."""
    from telephony.endpoint import Endpoint
    from telephony.speech.loading import SpeechOff

    low, high = rtp_range()
    settings = dict(sip_enabled=True, sip_host="127.0.0.1", sip_port=free_udp_port(), sip_rtp_low=low,
                    sip_rtp_high=high)
    settings.update(overrides)
    config = replace(app.config["HOTLINE"], **settings)
    return Endpoint(app, config, speech=speech or SpeechOff("测试中未加载模型"), greeting=greeting,
                    answer_delay=answer_delay).start()


def read_wav(path) -> tuple[array.array, int]:
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        samples = array.array("h", w.readframes(w.getnframes()))
        return samples, w.getframerate()


def ulaw_file_pcm(path) -> array.array:
    import audioop

    return array.array("h", audioop.ulaw2lin(Path(path).read_bytes(), 2))


def correlation(a, b, max_lag: int = 160) -> float:
    """Normalised cross-correlation, best lag within +-max_lag samples (lag 0 tried first)."""
    n = min(len(a), len(b))

    def at(lag: int) -> float:
        xs = a[max(0, lag): n + min(0, lag)]
        ys = b[max(0, -lag): n - max(0, lag)]
        m = min(len(xs), len(ys))
        dot = sum(x * y for x, y in zip(xs[:m], ys[:m]))
        ex = math.sqrt(sum(x * x for x in xs[:m])) or 1
        ey = math.sqrt(sum(y * y for y in ys[:m])) or 1
        return dot / (ex * ey)

    best = at(0)
    for lag in range(1, max_lag + 1):
        if best > 0.999:
            break
        best = max(best, at(lag), at(-lag))
    return best


def place_call(endpoint, sc, *, timeout: float = 60, idle: float = 20) -> dict:
    """Run a SIPp scenario against the endpoint, then return the endpoint's record of the call."""
    result = run_sipp(sc, endpoint.config.sip_port, timeout=timeout)
    assert result.returncode == 0, result.stdout[-2000:] + sipp_error_log(sc)
    assert endpoint.wait_idle(idle)
    return endpoint.finished[-1]


def wait_for(predicate, timeout: float = 10.0, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


class UdpCapture:
    """A UDP socket that records (arrival time, datagram) in a thread: stands in for a phone's RTP port."""

    def __init__(self) -> None:
        import threading

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.packets: list[tuple[float, bytes]] = []
        self._run = True
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def _loop(self) -> None:
        while self._run:
            try:
                data = self.sock.recv(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            self.packets.append((time.monotonic(), data))

    def close(self) -> None:
        self._run = False
        self._t.join(1)
        self.sock.close()


def tmp_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="sipp-"))


class RawUac:
    """A minimal SIP caller on raw UDP, for what SIPp cannot do (malformed, compact or unknown
    requests, blasting an hour of RTP). Text is sent exactly as given."""

    def __init__(self, sip_port: int, caller: str = CALLER) -> None:
        self.sip_port, self.caller = sip_port, caller
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(3)
        self.port = self.sock.getsockname()[1]
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind(("127.0.0.1", 0))
        self.rtp_port = self.rtp.getsockname()[1]
        self.call_id = f"{random.randrange(1 << 60):x}@127.0.0.1"
        self.tag = f"{random.randrange(1 << 30):x}"
        self.to_tag = ""
        self.remote_rtp: tuple[str, int] | None = None

    def send(self, text: str) -> None:
        self.sock.sendto(text.encode(), ("127.0.0.1", self.sip_port))

    def recv(self, timeout: float = 3.0) -> str | None:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65535).decode()
        except socket.timeout:
            return None

    def responses(self, timeout: float = 1.0) -> list[str]:
        out = []
        while (msg := self.recv(timeout)) is not None:
            out.append(msg)
        return out

    def request(self, method: str, cseq: int = 1, body: str = "", extra: str = "", to_tag: bool = False,
                call_id: str | None = None) -> str:
        to = f"<sip:12345@127.0.0.1:{self.sip_port}>"
        if to_tag and self.to_tag:
            to += f";tag={self.to_tag}"
        lines = [f"{method} sip:12345@127.0.0.1:{self.sip_port} SIP/2.0",
                 f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK{random.randrange(1 << 40):x}",
                 f"From: <sip:{self.caller}@127.0.0.1:{self.port}>;tag={self.tag}", f"To: {to}",
                 f"Call-ID: {call_id or self.call_id}", f"CSeq: {cseq} {method}",
                 f"Contact: <sip:{self.caller}@127.0.0.1:{self.port}>", "Max-Forwards: 70"]
        if extra:
            lines.append(extra)
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        return "\r\n".join(lines) + "\r\n\r\n" + body

    def sdp(self, pts: str = "0 101") -> str:
        return (f"v=0\no=raw 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n"
                f"m=audio {self.rtp_port} RTP/AVP {pts}\na=rtpmap:0 PCMU/8000\n"
                f"a=rtpmap:101 telephone-event/8000\n").replace("\n", "\r\n")  # CRLF as on the wire

    def invite(self, timeout: float = 5.0) -> str | None:
        """INVITE, wait for the final response, ACK a 200. Returns the final response text."""
        self.send(self.request("INVITE", 1, self.sdp()))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.recv(deadline - time.monotonic())
            if msg is None:
                return None
            code = int(msg.split()[1])
            if code >= 200:
                import re

                m = re.search(r"^To:.*;tag=([^;\s]+)", msg, re.M)
                self.to_tag = m.group(1) if m else ""
                if code == 200:
                    m = re.search(r"m=audio (\d+)", msg)
                    self.remote_rtp = ("127.0.0.1", int(m.group(1)))
                    self.send(self.request("ACK", 1, to_tag=True))
                return msg
        return None

    def bye(self) -> str | None:
        self.send(self.request("BYE", 2, to_tag=True))
        return self.recv()

    def close(self) -> None:
        self.sock.close()
        self.rtp.close()


def rtp_packet(seq: int, ts: int, payload: bytes, pt: int = 0, ssrc: int = 0x1234) -> bytes:
    import struct

    return struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
