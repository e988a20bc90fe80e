"""WSGI entry for production (see Procfile).

`web`: one gthread worker per process (Socket.IO needs sticky sessions, which gunicorn's own
balancer lacks); scale out with more processes behind a sticky proxy and REDIS_URL for the message
queue. `api` (HOTLINE_WEB_ROLE=api): the REST API without sockets, so `gunicorn -w N` is fine.
"""
import atexit
import gc

from hotline.app import create_app
from hotline.app.startup import refuse_published_demo_passwords
from hotline.plugins import shutdown

app = create_app()
refuse_published_demo_passwords(app)  # a demo login on a production database: exit, saying why
atexit.register(shutdown, app)  # the app's shutdown functions (flush buffered jobs) when the worker exits
# What exists after start-up (mappers, compiled queries, dictionaries) lives as long as the process:
# move it out of the collector's generations so full collections stay short (latency tails).
gc.collect()
gc.freeze()
