"""Browser-facing hardening: response security headers and safe post-login redirects.

The headers are set in one ``after_request`` rather than with flask-talisman: four fixed header
values need no library, and talisman's defaults (forced HTTPS redirects, Secure cookies) would have
to be switched off again for the embedded default that serves plain HTTP on 127.0.0.1.
"""
from __future__ import annotations

from urllib.parse import urlsplit

#: scripts, styles, media and sockets only from this origin; no inline script or style, no framing
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "media-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate CSP level 2
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


_HEADERS_LOWER = tuple((name.lower(), name, value) for name, value in HEADERS.items())


def add_security_headers(response):
    """Each header unless the view set its own (one pass over the response's headers: four
    ``setdefault`` calls scanned them eight times and raised four KeyErrors on every response)."""
    present = {name.lower() for name in response.headers.keys()}
    for lower, name, value in _HEADERS_LOWER:
        if lower not in present:
            response.headers.add(name, value)
    return response


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None.

    Browsers drop tabs and newlines from URLs and read ``\\`` as ``/``, so ``/\\t/evil.example`` and
    ``/\\evil.example`` both mean ``//evil.example`` (another host): any control character or
    backslash is refused, as is anything with a scheme or a host.
    """
    if not target or len(target) > 2048 or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
