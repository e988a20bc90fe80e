"""Every correction of pyVoIP 1.6.8 (subclasses, no global patch). Each file lists its entries: what
pyVoIP does, what we do, the reproducing test.

- ``phone``     the hardened phone, SIP client and calls we answer: F1-F15 (RTP robustness, re-INVITE,
                CANCEL, A-law, OPTIONS, response routing, call end, ports, memory, pacing, Call-IDs,
                audio format, answering, header parsing, REGISTER reading the socket).
- ``register``  F15's socket wrapper and F21 (a registrar outage no longer stops the endpoint).
- ``outbound``  calls we place: F16-F20 (ACK, socket reads, failure responses, CANCEL, codecs).
- ``validate``  F22: every datagram is validated before pyVoIP parses it (RFC 3261 error responses).

Tests: tests/test_telephony_pyvoip_fixes.py, tests/test_telephony_pyvoip_fixes_outbound.py,
tests/test_telephony_sip_validation.py, tests/test_telephony_register.py.
"""
