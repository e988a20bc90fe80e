"""WSGI entry for production: `gunicorn -w 1 --threads 400 hotline.wsgi:app` (see Procfile).

One gthread worker per process (Socket.IO needs sticky sessions, which gunicorn's own balancer
lacks); scale out with more processes behind a sticky proxy and REDIS_URL for the message queue.
"""
import gc

from hotline import create_app

app = create_app()
# What exists after start-up (mappers, compiled queries, dictionaries) lives as long as the process:
# move it out of the collector's generations so full collections stay short (latency tails).
gc.collect()
gc.freeze()
