"""Login throttling with lockout (Flask-Limiter).

Failed logins are counted per username and per client address, shared between the login form and
``POST /api/v1/auth/token``. Only failures count (``deduct_when``: the answer was 401); once a
counter is full, every attempt on that name or from that address is refused with 429 until the
window has passed, the right password included: that is the lockout. Counters live in Redis when
``REDIS_URL`` is set (all web/api processes share them) and in memory otherwise. An unreachable
Redis falls back to memory rather than refusing every login.
"""
from __future__ import annotations

import hashlib
from functools import partial, wraps

from flask import current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address)
#: the only endpoints with limits; every other request skips the limiter's per-request work (a
#: package whose endpoint carries a limit adds it here when it registers: ``limit_endpoint``)
LIMITED_ENDPOINTS = {"web.login", "web.issue_token_view"}


def limit_endpoint(endpoint: str) -> None:
    LIMITED_ENDPOINTS.add(endpoint)


@limiter.request_filter
def _not_a_login() -> bool:
    return request.endpoint not in LIMITED_ENDPOINTS


def _login_name() -> str:
    """The username a login attempt is for, from the form or the JSON body (hashed: any input)."""
    if request.is_json:
        body = request.get_json(silent=True)
        name = body.get("username") if isinstance(body, dict) else None
    else:
        name = request.form.get("username")
    if not isinstance(name, str):
        name = ""
    return "user:" + hashlib.sha256(name.strip().lower().encode()).hexdigest()[:32]


def _address() -> str:
    return "addr:" + (get_remote_address() or "unknown")


def _failed(response) -> bool:
    return response.status_code == 401


def _user_limit() -> str:
    return current_app.config["HOTLINE"].login_failures_per_user


def _address_limit() -> str:
    return current_app.config["HOTLINE"].login_failures_per_address


#: decorators for the two login endpoints (one shared counter each, whichever endpoint is used)
per_user = limiter.shared_limit(_user_limit, scope="login-failures-user", key_func=_login_name,
                                methods=["POST"], deduct_when=_failed)
per_address = limiter.shared_limit(_address_limit, scope="login-failures-address", key_func=_address,
                                   methods=["POST"], deduct_when=_failed)


def init_app(app, config) -> None:
    app.config.update(
        RATELIMIT_STORAGE_URI=config.redis_url or "memory://",
        RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 2, "socket_timeout": 2} if config.redis_url else {},
        RATELIMIT_KEY_PREFIX="hotline-login",
        RATELIMIT_STRATEGY="moving-window",
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
    )
    limiter.init_app(app)
    _only_on_limited_endpoints(app)
    register_errors(app)


def _only_on_limited_endpoints(app) -> None:
    """Flask-Limiter's three request hooks run for every request and set up their per-request
    context before consulting ``request_filter``; only the login endpoints carry limits, so each
    hook is wrapped to run there alone (about 3 % of a ticket creation's CPU otherwise)."""
    def mine(hook) -> bool:  # a bound method of the limiter, or a partial with the limiter first
        owner = hook.args[0] if isinstance(hook, partial) and hook.args else getattr(hook, "__self__", None)
        return owner is limiter

    def when_limited(hook, passthrough: bool):
        @wraps(hook)
        def run(*args):
            if request.endpoint in LIMITED_ENDPOINTS:
                return hook(*args)
            return args[0] if passthrough else None
        return run

    for funcs, passthrough in ((app.before_request_funcs, False), (app.after_request_funcs, True),
                               (app.teardown_request_funcs, False)):
        hooks = funcs.get(None, [])
        funcs[None] = [when_limited(h, passthrough) if mine(h) else h for h in hooks]


def lockout_minutes(exc) -> int:
    """Length of the breached window in minutes (what the refusal tells the user)."""
    try:
        return max(1, -(-exc.limit.limit.get_expiry() // 60))
    except AttributeError:
        return 15


def register_errors(app) -> None:
    from flask import render_template
    from flask_limiter.errors import RateLimitExceeded

    from .errors import error_response

    @app.errorhandler(RateLimitExceeded)
    def _locked(exc):
        minutes = lockout_minutes(exc)
        if request.path.startswith("/api/"):
            return error_response(429, "too_many_attempts",
                                  f"too many failed logins for this user or from this address; "
                                  f"locked, try again in {minutes} minutes")
        return render_template("login.html", error=f"登录失败次数过多，账号已临时锁定，请 {minutes} 分钟后再试"), 429
