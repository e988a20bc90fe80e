"""Every package of the product, in the order the app shell registers them.

Each package's one entry is ``<package>/plugin.py`` (a :class:`hotline.plugins.Plugin`): create_app
calls ``register(app)``, the `hotline` command adds ``commands()``, the Celery worker imports
``tasks()`` and merges ``beat(config)``, `hotline run` calls ``start(app)``, `hotline seed` calls
``seed(session)``.
"""
from __future__ import annotations

from agent_console.plugin import plugin as agent_console
from knowledge.plugin import plugin as knowledge
from messaging.plugin import plugin as messaging
from open311.plugin import plugin as open311
from portal.plugin import plugin as portal
from quality.plugin import plugin as quality
from routing.plugin import plugin as routing
from supervision.plugin import plugin as supervision
from telephony.plugin import plugin as telephony
from ticketing.plugin import plugin as ticketing

PLUGINS = (ticketing, routing, telephony, agent_console, knowledge, supervision, messaging, open311, portal,
           quality)
