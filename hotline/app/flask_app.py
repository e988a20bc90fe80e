"""The Flask application class: Flask with two per-request costs taken off the hot path.

Both are Flask's documented extension points (``ensure_sync``, ``session_interface``) and behave as
Flask's own; they only stop redoing, on every request, work whose answer cannot change.
"""
from __future__ import annotations

from inspect import CO_COROUTINE
from types import FunctionType

from flask import Flask
from flask.sessions import SecureCookieSessionInterface


class CachedSerializerSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions with the signing serializer built once per key set (Flask
    builds a new one, with its key derivation set up, for every request, cookie or not)."""

    def __init__(self) -> None:
        self._serializer: tuple | None = None

    def get_signing_serializer(self, app):
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = self._serializer
        if cached is None or cached[0] != keys:
            cached = self._serializer = (keys, super().get_signing_serializer(app))
        return cached[1]


class HotlineFlask(Flask):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.session_interface = CachedSerializerSessionInterface()  # one cache per app

    def ensure_sync(self, func):
        """Flask asks this for every hook and view of every request (about a dozen per request),
        and answers through ``inspect.iscoroutinefunction``; a plain function's code flags give the
        same answer directly. Anything else (methods, partials, ``async def``) goes to Flask."""
        if type(func) is FunctionType and not func.__code__.co_flags & CO_COROUTINE:
            return func
        return super().ensure_sync(func)
