"""The app shell: assembles the core and every package into one application.

Nothing imports this package except its entry points (the `hotline` command, WSGI, the Celery
worker), tests and benchmarks.
"""
from .factory import create_app

__all__ = ["create_app"]
