"""SIP signalling: everything that speaks SIP.

- ``pyvoip/``  every correction of pyVoIP 1.6.8, in one place (see its index).
- ``dialer``   calls we place through the proxy (operators, departments, emergency numbers).
- ``sdp``      parsing and writing session descriptions.
- ``proxy``    the development/test Kamailio (``kamailio/``) and ``sip_request`` for out-of-dialog
               requests; ``proxy_cli`` is ``hotline sip-proxy``.
"""
