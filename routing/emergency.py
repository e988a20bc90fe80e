"""The emergency services an operator can hand a caller to, and what each is called: the one table
(the console's transfer directory and its validation, telephony's emergency transfer and the
ticket history, the classifier's flag all use it). Where the SIP proxy reaches each number is
configuration (``HOTLINE_EMERGENCY_NUMBERS``)."""
from __future__ import annotations

SERVICES = {"110": "公安报警", "119": "消防", "120": "医疗急救", "122": "交通事故"}
NUMBERS = tuple(SERVICES)


def label(number: str) -> str | None:
    return SERVICES.get(number)
