"""The core every package may import: extensions (database, Socket.IO, Celery), config, the event
catalogue and bus, background jobs, identity (users, roles, decorators), OpenAPI helpers and error
rendering.

The application itself (create_app, the `hotline` command, WSGI, the Celery worker, the embedded
runtime) is assembled in :mod:`hotline.app`, which imports every package and is imported by none.
"""
