"""The shape of a package's one entry: ``<package>/plugin.py`` defines ``plugin = Plugin(...)``.

The app shell (hotline/app/plugins.py) lists the plugins explicitly and calls them; a package adds
nothing to the application any other way (no import-time wiring, no blueprint hooks).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

from .config import Config

log = logging.getLogger("hotline.plugins")


def _nothing(*_args) -> None:
    return None


@dataclass(frozen=True)
class Plugin:
    name: str
    #: register(app): blueprint, OpenAPI paths, event subscribers, state in ``app.extensions``;
    #: called by create_app in every process (web, api, sip, worker, CLI)
    register: Callable
    #: commands(): the ``hotline`` sub-commands this package adds
    commands: Callable[[], list] = field(default=lambda: [])
    #: tasks(): imports the package's Celery tasks (defined on ``hotline.extensions.celery``)
    tasks: Callable[[], None] = _nothing
    #: beat(config): the package's entries of the Celery beat schedule
    beat: Callable[[Config], dict] = field(default=lambda _config: {})
    #: start(app): background work of the embedded default (`hotline run`), in this process
    start: Callable | None = None
    #: seed(session): reference data the package needs on a fresh database (`hotline seed`)
    seed: Callable = _nothing


def on_shutdown(app, function: Callable[[], None]) -> None:
    """Run ``function`` when the app shell shuts this app down (flush buffers, stop threads)."""
    app.extensions.setdefault("hotline.shutdown", []).append(function)


def shutdown(app) -> None:
    """Called by the app shell's entry points on exit: the functions in reverse order."""
    functions = app.extensions.pop("hotline.shutdown", [])
    for function in reversed(functions):
        try:
            function()
        except Exception:
            log.exception("shutdown.failed %r", function)
