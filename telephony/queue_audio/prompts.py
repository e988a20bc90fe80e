"""The queue's audio: welcome, positions, voice-intake offers and hold music (16-bit 8 kHz PCM).

The WAVs are in ``telephony/assets`` and are regenerated with ``python -m telephony.assets.make_prompts``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from telephony.assets import ASSETS_DIR
from telephony.media.wav import load_greeting

RATE_BYTES = 16000  # bytes per second of 16-bit 8 kHz mono


def _load(name: str) -> bytes:
    return load_greeting(os.path.join(ASSETS_DIR, f"{name}.wav"))


@dataclass(frozen=True)
class Prompts:
    welcome: bytes
    next: bytes
    positions: tuple[bytes, ...]  # index n: "n callers ahead of you" (1..9)
    many: bytes
    intake_busy: bytes
    intake_closed: bytes
    hold: bytes

    @classmethod
    def load(cls) -> "Prompts":
        return cls(welcome=_load("queue_welcome"), next=_load("queue_next"),
                   positions=(b"",) + tuple(_load(f"queue_position_{n}") for n in range(1, 10)),
                   many=_load("queue_position_many"), intake_busy=_load("queue_intake_busy"),
                   intake_closed=_load("queue_intake_closed"), hold=_load("hold_music"))

    @property
    def welcome_seconds(self) -> float:
        return len(self.welcome) / RATE_BYTES

    def position(self, ahead: int) -> bytes:
        if ahead <= 0:
            return self.next
        return self.positions[ahead] if ahead < len(self.positions) else self.many
