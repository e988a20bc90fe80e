"""create_app(): wires config, database, auth, every package's blueprint, Socket.IO and the event bus."""
from __future__ import annotations

import logging
from functools import partial

from hotline.config import Config
from hotline.extensions import db, socketio

from . import socketio_queue
from .flask_app import HotlineFlask

_hooks_installed = False


def create_app(test_config: dict | None = None) -> HotlineFlask:
    global _hooks_installed
    from hotline import account_views, errors, inputs, openapi, throttle, web
    from hotline.auth import authenticate_bearer, csrf, csrf_guard, login_manager
    from hotline.events import bus, install_session_hooks
    from hotline.security import add_security_headers

    overrides = dict(test_config or {})
    flask_overrides = overrides.pop("flask", {})
    config = Config.from_env(**overrides)

    # "hotline": the core's templates and static files (hotline/templates, hotline/static)
    app = HotlineFlask("hotline", template_folder="templates", static_folder="static")
    app.config.update(
        SECRET_KEY=config.secret_key,
        HOTLINE=config,
        TESTING=config.testing,
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.session_cookie_secure,
        CSRF_EXEMPT_ENDPOINTS={"web.issue_token_view"},
    )
    app.config.update(flask_overrides)
    from hotline import jobs
    from hotline.plugins import on_shutdown

    on_shutdown(app, jobs.drain)  # registered first, so it runs last: after the packages flushed their batchers
    on_shutdown(app, partial(socketio_queue.stop, app))  # Socket.IO's Redis listener, after the packages
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    db.init(config.database_url, connect_timeout=config.db_connect_timeout)
    if not _hooks_installed:
        install_session_hooks(db.Session.session_factory)
        _hooks_installed = True

    login_manager.init_app(app)
    csrf.init_app(app)
    throttle.init_app(app, config)
    app.before_request(_reject_oversized)
    inputs.install(app)  # NUL / JSON depth / number limits; bounded <int:> ids (before any blueprint)
    app.before_request(authenticate_bearer)
    app.before_request(csrf_guard)
    app.after_request(add_security_headers)

    @app.teardown_appcontext
    def _remove_session(_exc):
        db.Session.remove()

    app.register_blueprint(web.bp)
    app.register_blueprint(account_views.bp)
    app.register_blueprint(openapi.bp)
    openapi.register_paths(app, account_views.openapi_paths)
    from .plugins import PLUGINS

    for plugin in PLUGINS:  # each package's blueprint, OpenAPI paths and event subscribers
        plugin.register(app)
    app.extensions["hotline.seed"] = _seed  # directory, catalogue, articles, demo users (`hotline demo seed`)
    errors.register(app)

    from hotline.events import redis_channel

    # Socket.IO's message queue on the same per-database channel scheme as the event bus. The
    # `api` role (REST API only, several processes) has no browser sockets: its emits only go out
    # through Redis to the `web` process, which holds the consoles' connections.
    channel = redis_channel("flask-socketio", config.redis_url) if config.redis_url else "flask-socketio"
    manager = socketio_queue.client_manager(config.redis_url, channel, write_only=config.web_role == "api")
    socketio.init_app(app, async_mode="threading", client_manager=manager, cors_allowed_origins=[])
    if config.web_role == "api":
        # no browser sockets here (nginx sends /socket.io/ to `web`): without Flask-SocketIO's WSGI
        # middleware in front, every API request is spared its path check, a /socket.io/ request gets 404
        app.wsgi_app = app.wsgi_app.wsgi_app
    app.extensions[socketio_queue.SERVER] = socketio.server  # its listener thread stops at shutdown
    if config.redis_url:  # events of committed data go through the outbox and its relay
        from datetime import timedelta

        # `api` processes only publish: nothing in them subscribes to other processes' events (the
        # consoles' fan-out and call board live in `web`), so they do not receive the event stream
        bus.connect_redis(config.redis_url, engine=db.engine, listen=config.web_role != "api",
                          retention=timedelta(hours=config.outbox_retention_hours))
    else:
        bus.disconnect_redis()
    from .celery_config import configure_celery

    configure_celery(config)
    jobs.configure(app, config.background_jobs)
    return app


def _reject_oversized():
    """Refuse bodies over MAX_CONTENT_LENGTH before anything parses them (silent JSON parsing
    would otherwise turn the 413 into a misleading 400)."""
    from flask import abort, current_app, request

    limit = current_app.config.get("BODY_LIMITS", {}).get(request.endpoint, current_app.config["MAX_CONTENT_LENGTH"])
    request.max_content_length = limit  # a package may allow one endpoint more (the portal's photos)
    if request.content_length is not None and request.content_length > limit:
        abort(413, description=f"request body larger than {limit // 1024} KiB")


def _seed(session, demo: bool = True):
    from .dbadmin import seed  # imports Alembic: only when seeding

    return seed(session, demo=demo)
