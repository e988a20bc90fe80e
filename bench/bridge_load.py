"""N concurrent bridged calls (citizen <-> hotline <-> operator) through Kamailio: CPU, memory, bridge
latency median/p95, drift per minute, lost frames.

    .venv/bin/python bench/bridge_load.py                       # 1, 10 and 20 calls, 30 s each
    .venv/bin/python bench/bridge_load.py --calls 1,10,20,40 --seconds 60
    .venv/bin/python bench/bridge_load.py --sip-processes 2 --calls 80,150 --seconds 30
                                    # issue 15: a city centre's seats over two `sip` processes (~3 min)

Three kinds of process, loopback only:
  Kamailio      registrar/proxy (telephony/sip/proxy.py); the endpoint registers as 'hotline'.
                With --sip-processes N: Kamailio runs the dispatcher configuration production uses
                (hotline.app.deploy.kamailio_files, the text `hotline deploy render` writes) in
                front of N endpoint processes registered as hotline-sip1.., which take the calls
                to 12345 round robin; each has its own operators' extensions (N x calls phones are
                registered, the ones a process dials answer). Figures per process and in total.
  endpoint      this script with --serve: the hotline endpoint (register mode) and a stand-in for
                the ACD that puts every answered call through to a free operator extension; its CPU
                and memory are the figures (it measures itself between 'mark' and 'report')
  generator     this script: N citizens calling 12345 and N operators' phones registered as
                8001.., minimal SIP user agents on raw UDP; one thread sends every stream's RTP on
                an absolute 20 ms clock. Each frame carries (direction, call, frame number) in
                its G.711 payload, which the bridge forwards unchanged.
Figures, over the measurement window (all calls bridged; the first 2 s are not counted):
  latency   arrival at the other party minus sending time, per frame, both directions (median, p95, max)
  drift     per stream, the slope of latency over the window, in ms per minute (largest |slope|)
  lost      voiced frames sent in the window that never reached the other party; pause frames
            the bridge skipped to shrink its jitter buffer after a late frame are counted apart
  underruns ticks at which a leg's next frame had not arrived yet (silence sent instead)
  CPU       endpoint process CPU time / wall time over the window; RSS of the endpoint at the end;
            per call: that share / the process's bridged calls
The machine's loop time (bench/common.py reference_loop, 0.6 s on the reference core) is printed first.
The generator is one Python process: its late ticks are printed (a note) when above 5; at 150 calls
it sends and receives 15,000 packets/s, so a machine too busy for it shows as generator late ticks.

Figures of 2026-12-02 with --sip-processes 2, 2 cores shared with other sessions (not quiet figures):
  10 calls, load 7.7, loop 1.08 s: p95 35.7 ms, max 42.8, 0 lost, 0 underruns, 1.2 % of a core per call
  20 calls, load 11.1: p95 152 ms, 798 lost, ticks > 20 ms late 15 % (latest 224 ms) at 8 % CPU per
    process - the processes were waiting for a core, not working
  80 calls, load 10.9, loop 1.16 s: p95 243 ms, 24678 lost, 7 clock resyncs per process, generator
    late ticks 1937; 0.37 % of a core per call (14.6 % of one core per process)
The quiet-machine 80/150 runs (issue 15) were not made here.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import selectors
import socket
import statistics
import struct
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import DispatcherFront, ServeChild, cpu_line, exit_on_sigterm, reference_loop  # noqa: E402

FRAME = 160
VOICED_TAILS = [bytes(0x90 + (i * 7 + n) % 0x60 for i in range(FRAME - 5)) for n in range(0x60)]
QUIET_TAIL = bytes(0xFE - (i & 1) for i in range(FRAME - 8))
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; also the SCM type of the timestamp


# -- the endpoint process (--serve) -----------------------------------------------------------------
class RoundRobinOperators:
    """The ACD stand-in: each answered call goes to a free operator extension."""

    def __init__(self, endpoint, extensions: list[str]) -> None:
        self.endpoint, self.free = endpoint, list(extensions)
        self.lock = threading.Lock()
        self.failures: list[str] = []
        endpoint.acd = self

    def enqueue(self, session) -> None:
        threading.Thread(target=self._connect, args=(session,), daemon=True).start()

    def _connect(self, session) -> None:
        with self.lock:
            ext = self.free.pop(0)
        session.operator_extension = ext
        result = self.endpoint.dialer.dial(ext, 10)
        if result.leg is None:
            self.failures.append(result.failure)
            with self.lock:
                self.free.append(ext)
            return
        session.bridge(result.leg, "operator")

    def on_ended(self, session, cause: str) -> dict:
        ext = getattr(session, "operator_extension", None)
        if ext:
            with self.lock:
                self.free.append(ext)
        return {}


def serve(args) -> None:
    import logging

    from hotline.app import create_app
    from hotline.app.dbadmin import upgrade
    from tests.telephony_helpers import start_endpoint

    logging.basicConfig(level=logging.WARNING)
    workdir = Path(args.workdir) / args.sip_user
    workdir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{workdir / 'bench.db'}"
    upgrade(url)
    app = create_app({"database_url": url, "sip_enabled": False, "secret_key": "bench",
                      "recordings_dir": str(workdir / "recordings")})
    endpoint = start_endpoint(app, sip_mode="register", sip_server="127.0.0.1",
                              sip_server_port=args.proxy_port, sip_user=args.sip_user, sip_port=args.sip_port,
                              sip_rtp_low=args.rtp_low, sip_rtp_high=args.rtp_low + 1998)
    RoundRobinOperators(endpoint, [f"{8001 + args.operator_offset + i}" for i in range(args.operators)])
    deadline = time.monotonic() + 10
    while endpoint.phone.get_status().name != "REGISTERED" and time.monotonic() < deadline:
        time.sleep(0.05)
    print("ready", flush=True)
    mark = None
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "mark":
            t = os.times()
            mark = (time.monotonic(), t.user + t.system)
            endpoint.phone.media.reset_lateness()
            print("marked", flush=True)
        elif cmd == "report":
            t = os.times()
            wall, cpu = time.monotonic() - mark[0], t.user + t.system - mark[1]
            with open("/proc/self/status") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
            inbox = {"underruns": 0, "dropped": 0, "skipped": 0}
            for session in list(endpoint.sessions.values()):
                for leg in session.legs.values():
                    if leg.inbox is not None:
                        inbox["underruns"] += leg.inbox.stats["underruns"]
                        inbox["dropped"] += leg.inbox.stats["dropped"]
                        inbox["skipped"] += leg.inbox.stats["skipped"]
            print(json.dumps({"cpu_percent": round(100 * cpu / wall, 1), "cpu_s": cpu, "wall_s": wall,
                              "rss_mb": round(int(status["VmRSS"].split()[0]) / 1024, 1),
                              "hwm_mb": round(int(status["VmHWM"].split()[0]) / 1024, 1),
                              "threads": int(status["Threads"]), "late_ticks": endpoint.phone.media.late_ticks,
                              "lateness": endpoint.phone.media.lateness,
                              "bridged": sum(1 for s in endpoint.sessions.values() if s.bridge_engine),
                              "dial_failures": endpoint.acd.failures, **inbox}), flush=True)
        elif cmd == "quit":
            break
    endpoint.stop()


# -- the generator ------------------------------------------------------------------------------------
def header(msg: str, name: str) -> str:
    m = re.search(rf"^{name}:\s*(.*)$", msg, re.M | re.I)
    return m.group(1).strip() if m else ""


def sdp_port(msg: str) -> int:
    return int(re.search(r"^m=audio (\d+)", msg, re.M).group(1))


class Stream:
    """One direction of one call as the generator sees it: what it sends, when it arrives."""

    def __init__(self, direction: int, call: int) -> None:
        self.direction, self.call = direction, call
        self.sent: dict[int, float] = {}
        self.arrived: dict[int, float] = {}
        self.seq = random.randint(0, 60000)
        self.ts = random.randint(0, 1 << 30)
        self.ssrc = random.randint(1, 1 << 30)
        self.n = 0

    def packet(self) -> bytes:
        """Speech-like: 1 s voiced, 0.6 s pause. Voiced frames carry their id as loud mu-law codes,
        pauses as quiet ones (the bridge may skip a pause frame to shrink its jitter buffer)."""
        n = self.n
        if n % 80 < 50:
            ident = bytes([0x80 + self.direction, 0x80 + self.call % 100, 0x80 + n // 10000 % 100,
                           0x80 + n // 100 % 100, 0x80 + n % 100])
            payload = ident + VOICED_TAILS[n % 0x60]
        else:
            digits = [self.direction, self.call // 15 % 15, self.call % 15]
            digits += [n // 15 ** k % 15 for k in range(4, -1, -1)]
            payload = bytes(0xF0 + d for d in digits) + QUIET_TAIL
        head = struct.pack("!BBHII", 0x80, 0, self.seq & 0xFFFF, self.ts & 0xFFFFFFFF, self.ssrc)
        self.seq += 1
        self.ts += FRAME
        self.n += 1
        return head + payload


def voiced(n: int) -> bool:
    return n % 80 < 50


def parse_ident(payload: bytes) -> tuple[int, int, int] | None:
    if len(payload) >= 8 and all(0xF0 <= b < 0xFF for b in payload[:8]):
        d = [b - 0xF0 for b in payload[:8]]
        return d[0], d[1] * 15 + d[2], sum(v * 15 ** (4 - k) for k, v in enumerate(d[3:]))
    if len(payload) < 5 or not all(0x80 <= b < 0x80 + 100 for b in payload[:5]):
        return None
    d, c = payload[0] - 0x80, payload[1] - 0x80
    n = (payload[2] - 0x80) * 10000 + (payload[3] - 0x80) * 100 + (payload[4] - 0x80)
    return d, c, n


class UA:
    """A minimal SIP user agent on one UDP socket (citizen = UAC, operator = UAS) with its RTP socket."""

    def __init__(self, gen: "Generator", index: int, role: str) -> None:
        self.gen, self.index, self.role = gen, index, role
        self.sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sip.bind(("127.0.0.1", 0))
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind(("127.0.0.1", 0))
        self.rtp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.rtp.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)  # kernel arrival time
        self.port, self.rtp_port = self.sip.getsockname()[1], self.rtp.getsockname()[1]
        self.user = f"{13900000000 + index}" if role == "citizen" else f"{8001 + index}"
        self.call_id = f"{uuid.uuid4().hex}@127.0.0.1"
        self.tag = uuid.uuid4().hex[:8]
        self.remote_rtp: tuple[str, int] | None = None
        self.remote_contact = self.remote_to = ""
        self.established = threading.Event()
        self.ended = threading.Event()
        self.out = Stream(0 if role == "citizen" else 1, index)

    def send(self, text: str, addr) -> None:
        self.sip.sendto(text.encode(), addr)

    def sdp(self) -> str:
        return (f"v=0\r\no=gen 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                f"m=audio {self.rtp_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n")

    def request(self, method: str, uri: str, to: str, cseq: int, body: str = "", extra: str = "") -> str:
        lines = [f"{method} {uri} SIP/2.0",
                 f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK{uuid.uuid4().hex[:16]};rport",
                 "Max-Forwards: 70", f"From: <sip:{self.user}@127.0.0.1>;tag={self.tag}", f"To: {to}",
                 f"Call-ID: {self.call_id}", f"CSeq: {cseq} {method}",
                 f"Contact: <sip:{self.user}@127.0.0.1:{self.port}>"]
        if extra:
            lines.append(extra)
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body)}")
        return "\r\n".join(lines) + "\r\n\r\n" + body

    def response(self, req: str, code: int, reason: str, body: str = "") -> str:
        head = req.split("\r\n\r\n")[0].split("\r\n")
        keep = [h for h in head if h.split(":")[0] in ("Via", "From", "Call-ID", "CSeq")]
        to = next(h for h in head if h.startswith("To:"))
        if ";tag=" not in to:
            to += f";tag={self.tag}"
        lines = [f"SIP/2.0 {code} {reason}", *keep, to, f"Contact: <sip:{self.user}@127.0.0.1:{self.port}>"]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body)}")
        return "\r\n".join(lines) + "\r\n\r\n" + body

    # -- roles ----------------------------------------------------------------------------------------
    def register(self) -> None:
        proxy = self.gen.proxy
        self.send(self.request("REGISTER", f"sip:127.0.0.1:{proxy[1]}", f"<sip:{self.user}@127.0.0.1>", 1,
                               extra="Expires: 600"), proxy)

    def invite(self) -> None:
        proxy = self.gen.proxy
        self.send(self.request("INVITE", f"sip:12345@127.0.0.1:{proxy[1]}", f"<sip:12345@127.0.0.1:{proxy[1]}>",
                               1, self.sdp()), proxy)

    def bye(self) -> None:
        if self.remote_contact and not self.ended.is_set():
            host, port = re.match(r"sip:[^@]*@([^:;>]+):(\d+)", self.remote_contact).groups()
            self.send(self.request("BYE", self.remote_contact, self.remote_to, 2), (host, int(port)))

    def on_sip(self, msg: str, addr) -> None:
        if msg.startswith("SIP/2.0"):
            code = int(msg.split()[1])
            if self.role == "citizen" and "INVITE" in header(msg, "CSeq") and code == 200:
                self.remote_to, self.remote_contact = header(msg, "To"), header(msg, "Contact").strip("<>")
                self.remote_rtp = ("127.0.0.1", sdp_port(msg))
                host, port = re.match(r"sip:[^@]*@([^:;>]+):(\d+)", self.remote_contact).groups()
                self.send(self.request("ACK", self.remote_contact, self.remote_to, 1), (host, int(port)))
                self.established.set()
            elif "BYE" in header(msg, "CSeq"):
                self.ended.set()
            return
        method = msg.split(" ", 1)[0]
        if method == "INVITE" and self.role == "operator":
            self.remote_rtp = ("127.0.0.1", sdp_port(msg))
            self.send(self.response(msg, 180, "Ringing"), addr)
            self.send(self.response(msg, 200, "OK", self.sdp()), addr)
        elif method == "ACK":
            self.established.set()
        elif method == "BYE":
            self.ended.set()
            self.send(self.response(msg, 200, "OK"), addr)
        elif method == "OPTIONS":
            self.send(self.response(msg, 200, "OK"), addr)


class Generator:
    def __init__(self, proxy: tuple[str, int]) -> None:
        self.proxy = proxy
        self.uas: list[UA] = []
        self.sel = selectors.DefaultSelector()
        self.running = True
        self.sending: list[UA] = []
        self.lock = threading.Lock()
        self.late = 0
        threading.Thread(target=self._recv, daemon=True).start()
        threading.Thread(target=self._clock, daemon=True).start()

    def add(self, ua: UA) -> UA:
        with self.lock:
            self.uas.append(ua)
        self.sel.register(ua.sip, selectors.EVENT_READ, (ua, "sip"))
        self.sel.register(ua.rtp, selectors.EVENT_READ, (ua, "rtp"))
        return ua

    def _recv(self) -> None:
        streams: dict[tuple[int, int], Stream] = {}
        while self.running:
            for key, _ in self.sel.select(0.2):
                ua, kind = key.data
                try:
                    data, ancdata, _flags, addr = key.fileobj.recvmsg(65535, socket.CMSG_SPACE(16))
                except OSError:
                    continue
                now = time.time()
                for level_, type_, cdata in ancdata:  # when the kernel received it, not when we read it
                    if level_ == socket.SOL_SOCKET and type_ == SO_TIMESTAMPNS:
                        sec, nsec = struct.unpack("qq", cdata[:16])
                        now = sec + nsec / 1e9
                if kind == "sip":
                    ua.on_sip(data.decode("utf-8", "replace"), addr)
                    continue
                ident = parse_ident(data[12:])
                if ident is None:
                    continue
                d, c, n = ident
                stream = streams.get((d, c))
                if stream is None:
                    stream = streams[(d, c)] = self.stream(d, c)
                if stream is not None:
                    stream.arrived.setdefault(n, now)

    def stream(self, d: int, c: int) -> Stream | None:
        for ua in self.uas:
            if ua.out.direction == d and ua.out.call == c:
                return ua.out
        return None

    def _clock(self) -> None:
        next_at = time.monotonic()
        while self.running:
            next_at += 0.02
            for ua in list(self.sending):
                if ua.remote_rtp and not ua.ended.is_set():
                    ua.out.sent[ua.out.n] = time.time()
                    try:
                        ua.rtp.sendto(ua.out.packet(), ua.remote_rtp)
                    except OSError:
                        pass
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                self.late += 1


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def slope_ms_per_min(points: list[tuple[float, float]]) -> float:
    n = len(points)
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points) or 1e-9
    return sum((p[0] - mx) * (p[1] - my) for p in points) / sxx * 1000 * 60


def start_endpoints(n: int, processes: int, workdir: Path):
    """Kamailio and the endpoint processes for ``n`` calls: one endpoint registered as 'hotline' at
    the registrar (``processes`` 0), or ``processes`` behind the production dispatcher configuration."""
    from telephony.sip.proxy import KamailioProxy, free_udp_port

    ports = [free_udp_port() for _ in range(max(1, processes))]
    if processes:
        proxy = DispatcherFront(workdir / f"kamailio-{n}", ports).start()
        users = [f"hotline-sip{i + 1}" for i in range(processes)]
    else:
        proxy = KamailioProxy(run_dir=str(workdir / f"kamailio-{n}")).start()
        users = ["hotline"]
    children: list[ServeChild] = []
    try:
        for i, (port, user) in enumerate(zip(ports, users)):
            children.append(ServeChild(
                [__file__, "--serve", "--proxy-port", str(proxy.port), "--sip-port", str(port), "--sip-user", user,
                 "--rtp-low", str(30000 + 2000 * i), "--operators", str(n), "--operator-offset", str(n * i),
                 "--workdir", str(workdir)], workdir / f"endpoint-{n}-{user}.log", ROOT,
                user.replace("hotline-", "") or user))
        for child in children:
            child.expect_ready()
        if processes:
            proxy.wait_active()
    except BaseException:
        for child in children:
            child.stop()
        proxy.stop()
        raise
    return proxy, children


def run(n: int, seconds: float, workdir: Path, processes: int = 0) -> dict:
    proxy, children = start_endpoints(n, processes, workdir)
    gen = None
    try:
        gen = Generator(proxy.address)
        operators = [gen.add(UA(gen, i, "operator")) for i in range(n * len(children))]
        for ua in operators:
            ua.register()
        time.sleep(0.3)
        citizens = [gen.add(UA(gen, i, "citizen")) for i in range(n)]
        for ua in citizens:
            ua.invite()
            time.sleep(0.05)
        deadline = time.monotonic() + 20 + n * 0.2
        for ua in citizens:
            if not ua.established.wait(max(0.0, deadline - time.monotonic())):
                raise RuntimeError(f"{ua.role} {ua.user} not connected")
        while sum(ua.established.is_set() for ua in operators) < n and time.monotonic() < deadline:
            time.sleep(0.1)
        operators = [ua for ua in operators if ua.established.is_set()]  # the phones the endpoints dialled
        if len(operators) < n:
            raise RuntimeError(f"{len(operators)} of {n} operators connected")
        gen.sending.extend(citizens + operators)
        time.sleep(2.0)  # bridges settle (jitter buffers filled)
        for child in children:
            assert child.ask("mark") == "marked"
        start = time.time()  # wall clock: kernel receive timestamps are CLOCK_REALTIME
        time.sleep(seconds)
        end = time.time()
        reports = [child.ask_json("report") for child in children]
        gen.sending = []  # stop sending before reading what was sent
        time.sleep(0.5)  # frames in flight arrive
        latencies, drifts, lost, lost_pause, counted = [], [], 0, 0, 0
        for ua in citizens + operators:
            s = ua.out
            points = []
            for frame, sent in list(s.sent.items()):
                if start <= sent <= end:
                    counted += 1
                    arrived = s.arrived.get(frame)
                    if arrived is None and voiced(frame):
                        lost += 1
                    elif arrived is None:
                        lost_pause += 1
                    else:
                        latencies.append((arrived - sent) * 1000)
                        points.append((sent, arrived - sent))
            if len(points) > 10:
                drifts.append(slope_ms_per_min(points))
        for ua in citizens:
            ua.bye()
        time.sleep(0.5)
        endpoint = {key: sum(r[key] for r in reports) for key in
                    ("cpu_percent", "cpu_s", "rss_mb", "threads", "late_ticks", "bridged", "underruns", "dropped",
                     "skipped")}
        endpoint["cpu_percent"] = round(endpoint["cpu_percent"], 1)
        endpoint["rss_mb"] = round(endpoint["rss_mb"], 1)
        endpoint["dial_failures"] = [f for r in reports for f in r["dial_failures"]]
        endpoint["wall_s"] = max(r["wall_s"] for r in reports)
        endpoint["processes"] = [dict(r, name=c.name) for c, r in zip(children, reports)]
        return {"calls": n, "seconds": seconds, **endpoint,
                "latency_median_ms": round(statistics.median(latencies), 1),
                "latency_p95_ms": round(percentile(latencies, 0.95), 1),
                "latency_max_ms": round(max(latencies), 1),
                "drift_ms_per_min": round(max((abs(d) for d in drifts), default=0.0), 2),
                "frames": counted, "lost_frames": lost, "skipped_pause_frames": lost_pause,
                "generator_late_ticks": gen.late}
    finally:
        if gen is not None:
            gen.running = False
        for child in children:
            child.stop()
        proxy.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", default="1,10,20", help="comma-separated numbers of concurrent bridged calls")
    parser.add_argument("--seconds", type=float, default=30.0, help="measurement window per run")
    parser.add_argument("--sip-processes", type=int, default=0,
                        help="endpoint processes behind Kamailio's dispatcher (0: one, registered as 'hotline')")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sip-user", default="hotline", help=argparse.SUPPRESS)
    parser.add_argument("--rtp-low", type=int, default=30000, help=argparse.SUPPRESS)
    parser.add_argument("--operator-offset", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--proxy-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--sip-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--operators", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return
    exit_on_sigterm()
    workdir = Path(tempfile.mkdtemp(prefix="bridge-load-"))
    front = (f"Kamailio's dispatcher and {args.sip_processes} endpoint processes" if args.sip_processes
             else "Kamailio and one endpoint process")
    print(f"bridged calls through {front} on loopback, {args.seconds:.0f} s window each (workdir {workdir}); "
          f"machine loop {reference_loop():.3f} s (0.6 s = the reference core), {os.cpu_count()} cores", flush=True)
    print(f"{'calls':>5} {'CPU %':>6} {'RSS MB':>7} {'thr':>4} {'lat med':>8} {'p95':>6} {'max':>6} "
          f"{'drift ms/min':>12} {'frames':>7} {'lost':>5} {'pause skipped':>13} {'underruns':>9}")
    for n in [int(x) for x in args.calls.split(",") if x.strip()]:
        r = run(n, args.seconds, workdir, args.sip_processes)
        print(f"{r['calls']:>5} {r['cpu_percent']:>6} {r['rss_mb']:>7} {r['threads']:>4} "
              f"{r['latency_median_ms']:>8} {r['latency_p95_ms']:>6} {r['latency_max_ms']:>6} "
              f"{r['drift_ms_per_min']:>12} {r['frames']:>7} {r['lost_frames']:>5} "
              f"{r['skipped_pause_frames']:>13} {r['underruns']:>9}", flush=True)
        if r["dial_failures"] or r["bridged"] != n or r["generator_late_ticks"] > 5 or r["dropped"]:
            print(f"      note: bridged {r['bridged']}/{n}, dial failures {r['dial_failures']}, voiced frames "
                  f"dropped by the bridge (buffer > 160 ms) {r['dropped']}, media clock stalls > 1 s "
                  f"{r['late_ticks']}, generator late ticks {r['generator_late_ticks']}")
        for p in r["processes"] if args.sip_processes else []:
            print(f"      {cpu_line(p['name'], p['cpu_s'], p['wall_s'], p['bridged'])}; RSS {p['rss_mb']} MB, "
                  f"underruns {p['underruns']}, clock resyncs {p['late_ticks']}, ticks > 20 ms late "
                  f"{p['lateness']['late_20ms']} of {p['lateness']['ticks']} (latest {p['lateness']['max_ms']} ms)",
                  flush=True)
        print(f"      {cpu_line('total', r['cpu_s'], r['wall_s'], r['bridged'])}; load average "
              f"{os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
