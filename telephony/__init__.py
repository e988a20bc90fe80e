"""Telephony: the SIP endpoint (hardened pyVoIP), call sessions, recordings, call records.

Runs inside the web process in the embedded default (``telephony.runner.start``) and as its own
``sip`` process in production (``hotline sip``). Talks to the rest of the system only through the
ticketing services and the event catalogue.
"""

from . import events  # noqa: F401,E402 - registers the payload schemas of the events this package emits
