"""A web process for multi-process tests: ``python -m tests.console_server PORT DATABASE_URL REDIS_URL
[ROLE]`` (ROLE: ``full``, the default, or ``api`` as in the Procfile's `api` process).

With ``--publish NAME JSON`` it instead acts like the SIP process: builds the app (so the console's
fan-out is wired and Socket.IO writes to the Redis message queue), publishes one event, exits.
"""
from __future__ import annotations

import json
import logging
import sys

SECRET = "console-multiprocess-test"


def app_for(database_url: str, redis_url: str, role: str = "full"):
    from hotline.app import create_app

    return create_app({"database_url": database_url, "redis_url": redis_url, "sip_enabled": False,
                       "secret_key": SECRET, "testing": True, "web_role": role})


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.WARNING)
    if argv[0] == "--publish":
        _, database_url, redis_url, name, payload = argv
        app = app_for(database_url, redis_url)
        from hotline.events import bus

        with app.app_context():
            bus.publish(name, json.loads(payload))
        assert bus.flush(30), "the event did not reach Redis"
        return
    port, database_url, redis_url = int(argv[0]), argv[1], argv[2]
    app = app_for(database_url, redis_url, argv[3] if len(argv) > 3 else "full")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from hotline.extensions import socketio

    socketio.run(app, host="127.0.0.1", port=port, allow_unsafe_werkzeug=True, log_output=False)


if __name__ == "__main__":
    main(sys.argv[1:])
