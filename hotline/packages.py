"""Optional package modules: hotline assembles whatever packages are installed."""
from __future__ import annotations

import importlib
from types import ModuleType


def optional_module(name: str) -> ModuleType | None:
    """Import ``name`` or return None when its package (or that module) does not exist.

    An ImportError from *inside* an existing module is a real bug and is raised.
    """
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            return None
        raise


def optional_modules(*names: str) -> list[ModuleType]:
    return [m for m in map(optional_module, names) if m is not None]
