"""F22 (continuing telephony/sip/pyvoip/): every datagram is checked before pyVoIP parses it
and before anything is allocated for it.

pyVoIP 1.6.8 validates next to nothing: an INVITE without Call-ID or From raised KeyError after an
RTP port had been taken (the port leaked: three such datagrams blocked a 3-port range), and INVITEs
without Via or CSeq, with Content-Length 99999/-1/abc, ``c=IN IP4 not.an.ip``, Request-URI ``::::``
or a 60 KB header became calls and draft tickets; ``FOO`` and ``SIP/3.0`` got no answer at all.
-> ``inspect()`` answers with the RFC 3261 response before the message reaches the phone:
513 for oversized messages, 505 for another SIP version, 400 with a reason phrase naming the
problem (21.4.1) for a bad Request-Line, Via, From, To, Call-ID, CSeq, Max-Forwards, Expires,
Contact, Content-Length or SDP connection address, 416 for a Request-URI scheme we cannot serve,
501 for methods we do not implement, 420 for a Require we do not support, 415 for INVITE bodies
that are not SDP. Requests without a usable Via (no response can be addressed), ACKs and malformed
responses (bad status line, Via, Call-ID or CSeq) are dropped. The reference set is RFC 4475's torture messages (tests/data/sip_torture).
Tests: tests/test_telephony_sip_validation.py.
"""
from __future__ import annotations

import ipaddress
import logging
import re
import time
from dataclasses import dataclass, field

from telephony.sip import sdp

log = logging.getLogger("telephony.sip")

MAX_MESSAGE_BYTES = 16 * 1024  # a SIP request over UDP should stay under the path MTU (18.1.1)
SUPPORTED_METHODS = ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS")
NO_REQUIRE_CHECK = ("ACK", "CANCEL")  # RFC 3261 8.2.2.3
MAX_CSEQ = 2**31 - 1  # 8.1.1.5: less than 2**31
MAX_UINT32 = 2**32 - 1

TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
_TOKEN = re.compile(rf"^{TOKEN}$")
_HOST = r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?)"
_PARAM = rf"\s*;\s*{TOKEN}(?:\s*=\s*(?:{TOKEN}|\[[0-9A-Fa-f:.]+\]|\"(?:[^\"\\]|\\.)*\"))?"
_VIA = re.compile(rf"^SIP\s*/\s*2\.0\s*/\s*({TOKEN})\s+({_HOST})(?:\s*:\s*(\d{{1,5}}))?((?:{_PARAM})*)\s*$",
                  re.I)
_SIP_URI = re.compile(rf"^(sips?):(?:([^@\s<>\"]+)@)?({_HOST})(?::(\d{{1,5}}))?((?:;[^;?\s<>\"]+)*)(\?\S*)?$",
                      re.I)
_TEL_URI = re.compile(r"^tel:[0-9A-Za-z+\-.()*#;=%]+$", re.I)
_ABS_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"]+$")
_CALL_ID = re.compile(r"^[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+(?:@[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+)?$")
_CSEQ = re.compile(rf"^(\d{{1,12}})\s+({TOKEN})$")
_VERSION = re.compile(r"^SIP/(\d+)\.(\d+)$", re.I)
_STATUS = re.compile(r"^SIP/2\.0 ([1-6]\d\d)(?: .*)?$", re.I)
_DISPLAY_TOKENS = re.compile(rf"^{TOKEN}(?:\s+{TOKEN})*$")
_PARAMS = re.compile(rf"^(?:{_PARAM})*\s*$")
_DIGITS = re.compile(r"^\d{1,12}$")


@dataclass
class Verdict:
    """What to do with one datagram. ``code``: the error response to send (None: none);
    ``drop``: discard silently; ``data``: the message to hand to pyVoIP (body cut to its
    Content-Length, 18.3) when it passed."""

    start_line: str = ""
    raw_headers: list = field(default_factory=list)
    raw_body: bytes = b""
    source: tuple | None = None
    is_request: bool = True
    method: str = ""
    code: int | None = None
    reason: str = ""
    extra: list = field(default_factory=list)
    drop: str = ""
    data: bytes = b""
    via_unusable: bool = False

    # what phone.HardenedSIPClient.response()/send_response() read from a request
    def header(self, name: str, default: str = "") -> str:
        return sdp.first(self.raw_headers, name, default)

    @property
    def ok(self) -> bool:
        return self.code is None and not self.drop

    def reject(self, code: int, reason: str, *extra: str) -> "Verdict":
        self.code, self.reason, self.extra = code, reason, list(extra)
        return self


