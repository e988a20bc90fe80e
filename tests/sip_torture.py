"""RFC 4475-style SIP torture messages (tests/data/sip_torture) rendered for a test endpoint, and a
raw UDP sender that waits for responses. Used by tests/test_telephony_sip_validation.py and
tests/sip_flood.py."""
from __future__ import annotations

import random
import socket
import time
from dataclasses import dataclass
from pathlib import Path

TORTURE_DIR = Path(__file__).resolve().parent / "data" / "sip_torture"
HOST = "127.0.0.1"


@dataclass
class Case:
    name: str
    expected: str  # "400", "501"...; "drop"; "call"
    reason: str
    reference: str
    template: str


def cases() -> list[Case]:
    out = []
    for line in (TORTURE_DIR / "index.tsv").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, expected, reason, reference = (line.split("\t") + ["", "", ""])[:4]
        out.append(Case(name, expected, reason, reference, (TORTURE_DIR / f"{name}.sip").read_text()))
    return out


def sdp(rtp_port: int, address: str = HOST) -> str:
    return (f"v=0\no=raw 1 1 IN IP4 {HOST}\ns=-\nc=IN IP4 {address}\nt=0 0\n"
            f"m=audio {rtp_port} RTP/AVP 0 101\na=rtpmap:0 PCMU/8000\n"
            f"a=rtpmap:101 telephone-event/8000\n").replace("\n", "\r\n")


def render(case: Case, *, sip_port: int, uac_port: int, rtp_port: int = 9, call_id: str | None = None,
           tag: str | None = None) -> bytes:
    """The message as sent: placeholders filled, CRLF line ends, Content-Length of the SDP."""
    text = case.template
    body = sdp(rtp_port, "not.an.ip") if "@SDP_BAD_C@" in text else sdp(rtp_port)
    if text.endswith("@SDP@\n") or text.endswith("@SDP_BAD_C@\n"):
        text = text[:-1]
    values = {"@HOST@": HOST, "@PORT@": str(sip_port), "@UAC@": str(uac_port),
              "@BRANCH@": f"{random.randrange(1 << 48):x}", "@TAG@": tag or f"{random.randrange(1 << 32):x}",
              "@CALLID@": call_id or f"{random.randrange(1 << 64):x}@{HOST}", "@CL@": str(len(body.encode())),
              "@PAD60K@": "x" * 60000}
    for key, value in values.items():
        text = text.replace(key, value)
    text = text.replace("\n", "\r\n").replace("@SDP_BAD_C@", body).replace("@SDP@", body)
    return text.encode("utf-8")


def options(sip_port: int, uac_port: int, branch: str) -> bytes:
    return "\r\n".join([
        f"OPTIONS sip:12345@{HOST}:{sip_port} SIP/2.0",
        f"Via: SIP/2.0/UDP {HOST}:{uac_port};rport;branch=z9hG4bK{branch}",
        "Max-Forwards: 70", f"From: <sip:probe@{HOST}:{uac_port}>;tag=probe",
        f"To: <sip:12345@{HOST}:{sip_port}>", f"Call-ID: barrier-{branch}@{HOST}",
        "CSeq: 1 OPTIONS", "Content-Length: 0", "", ""]).encode()


class Uac:
    """A UDP socket that sends raw messages and reads every response until an OPTIONS 'barrier'
    is answered: the endpoint handles datagrams in order, so when the barrier's 200 arrives every
    earlier message has been handled (answered or dropped)."""

    def __init__(self, sip_port: int) -> None:
        self.sip_port = sip_port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        self.sock.bind((HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.barriers = 0
        self.barrier_retries = 0

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, (HOST, self.sip_port))

    def barrier(self, timeout: float = 30.0, retry_after: float = 2.0) -> list[bytes]:
        """Responses received before the barrier's 200 (a lost barrier is sent again)."""
        self.barriers += 1
        deadline = time.monotonic() + timeout
        got: list[bytes] = []
        while time.monotonic() < deadline:
            branch = f"barrier{self.barriers}x{random.randrange(1 << 40):x}"
            self.send(options(self.sip_port, self.port, branch))
            resend = time.monotonic() + retry_after
            while time.monotonic() < min(resend, deadline):
                self.sock.settimeout(max(0.01, min(resend, deadline) - time.monotonic()))
                try:
                    data = self.sock.recv(65535)
                except socket.timeout:
                    break
                if f"barrier-barrier{self.barriers}x".encode() in data:
                    if branch.encode() in data:
                        return got
                    continue  # the answer to an earlier copy of this barrier
                got.append(data)
            self.barrier_retries += 1
        raise TimeoutError(f"endpoint did not answer the barrier OPTIONS within {timeout}s")

    def read_until(self, predicate, timeout: float = 10.0) -> list[bytes]:
        """Responses up to and including the first one ``predicate`` accepts ([] on timeout)."""
        got, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65535)
            except socket.timeout:
                break
            got.append(data)
            if predicate(data):
                return got
        return []

    def close(self) -> None:
        self.sock.close()


def status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])
