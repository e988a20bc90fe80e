"""Telephony's one entry: its API, commands (`hotline sip`, ...), tasks and schedule; in the embedded
default the SIP endpoint runs in the web process (``start``)."""
from __future__ import annotations

from hotline.openapi import register_paths
from hotline.plugins import Plugin


def register(app) -> None:
    from telephony.api import bp
    from telephony.schemas import openapi_paths

    app.register_blueprint(bp)
    register_paths(app, openapi_paths)


def commands() -> list:
    from telephony.cli import COMMANDS

    return list(COMMANDS)


def tasks() -> None:
    from telephony import tasks as _tasks  # noqa: F401 - defines the telephony.* Celery tasks


def beat(_config) -> dict:
    return {"telephony-recording-retention": {"task": "telephony.cleanup_recordings", "schedule": 3600.0},
            # the calls of a `sip` process that died, when no other `sip` process is left to reap them
            "telephony-reap-sip": {"task": "telephony.reap_sip", "schedule": 15.0}}


def start(app) -> None:
    from telephony import runner

    runner.start(app)


plugin = Plugin(name="telephony", register=register, commands=commands, tasks=tasks, beat=beat, start=start)
