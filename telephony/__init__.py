"""Telephony: the SIP endpoint (hardened pyVoIP), call sessions, recordings, call records.

Runs inside the web process in the embedded default (``telephony.runner.start``) and as its own
``sip`` process in production (``hotline sip``). Talks to the rest of the system only through the
ticketing and routing services and the event catalogue. Grouped by role:

- ``endpoint``      answers calls and owns their sessions; ``facts`` carries what happened off the
                    SIP thread; ``commands`` runs console commands on a call.
- ``sip/``          signalling: the pyVoIP corrections (``sip/pyvoip/``), dialing, SDP, the proxy.
- ``media/``        RTP, the call session, bridge and transfers, WAV prompts.
- ``speech/``       vosk: live and post-call transcription.
- ``queue_audio/``  what the call queue (``routing.calls``) has telephony do: prompts, ring, bridge.
- ``models``, ``service``, ``api``, ``schemas``, ``tasks``, ``cli``, ``runner``, ``plugin``: the call
  records, their REST API, background jobs and how the package plugs into the app.
"""

from . import events  # noqa: F401,E402 - registers the payload schemas of the events this package emits