class Rejected(Exception):
    def __init__(self, code: int, reason: str, *extra: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code, self.reason, self.extra = code, reason, extra


def split_top(value: str, sep: str = ",") -> list[str]:
    """Split a header value on ``sep`` outside quotes and <...>."""
    parts, depth, quoted, escaped, current = [], 0, False, False, []
    for ch in value:
        if escaped:
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth = max(0, depth - 1)
        elif ch == sep and not quoted and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    parts.append("".join(current).strip())
    return parts


def valid_host(host: str) -> bool:
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
            return True
        except ValueError:
            return False
    if re.fullmatch(r"[\d.]+", host):
        try:
            ipaddress.IPv4Address(host)
            return True
        except ValueError:
            return False
    return all(label and len(label) <= 63 for label in host.split("."))


def valid_port(port: str | None) -> bool:
    return port is None or 0 < int(port) < 65536


def check_uri(uri: str) -> str:
    """'' when ``uri`` is a well-formed URI, else what is wrong."""
    if uri[:4].lower() == "sip:" or uri[:5].lower() == "sips:":
        m = _SIP_URI.match(uri)
        if not m or not valid_host(m.group(3)) or not valid_port(m.group(4)):
            return "invalid SIP URI"
        return ""
    if uri[:4].lower() == "tel:":
        return "" if _TEL_URI.match(uri) else "invalid tel URI"
    return "" if _ABS_URI.match(uri) else "invalid URI"


def check_address(value: str) -> bool:
    """name-addr or addr-spec followed by ;params (From, To, Contact)."""
    value = value.strip()
    if not value:
        return False
    if "<" in value or value.startswith('"'):
        rest = value
        if rest.startswith('"'):
            m = re.match(r'^"((?:[^"\\]|\\.)*)"\s*', rest)
            if not m:
                return False  # unterminated quoted display name (RFC 4475 3.1.2.6)
            rest = rest[m.end():]
        else:
            display, lt, rest = rest.partition("<")
            if display.strip() and not _DISPLAY_TOKENS.match(display.strip()):
                return False  # non-token characters in an unquoted display name (3.1.2.15)
            rest = lt + rest
        m = re.match(r"^<([^<>\s]+)>(.*)$", rest)
        if not m or check_uri(m.group(1)):
            return False  # spaces inside <...> (3.1.2.14) or a bad URI
        return bool(_PARAMS.match(m.group(2)))
    uri, sep, params = value.partition(";")
    if check_uri(uri.strip()):
        return False
    return bool(_PARAMS.match(sep + params)) if sep else True


def _param_values(params: str, name: str) -> list[str]:
    return [m.group(1) for m in re.finditer(rf";\s*{name}\s*=\s*([^;\s]*)", params, re.I)]


def _single(headers, name: str) -> str:
    values = [v for n, v in headers if n == name]
    if not values:
        raise Rejected(400, f"Missing {name} Header Field")
    if len(values) > 1 and len(set(values)) > 1:
        raise Rejected(400, f"Multiple {name} Header Fields")
    return values[0]


def split_raw(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """-> (head, separator, body) on the first empty line (CRLF or bare LF)."""
    crlf, lf = raw.find(b"\r\n\r\n"), raw.find(b"\n\n")
    if crlf >= 0 and (lf < 0 or crlf <= lf):
        return raw[:crlf], b"\r\n\r\n", raw[crlf + 4:]
    if lf >= 0:
        return raw[:lf], b"\n\n", raw[lf + 2:]
    return raw.rstrip(b"\r\n"), b"\r\n\r\n", b""


def inspect(raw: bytes, source: tuple | None = None) -> Verdict:
    head, sep, body = split_raw(raw)
    start, headers, _ = sdp.split_message(head + b"\r\n\r\n")
    verdict = Verdict(start_line=start, raw_headers=headers, raw_body=body, source=source)
    verdict.is_request = not start[:4].upper() == "SIP/"
    vias = [part for value in sdp.header_values(headers, "Via") for part in split_top(value)]
    if verdict.is_request:
        verdict.method = start.split(" ", 1)[0]
        if verdict.method == "ACK":
            pass  # never answered (17.1.1.3): any problem below drops it
        if not vias:
            verdict.drop = "no Via: no response can be addressed"
            return verdict
        if not all(_via_ok(v) for v in vias):
            verdict.via_unusable = True  # the response goes back to the packet's source
            verdict.reject(400, "Invalid Via Header Field")
        elif len(raw) > MAX_MESSAGE_BYTES:
            verdict.reject(513, "Message Too Large")
        else:
            try:
                verdict.data = _check_request(verdict, head, sep, body)
            except Rejected as exc:
                verdict.reject(exc.code, exc.reason, *exc.extra)
        if verdict.method == "ACK" and not verdict.ok:
            verdict.drop, verdict.code = f"ACK: {verdict.reason}", None
        return verdict
    try:
        verdict.data = _check_response(verdict, vias, head, sep, body)
    except Rejected as exc:
        verdict.drop = f"response: {exc.reason}"
    return verdict


def _via_ok(via: str) -> bool:
    m = _VIA.match(via)
    if not m or not valid_host(m.group(2)) or not valid_port(m.group(3)):
        return False
    for value in _param_values(m.group(4), "rport") + _param_values(m.group(4), "ttl"):
        if value and not (value.isdigit() and int(value) < 65536):
            return False
    return True


def _check_request(v: Verdict, head: bytes, sep: bytes, body: bytes) -> bytes:
    parts = v.start_line.split(" ")
    if len(parts) != 3 or not all(parts):
        raise Rejected(400, "Malformed Request-Line")
    method, uri, version = parts
    m = _VERSION.match(version)
    if not m:
        raise Rejected(400, "Invalid SIP-Version")
    if (m.group(1), m.group(2)) != ("2", "0"):
        raise Rejected(505, "Version Not Supported")
    if not _TOKEN.match(method):
        raise Rejected(400, "Invalid Method")
    if check_uri(uri):
        raise Rejected(400, "Invalid Request-URI")
    if uri.split(":", 1)[0].lower() not in ("sip", "sips", "tel"):
        raise Rejected(416, "Unsupported URI Scheme")
    sip_uri = _SIP_URI.match(uri)
    if sip_uri and sip_uri.group(6):  # RFC 3261 19.1.1: no headers in a Request-URI
        raise Rejected(400, "Header Fields Not Allowed In Request-URI")
    headers = v.raw_headers
    for name in ("From", "To"):
        if not check_address(_single(headers, name)):
            raise Rejected(400, f"Invalid {name} Header Field")
    if not _CALL_ID.match(_single(headers, "Call-ID")):
        raise Rejected(400, "Invalid Call-ID Header Field")
    cseq = _CSEQ.match(_single(headers, "CSeq"))
    if not cseq or int(cseq.group(1)) > MAX_CSEQ:
        raise Rejected(400, "Invalid CSeq Header Field")
    if cseq.group(2) != method:
        raise Rejected(400, "CSeq Method Does Not Match Request Method")
    for name, limit in (("Max-Forwards", 255), ("Expires", MAX_UINT32)):
        values = sdp.header_values(headers, name)
        if len(values) > 1 or any(not _DIGITS.match(x) or int(x) > limit for x in values):
            raise Rejected(400, f"Invalid {name} Header Field")
    for value in sdp.header_values(headers, "Contact"):
        if value.strip() == "*":
            continue
        for contact in split_top(value):
            if not check_address(contact) or any(
                    not _DIGITS.match(x) or int(x) > MAX_UINT32 for x in _param_values(contact, "expires")):
                raise Rejected(400, "Invalid Contact Header Field")
    body = _cut_body(headers, body)
    if method not in SUPPORTED_METHODS:
        raise Rejected(501, "Not Implemented")
    if method not in NO_REQUIRE_CHECK:
        required = [t.strip() for value in sdp.header_values(headers, "Require") for t in value.split(",")]
        if [t for t in required if t]:
            raise Rejected(420, "Bad Extension", "Unsupported: " + ", ".join(t for t in required if t))
    if method == "INVITE" and body.strip():
        ctype = sdp.first(headers, "Content-Type").split(";")[0].strip().lower()
        if ctype != "application/sdp":
            raise Rejected(415, "Unsupported Media Type", "Accept: application/sdp")
        _check_sdp(body)
    return head + sep + body


def _cut_body(headers, body: bytes) -> bytes:
    """RFC 3261 18.3 (UDP): octets beyond Content-Length are discarded; a body shorter than it is
    an error."""
    values = sdp.header_values(headers, "Content-Length")
    if not values:
        return body
    if len(set(values)) > 1:
        raise Rejected(400, "Multiple Content-Length Values")
    if not _DIGITS.match(values[0]):
        raise Rejected(400, "Invalid Content-Length")
    length = int(values[0])
    if length > len(body):
        raise Rejected(400, "Content-Length Larger Than Message Body")
    return body[:length]


def _check_sdp(body: bytes) -> None:
    text = body.decode("utf-8", "replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("v="):
        raise Rejected(400, "Invalid SDP Body")
    for line in lines:
        if not line.startswith("c="):
            continue
        fields = line[2:].split()
        if len(fields) != 3 or fields[0] != "IN":
            raise Rejected(400, "Invalid SDP Connection Line")
        address = fields[2].split("/")[0]
        if fields[1] == "IP4":
            try:
                ipaddress.IPv4Address(address)
            except ValueError:
                raise Rejected(400, "Invalid SDP Connection Address") from None
        elif fields[1] == "IP6":
            raise Rejected(488, "Not Acceptable Here",
                           'Warning: 300 hotline "IPv6 media is not supported"')
        else:
            raise Rejected(400, "Invalid SDP Connection Line")


def _check_response(v: Verdict, vias: list[str], head: bytes, sep: bytes, body: bytes) -> bytes:
    if not _STATUS.match(v.start_line):
        raise Rejected(400, "bad Status-Line")
    if vias and not _via_ok(vias[0]):
        raise Rejected(400, "bad Via")
    # no Via at all is tolerated: a proxy relaying the 487 of a phone that copied the Via of the
    # proxy's own hop-by-hop CANCEL (SIPp does) forwards it without one. Responses allocate
    # nothing; they are matched by Call-ID and CSeq to calls we placed.
    if not _CALL_ID.match(_single(v.raw_headers, "Call-ID")):
        raise Rejected(400, "bad Call-ID")
    cseq = _CSEQ.match(_single(v.raw_headers, "CSeq"))
    if not cseq or int(cseq.group(1)) > MAX_CSEQ:
        raise Rejected(400, "bad CSeq")
    return head + sep + _cut_body(v.raw_headers, body)


_last_log = [0.0]


def refuse(client, verdict: Verdict, source, detail: str = "") -> None:
    """Count, log (at most once a second: a flood must not become a flood of log lines) and send
    the error response of a refused message through ``client`` (a HardenedSIPClient)."""
    key = verdict.code or "dropped"
    client.refused[key] = client.refused.get(key, 0) + 1
    now = time.monotonic()
    if now - _last_log[0] >= 1.0:
        _last_log[0] = now
        log.info("sip.refused code=%s reason=%s source=%s start=%.80s %s totals=%s", verdict.code,
                 verdict.reason or verdict.drop, source, verdict.start_line, detail, client.refused)
    if verdict.code is None or not verdict.is_request:
        return
    text = client.response(verdict, verdict.code, verdict.reason, extra=verdict.extra,
                           to_tag=client.gen_tag() if verdict.method == "INVITE" else "")
    try:
        if verdict.via_unusable:  # RFC 3261 18.2.2 cannot be followed: back to the sender
            client.out.sendto(text.encode("utf-8"), source)
        else:
            client.send_response(verdict, text)
    except (OSError, ValueError) as exc:
        log.info("sip.refusal_unsent source=%s error=%s", source, exc)
