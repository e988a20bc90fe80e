"""SMS notices' one entry: the admin page and API, Kannel's callbacks, the ticket subscribers that
queue notices, the sender (after-commit nudge, periodic sweep) and its Celery tasks."""
from __future__ import annotations

from hotline.openapi import register_paths
from hotline.plugins import Plugin, on_shutdown


class State:
    """One app's notice subscribers and sender (``app.extensions["messaging"]``)."""

    def __init__(self) -> None:
        from .runner import Notices

        self.notices = Notices()
        self.nudger = None
        self.loop = None

    def stop(self) -> None:
        if self.loop is not None:
            self.loop.stop()
            self.loop = None
        self.notices.close()  # unsubscribes; notices still waiting for their batch's window go out
        if self.nudger is not None:
            self.nudger.close()
            self.nudger = None


def state(app) -> State:
    current = app.extensions.get("messaging")
    if current is None:
        current = app.extensions["messaging"] = State()
        on_shutdown(app, current.stop)
    return current


def wire(app) -> None:
    """Subscribe to ticket events (notices) and, with a gateway configured, send after commits."""
    from hotline.extensions import db

    from .runner import Nudger

    st = state(app)
    st.notices.wire()
    if app.config["HOTLINE"].sms_kannel_url:
        st.nudger = st.nudger or Nudger(db.Session.session_factory)
        st.nudger.install()


def register(app) -> None:
    from .views import bp, openapi_paths

    app.register_blueprint(bp)
    register_paths(app, openapi_paths)
    if not app.config["HOTLINE"].testing:  # tests wire what they exercise themselves
        wire(app)


def tasks() -> None:
    from . import tasks as _tasks  # noqa: F401 - defines the messaging.* Celery tasks


def beat(config) -> dict:
    entries = {"messaging-catch-up": {"task": "messaging.catch_up", "schedule": 300.0}}
    if config.sms_kannel_url:
        entries["messaging-send-due"] = {"task": "messaging.send_due", "schedule": float(config.sms_sweep_seconds)}
    return entries


def start(app) -> None:
    """Embedded default: the periodic sweep in a thread (sending only with a gateway to send to)."""
    from .runner import Loop

    wire(app)
    st = state(app)
    if st.loop is None:
        st.loop = Loop(app, app.config["HOTLINE"].sms_sweep_seconds)
        st.loop.start()


plugin = Plugin(name="messaging", register=register, tasks=tasks, beat=beat, start=start)
