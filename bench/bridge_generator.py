"""bench/bridge_load.py's generator: citizens calling 12345 and operators' phones, minimal SIP user
agents on raw UDP, with one thread sending every stream's RTP on an absolute 20 ms clock. Each frame
carries (direction, call, frame number) in its G.711 payload, which the bridge forwards unchanged.

Until 2026-12-02 the voiced frames carried the call number modulo 100: at 80 calls over two `sip`
processes the operators' phones 8101..8120 (indexes 100..119) sent frames that read as those of
phones 8001..8020, and at 150 calls citizens 100..149 and operators 150..224 did the same - their
voiced frames were never counted as arrived (20 and 125 whole streams: the 18,600 and 116,250
"lost" frames of the quiet run). The call now has digits of its own (up to 3,375 calls)."""
from __future__ import annotations

import random
import re
import selectors
import socket
import struct
import threading
import time
import uuid

FRAME = 160
IDENT_VOICED, IDENT_QUIET = 6, 9  # bytes of (direction, call, frame number) at the head of a payload
VOICED_TAILS = [bytes(0x90 + (i * 7 + n) % 0x60 for i in range(FRAME - IDENT_VOICED)) for n in range(0x60)]
QUIET_TAIL = bytes(0xFE - (i & 1) for i in range(FRAME - IDENT_QUIET))
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; also the SCM type of the timestamp


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
        pauses as quiet ones (the bridge may skip a pause frame to shrink its jitter buffer).
        Voiced: base-100 digits 0x80.. (direction, call 2 digits, frame 3 digits); pause: base-15
        digits 0xF0.. (direction, call 3 digits, frame 5 digits: 4 h at 50 frames/s)."""
        n = self.n
        if n % 80 < 50:
            ident = bytes([0x80 + self.direction, 0x80 + self.call // 100 % 100, 0x80 + self.call % 100,
                           0x80 + n // 10000 % 100, 0x80 + n // 100 % 100, 0x80 + n % 100])
            payload = ident + VOICED_TAILS[n % 0x60]
        else:
            digits = [self.direction] + [self.call // 15 ** k % 15 for k in range(2, -1, -1)]
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
    """(direction, call, frame number) of a frame ``Stream.packet`` made, None for anything else
    (the bridge's silence, hold audio)."""
    if len(payload) >= IDENT_QUIET and all(0xF0 <= b < 0xFF for b in payload[:IDENT_QUIET]):
        d = [b - 0xF0 for b in payload[:IDENT_QUIET]]
        return d[0], d[1] * 225 + d[2] * 15 + d[3], sum(v * 15 ** (4 - k) for k, v in enumerate(d[4:]))
    if len(payload) < IDENT_VOICED or not all(0x80 <= b < 0x80 + 100 for b in payload[:IDENT_VOICED]):
        return None
    d = [b - 0x80 for b in payload[:IDENT_VOICED]]
    return d[0], d[1] * 100 + d[2], d[3] * 10000 + d[4] * 100 + d[5]


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
        self.resyncs = 0  # times the clock was over a second behind and skipped to now (see _clock)
        self.send_errors = 0  # RTP sendto failures (frames never sent; not in Stream.sent)
        self.unknown = 0  # RTP packets with no frame ident (the bridge's silence, hold audio)
        self.stray = 0  # frame idents of no stream of this generator (0 unless the ident is broken)
        self.read_up_to = 0.0  # kernel arrival time of the last RTP packet the receive thread read
        self._streams: dict[tuple[int, int], Stream] = {}
        threading.Thread(target=self._recv, daemon=True).start()
        threading.Thread(target=self._clock, daemon=True).start()

    def add(self, ua: UA) -> UA:
        with self.lock:
            self.uas.append(ua)
            self._streams[(ua.out.direction, ua.out.call)] = ua.out
        self.sel.register(ua.sip, selectors.EVENT_READ, (ua, "sip"))
        self.sel.register(ua.rtp, selectors.EVENT_READ, (ua, "rtp"))
        return ua

    def _recv(self) -> None:
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
                self.read_up_to = now
                ident = parse_ident(data[12:])
                if ident is None:
                    self.unknown += 1
                    continue
                d, c, n = ident
                stream = self._streams.get((d, c))
                if stream is None:
                    self.stray += 1
                else:
                    stream.arrived.setdefault(n, now)

    def wait_read(self, until: float, timeout: float = 10.0) -> bool:
        """Until the receive thread has read the packets the kernel received up to wall time
        ``until`` (the sockets' queues hold what a busy receive thread has not read yet)."""
        deadline = time.monotonic() + timeout
        while self.read_up_to < until and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.read_up_to >= until

    def rtp_ports(self) -> list[int]:
        return [ua.rtp_port for ua in self.uas]

    def _clock(self) -> None:
        next_at = time.monotonic()
        while self.running:
            next_at += 0.02
            for ua in list(self.sending):
                if ua.remote_rtp and not ua.ended.is_set():
                    n, at = ua.out.n, time.time()
                    try:
                        ua.rtp.sendto(ua.out.packet(), ua.remote_rtp)
                        ua.out.sent[n] = at
                    except OSError:
                        self.send_errors += 1
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                self.late += 1
                if delay < -1.0:
                    # starved for over a second (a busy machine): skip to now like the media clock does,
                    # rather than send seconds of backlog back to back - a flood no phone sends, which the
                    # bridge rightly cuts to its depth (those frames are never sent; "frames due" shows them)
                    self.resyncs += 1
                    next_at = time.monotonic()
