"""Shared by the bridge tests (issue 7): Kamailio on loopback, operators' phones (SIPp UAS or
baresip) registered there, citizens (SIPp UAC) calling 12345 through it, and frame checks."""
from __future__ import annotations

import audioop
import random
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.telephony_helpers import (SIPP, SIPP_DIR, UdpCapture, free_media_port, free_udp_port, require_sipp, require_tool, stop_process,
                                     scenario, start_endpoint, wait_for)

FRAME = 160  # 20 ms of G.711


def require_kamailio() -> None:
    from telephony.sip.proxy import KAMAILIO

    require_tool("kamailio", "kamailio", KAMAILIO)


def require_baresip() -> str:
    return require_tool("baresip", "baresip")


def start_registered_baresip(proxy, home, settings: list[str], account: str, *, attempts: int = 3,
                             timeout: float = 60.0):
    """baresip from config dir ``home`` (``settings`` are config lines beside its SIP and RTP ports;
    ``account`` is its accounts line), running until it has registered at ``proxy``: the started
    process. Its ports are picked free just before it starts; another process can still take one
    first (baresip then exits), so it is started again on new ports, up to ``attempts`` times.
    Registration is awaited with a generous ``timeout``: baresip starts slowly on a loaded machine."""
    outputs = []
    for _ in range(attempts):
        rtp_low, sip_port = free_udp_port() // 2 * 2, free_udp_port()
        (home / "config").write_text("\n".join([
            "poll_method epoll", f"sip_listen 127.0.0.1:{sip_port}", *settings,
            f"rtp_ports {rtp_low}-{rtp_low + 20}", ""]))
        (home / "accounts").write_text(account + "\n")
        phone = subprocess.Popen([require_baresip(), "-f", str(home), "-t", "40"], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
        registered = f"REQ REGISTER sip:127.0.0.1:{proxy.port} from 127.0.0.1:{sip_port}"
        wait_for(lambda: registered in proxy.log_tail(20000) or phone.poll() is not None, timeout, step=0.1)
        if registered in proxy.log_tail(20000):
            return phone
        phone.kill()
        outputs.append(phone.communicate(timeout=10)[0][-1500:])
    raise AssertionError(f"baresip did not register in {attempts} attempts: {outputs}\n{proxy.log_tail()}")


@pytest.fixture
def proxy(tmp_path):
    """A Kamailio registrar/proxy on a random loopback port, stopped after the test."""
    require_kamailio()
    require_sipp()
    from telephony.sip.proxy import KamailioProxy

    p = KamailioProxy(run_dir=str(tmp_path / "kamailio")).start()
    yield p
    p.stop()


def register(proxy, user: str, port: int, expires: int = 300) -> str:
    """Register ``user`` at the proxy with a contact on 127.0.0.1:port (third-party REGISTER, as a
    provisioning system would for a desk phone). Returns the status line."""
    from telephony.sip.proxy import sip_request

    host, pport = proxy.address
    aor = f"sip:{user}@{host}:{pport}"
    return sip_request(host, pport, "REGISTER", f"sip:{host}:{pport}", aor, aor, timeout=3,
                       headers=(f"Contact: <sip:{user}@127.0.0.1:{port}>", f"Expires: {expires}"))


def make_source(path: Path, seconds: float = 3.0, freq: float = 440.0, seed: int = 1) -> list[bytes]:
    """A G.711 mu-law file with no silent frame (tone + noise): every 20 ms frame is distinct, so a
    received frame tells exactly which source frame it is. Returns the frames."""
    rng = random.Random(seed)
    import array
    import math

    n = int(8000 * seconds) // FRAME * FRAME
    pcm = array.array("h", (int(3000 * math.sin(2 * math.pi * freq * i / 8000)) + rng.randint(-600, 600)
                            for i in range(n)))
    ulaw = audioop.lin2ulaw(pcm.tobytes(), 2)
    path.write_bytes(ulaw)
    return [ulaw[i:i + FRAME] for i in range(0, len(ulaw), FRAME)]


def payloads(capture: UdpCapture, pt: int = 0) -> list[tuple[float, bytes]]:
    """(arrival time, payload) of the captured RTP packets of payload type ``pt``."""
    out = []
    for at, data in list(capture.packets):
        if len(data) >= 12 and data[1] & 0x7F == pt:
            out.append((at, data[12 + 4 * (data[0] & 0x0F):]))
    return out


def cyclic_runs(received: list[bytes], source: list[bytes]) -> list[int]:
    """Lengths of the runs of received frames that follow the (looping) source frame by frame:
    a frame lost, repeated or altered ends a run."""
    index = {frame: i for i, frame in enumerate(source)}
    runs, current, last = [], 0, None
    for frame in received:
        i = index.get(frame)
        if i is not None and last is not None and i == (last + 1) % len(source):
            current += 1
        else:
            if current:
                runs.append(current)
            current = 1 if i is not None else 0
        last = i
    if current:
        runs.append(current)
    return runs


def describe_breaks(received: list[bytes], source: list[bytes]) -> list[str]:
    """Where a frame-by-frame run breaks: the source indexes around it (for failure messages)."""
    index = {frame: i for i, frame in enumerate(source)}
    seq = [index.get(frame) for frame in received]
    out = []
    for k in range(1, len(seq)):
        a, b = seq[k - 1], seq[k]
        if a is not None and b is not None and b != (a + 1) % len(source):
            out.append(f"at {k}: {seq[max(0, k - 3):k + 3]}")
        elif (a is None) != (b is None):
            out.append(f"at {k}: {seq[max(0, k - 3):k + 3]}")
    return out[:10]


def without_fill(received: list[bytes]) -> list[bytes]:
    """The received frames minus the exact silence the endpoint sends when a frame was late
    (jitter fill): what remains must be the source, frame by frame."""
    fill = b"\xff" * FRAME
    return [frame for frame in received if frame != fill]


def silent_gaps(received: list[tuple[float, bytes]], start: float, end: float) -> float:
    """The longest stretch (seconds) of silent packets (all 0xFF / 0x7F) between start and end."""
    longest, since = 0.0, None
    for at, payload in received:
        if at < start or at > end:
            continue
        quiet = max(abs(x) for x in memoryview(audioop.ulaw2lin(payload, 2)).cast("h")) < 64
        if quiet:
            since = at if since is None else since
            longest = max(longest, at - since + 0.02)
        else:
            since = None
    return longest


class SippPhone:
    """An operator's or department's phone: SIPp as UAS registered at the proxy as ``user``. Its
    received RTP lands in ``capture`` (the SDP points there); it streams ``audio``."""

    def __init__(self, proxy, user: str, tmp: Path, *, audio: Path | None = None, kind: str = "answer",
                 ring_ms: int = 300, end: str = "wait_bye", hold_ms: int = 3000, loops: int = -1,
                 code: int = 486, reason: str = "Busy Here", timeout: int = 40, trace: bool = False) -> None:
        """``trace``: every SIP message the phone sends or receives goes to ``sipp-<user>-msg.log``
        beside the scenario (what a test checks the phone was told)."""
        require_sipp()
        self.user, self.port = user, free_udp_port()
        self.capture = UdpCapture()
        values = dict(USER=user, MEDIA_PORT=self.capture.port, RING_MS=ring_ms, LOOPS=loops,
                      AUDIO=str(audio or ""), HOLD_MS=hold_ms, CODE=code, REASON=reason,
                      WAIT_BYE_MS=timeout * 1000)
        name = {"answer": "uas_operator.xml", "busy": "uas_busy.xml", "no_answer": "uas_no_answer.xml"}[kind]
        text = (SIPP_DIR / name).read_text()
        ending = (SIPP_DIR / f"uas_end_{end}.inc").read_text() if kind == "answer" else ""
        text = text.replace("@END@", ending)
        for key, value in values.items():
            text = text.replace(f"@{key}@", str(value))
        self.scenario = tmp / f"{user}-{name}"
        self.scenario.write_text(text)
        self.log = tmp / f"sipp-{user}.log"
        cmd = [SIPP, "-sf", str(self.scenario), "-i", "127.0.0.1", "-p", str(self.port),
               "-mi", "127.0.0.1", "-mp", str(free_media_port()), "-m", "1",
               "-timeout", f"{timeout}s", "-timeout_error", "-nostdin", "-trace_err",
               "-error_file", str(tmp / f"sipp-{user}-err.log")]
        if trace:
            cmd += ["-trace_msg", "-message_file", str(tmp / f"sipp-{user}-msg.log")]
        self.proc = subprocess.Popen(cmd, cwd=tmp, stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        assert register(proxy, user, self.port).startswith("SIP/2.0 200")

    def wait(self, timeout: float = 40) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            return -9

    def errors(self) -> str:
        err = self.scenario.parent / f"sipp-{self.user}-err.log"
        return (err.read_text()[-2000:] if err.exists() else "") + self.log.read_text()[-1500:]

    def stop(self) -> None:
        stop_process(self.proc)
        self.capture.close()


class Citizen:
    """A citizen calling 12345 through the proxy (SIPp UAC); its received RTP lands in ``capture``."""

    def __init__(self, proxy, tmp: Path, audio: Path, *, hold_ms: int = 6000, loops: int = -1,
                 caller: str = "13800138000", timeout: int = 60, end: str = "send_bye") -> None:
        """``end``: "send_bye" (hang up after hold_ms) or "wait_bye" (the hotline hangs up)."""
        require_sipp()
        self.capture = UdpCapture()
        ending = (SIPP_DIR / f"uac_end_{end}.inc").read_text()
        for key, value in dict(HOLD_MS=hold_ms, CALLER=caller, WAIT_BYE_MS=timeout * 1000).items():
            ending = ending.replace(f"@{key}@", str(value))
        sc = scenario("uac_citizen.xml", tmp, END=ending, AUDIO=audio, LOOPS=loops, HOLD_MS=hold_ms,
                      MEDIA_PORT=self.capture.port, CALLER=caller)
        self.scenario = sc
        self.proc = subprocess.Popen(
            [SIPP, f"{proxy.host}:{proxy.port}", "-sf", str(sc), "-s", "12345", "-i", "127.0.0.1",
             "-p", str(free_udp_port()), "-mi", "127.0.0.1", "-mp", str(free_media_port()),
             "-m", "1", "-l", "1", "-timeout", f"{timeout}s", "-timeout_error", "-nostdin", "-trace_err",
             "-error_file", str(tmp / f"sipp-{sc.stem}-err.log")],
            cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def wait(self, timeout: float = 60) -> tuple[int, str]:
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        err = self.scenario.parent / f"sipp-{self.scenario.stem}-err.log"
        return self.proc.returncode, (out or "")[-1500:] + (err.read_text()[-1500:] if err.exists() else "")

    def diagnose(self) -> str:
        """For failure messages: SIPp's state and error log."""
        err = self.scenario.parent / f"sipp-{self.scenario.stem}-err.log"
        return f"citizen sipp rc={self.proc.poll()} " + (err.read_text()[-800:] if err.exists() else "")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
        self.capture.close()


def bridge_endpoint(app, proxy, user: str = "hotline", **overrides):
    """The hotline endpoint registered at the proxy (as 'hotline', where calls to 12345 go)."""
    ep = start_endpoint(app, sip_mode="register", sip_server=proxy.host, sip_server_port=proxy.port,
                        sip_user=user, sip_password="secret", **overrides)
    assert wait_for(lambda: ep.phone.get_status().name == "REGISTERED", 10)
    return ep


class FixedOperator:
    """Stands in for the ACD in bridge tests: every answered call is put through to ``extension``
    (the ACD's own tests cover choosing operators). Records each dial's outcome."""

    def __init__(self, endpoint, extension: str, ring_timeout: float = 8.0) -> None:
        self.endpoint, self.extension, self.ring_timeout = endpoint, extension, ring_timeout
        self.results: list = []
        self.sessions: list = []
        self.bridged = threading.Event()
        endpoint.acd = self

    def enqueue(self, session) -> None:
        self.sessions.append(session)
        threading.Thread(target=self._connect, args=(session,), daemon=True).start()

    def _connect(self, session) -> None:
        result = self.endpoint.dialer.dial(self.extension, self.ring_timeout, display=session.caller)
        self.results.append(result)
        if result.leg is not None and session.ended_mono is None:
            session.bridge(result.leg, "operator")
            self.bridged.set()
        elif result.leg is not None:
            result.cancel()

    def on_ended(self, session, cause: str) -> dict:
        return {}


def wait_until(predicate, timeout: float = 10.0):
    return wait_for(predicate, timeout)


def now() -> float:
    return time.monotonic()
