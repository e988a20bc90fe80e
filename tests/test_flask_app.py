"""hotline.app.flask_app: the application class's shortcuts answer as Flask's own code would."""
from __future__ import annotations

import asyncio
from functools import partial

import pytest
from flask import session


def _session_routes(app):
    app.add_url_rule("/_t/set", "t_set", lambda: (session.__setitem__("x", 1), "")[1], methods=["GET"])
    app.add_url_rule("/_t/get", "t_get", lambda: {"x": session.get("x")})


def test_session_cookies_follow_the_secret_key_and_its_fallbacks(app):
    """The signing serializer is built once per key set: a new SECRET_KEY invalidates the cookies
    signed with the old one, and listing the old key in SECRET_KEY_FALLBACKS accepts them again."""
    _session_routes(app)
    client = app.test_client()
    client.get("/_t/set")
    assert client.get("/_t/get").get_json() == {"x": 1}
    old = app.secret_key
    app.secret_key = "a-rotated-secret-key-for-this-test"
    assert client.get("/_t/get").get_json() == {"x": None}
    app.config["SECRET_KEY_FALLBACKS"] = [old]
    assert client.get("/_t/get").get_json() == {"x": 1}


def test_ensure_sync_returns_plain_functions_and_hands_the_rest_to_flask(app):
    def plain():
        return 1

    async def coroutine():
        return 1

    assert app.ensure_sync(plain) is plain
    wrapped = partial(plain)
    assert app.ensure_sync(wrapped) is wrapped  # Flask's own answer for a partial of a plain function
    with pytest.raises(RuntimeError, match="async"):  # Flask's: async views need the 'async' extra
        app.ensure_sync(coroutine)
    asyncio.run(coroutine())  # (the coroutine function is a real one)
