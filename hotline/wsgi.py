"""WSGI entry for production: `gunicorn -w 1 --threads 400 hotline.wsgi:app` (see Procfile).

One gthread worker per process (Socket.IO needs sticky sessions, which gunicorn's own balancer
lacks); scale out with more processes behind a sticky proxy and REDIS_URL for the message queue.
"""
from hotline import create_app

app = create_app()
