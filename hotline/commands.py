"""What package CLI commands use to reach the application.

The `hotline` command (the app shell, :mod:`hotline.app.cli`) puts an :class:`AppLoader` on the click
context; a package command calls :func:`load_app` and so never imports the shell.
"""
from __future__ import annotations

from typing import Callable

import click


class AppLoader:
    """Creates the Flask app on first use (some commands migrate or read stdin before that)."""

    def __init__(self, factory: Callable[[], object]) -> None:
        self._factory = factory
        self._app = None

    def load(self):
        if self._app is None:
            self._app = self._factory()
        return self._app

    def close(self) -> None:
        """When the command ends (also on Ctrl-C): the app's shutdown functions (hotline.plugins)."""
        if self._app is not None:
            from .plugins import shutdown

            shutdown(self._app)


def load_app():
    """The app of the running `hotline` command."""
    ctx = click.get_current_context(silent=True)
    loader = ctx.find_object(AppLoader) if ctx is not None else None
    if loader is None:
        raise click.UsageError("run this command through `hotline`, which creates the application")
    return loader.load()
