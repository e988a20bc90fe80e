"""Call distribution (ACD): where a citizen's call goes, as ``routing`` decides where a ticket goes.

- ``models``      operator presence (``agent_states``, with the offer reservation), offers made to
                  operators (``call_offers``) and one queue record per call (``call_queue``).
- ``presence``    the presence service the console calls (示闲/示忙/小休/话后处理/离线).
- ``strategies``  which ready operator the next call goes to (pure functions).
- ``store``       the queue's reads and writes: the atomic reservation of an operator, offers,
                  queue rows, wrap-up, system-set states.
- ``queue``       ``CallQueue``: runs in the SIP process, decides (wait, offer, intake, wrap-up)
                  and tells telephony what to do through the ``media`` it is given.
- ``service``     what the console reads: the callback list of abandoned and missed calls.
- ``kpis``        the one definition of an offered / answered / in-target call.

Its state is in the database, not in a process: several ``sip`` processes share one queue and an
operator is reserved with one conditional UPDATE, so two processes never offer one operator two
calls. Nothing here imports ``telephony`` or ``agent_console``.
"""
