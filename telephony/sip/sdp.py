"""SIP/SDP text helpers the hardened adapter needs and pyVoIP's parser gets wrong.

pyVoIP parses "Name: value" headers only (case-sensitive, no compact forms) and copies headers into
responses from its parsed view, losing parameters. These helpers read the raw text instead.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

COMPACT = {"v": "Via", "f": "From", "t": "To", "i": "Call-ID", "m": "Contact", "l": "Content-Length",
           "c": "Content-Type", "k": "Supported", "s": "Subject", "e": "Content-Encoding",
           "o": "Event", "r": "Refer-To", "u": "Allow-Events", "x": "Session-Expires"}
CANONICAL = {name.lower(): name for name in (
    "Via", "From", "To", "Call-ID", "CSeq", "Contact", "Content-Length", "Content-Type", "Max-Forwards",
    "Record-Route", "Route", "User-Agent", "Allow", "Supported", "Expires", "WWW-Authenticate",
    "Authorization", "Proxy-Authenticate", "Proxy-Authorization", "Server", "Accept", "Require",
    "Session-Expires", "Allow-Events", "Event", "Subject", "Content-Encoding", "Refer-To", "Reason")}


def split_message(raw: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    """-> (start line, [(canonical name, value)], body). Tolerates LF-only line ends."""
    text = raw.replace(b"\r\n", b"\n")
    head, _, body = text.partition(b"\n\n")
    lines = head.decode("utf-8", "replace").split("\n")
    start, headers = lines[0].strip(), []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # folded continuation line
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        name = name.strip()
        name = COMPACT.get(name, CANONICAL.get(name.lower(), name))
        headers.append((name, value.strip()))
    return start, headers, body.replace(b"\n", b"\r\n")


def normalize(raw: bytes, keep_body: bool = True) -> bytes:
    """Rewrite a SIP datagram into the strict form pyVoIP's parser accepts (canonical names,
    "Name: value", CRLF, one Via per line, correct Content-Length)."""
    start, headers, body = split_message(raw)
    if not keep_body:
        body = b""
        headers = [(n, v) for n, v in headers if n != "Content-Type"]
    out = [start]
    for name, value in headers:
        if name == "Content-Length":
            continue
        if name == "Via" and "," in value:
            out.extend(f"Via: {v.strip()}" for v in value.split(","))
        else:
            out.append(f"{name}: {value}")
    out.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(out) + "\r\n\r\n").encode("utf-8") + body


def header_values(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [v for n, v in headers if n == name]


def first(headers, name: str, default: str = "") -> str:
    values = header_values(headers, name)
    return values[0] if values else default


def tag_of(value: str) -> str:
    m = re.search(r";\s*tag=([^;>\s]+)", value)
    return m.group(1) if m else ""


def uri_of(value: str) -> str:
    m = re.search(r"<([^>]+)>", value)
    return m.group(1) if m else value.split(";")[0].strip()


def user_of(value: str) -> str:
    m = re.search(r"sips?:([^@;>]+)@", value)
    return m.group(1) if m else ""


def hostport_of_uri(uri: str, default_port: int = 5060) -> tuple[str, int]:
    m = re.match(r"sips?:(?:[^@]+@)?([^:;>]+)(?::(\d+))?", uri)
    if not m:
        raise ValueError(f"bad SIP URI {uri!r}")
    return m.group(1), int(m.group(2) or default_port)


def via_target(via: str, source: tuple[str, int] | None) -> tuple[str, int]:
    """Where a response goes (RFC 3261 18.2.2 + RFC 3581 rport): the top Via's sent-by, or the
    packet's source when the sender asked for rport or sent from elsewhere."""
    m = re.match(r"SIP/2\.0/\w+\s+([^:;\s]+)(?::(\d+))?(.*)", via.strip(), re.I)
    if not m:
        if source:
            return source
        raise ValueError(f"bad Via {via!r}")
    host, port, params = m.group(1), int(m.group(2) or 5060), m.group(3)
    received = re.search(r";\s*received=([^;\s]+)", params)
    if re.search(r";\s*rport(?:[;=\s]|$)", params) and source:
        return source
    if received:
        host = received.group(1)
    return host, port


@dataclass
class Offer:
    """The audio part of an SDP offer."""

    address: str
    port: int
    payload_types: list[int]
    rtpmap: dict[int, str] = field(default_factory=dict)

    def choose_codec(self) -> int | None:
        """First offered G.711 codec (PCMU 0 or PCMA 8, static or by rtpmap name)."""
        for pt in self.payload_types:
            name = self.rtpmap.get(pt, {0: "PCMU", 8: "PCMA"}.get(pt, "")).upper()
            if name in ("PCMU", "PCMA"):
                return pt
        return None

    def codec_name(self, pt: int) -> str:
        return self.rtpmap.get(pt, {0: "PCMU", 8: "PCMA"}.get(pt, "")).upper()

    def dtmf_payload_type(self) -> int | None:
        for pt in self.payload_types:
            if self.rtpmap.get(pt, "").lower() == "telephone-event":
                return pt
        return None


def parse_offer(body: bytes) -> Offer | None:
    """The first audio m-line with its connection address; None when there is none."""
    session_c, media_c, audio, rtpmap = None, None, None, {}
    in_audio = False
    for line in body.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line.startswith("m="):
            if audio is not None:
                break
            parts = line[2:].split()
            in_audio = len(parts) >= 4 and parts[0] == "audio"
            if in_audio:
                try:
                    audio = (int(parts[1]), [int(p) for p in parts[3:] if p.isdigit()])
                except ValueError:
                    return None
        elif line.startswith("c="):
            parts = line[2:].split()
            if len(parts) >= 3:
                if in_audio:
                    media_c = parts[2].split("/")[0]
                elif audio is None:
                    session_c = parts[2].split("/")[0]
        elif line.startswith("a=rtpmap:") and in_audio:
            m = re.match(r"a=rtpmap:(\d+)\s+([^/\s]+)", line)
            if m:
                rtpmap[int(m.group(1))] = m.group(2)
    address = media_c or session_c
    if audio is None or not address or not (0 < audio[0] < 65536):
        return None
    return Offer(address=address, port=audio[0], payload_types=audio[1],
                 rtpmap={k: v.upper() if v.upper() in ("PCMU", "PCMA") else v for k, v in rtpmap.items()})


def answer_sdp(session_id: int, version: int, ip: str, port: int, pt: int, codec: str,
               dtmf_pt: int | None) -> str:
    pts = f"{pt}" + (f" {dtmf_pt}" if dtmf_pt is not None else "")
    lines = ["v=0", f"o=hotline {session_id} {version} IN IP4 {ip}", "s=12345 hotline",
             f"c=IN IP4 {ip}", "t=0 0", f"m=audio {port} RTP/AVP {pts}", f"a=rtpmap:{pt} {codec}/8000"]
    if dtmf_pt is not None:
        lines += [f"a=rtpmap:{dtmf_pt} telephone-event/8000", f"a=fmtp:{dtmf_pt} 0-15"]
    lines += ["a=ptime:20", "a=sendrecv"]
    return "\r\n".join(lines) + "\r\n"
