"""The ticket number read back at the end of voice intake: "您的诉求已记录，工单号是：" + each digit
(零一二…九, ``digit_N.wav``) evenly spaced + "工单号也会用短信发给您…". 16-bit 8 kHz PCM, like
the other prompts (regenerated with ``python -m telephony.assets.make_prompts``)."""
from __future__ import annotations

from dataclasses import dataclass

from telephony.queue_audio.prompts import RATE_BYTES, _load

DIGIT_GAP = b"\x00\x00" * int(0.18 * 8000)  # silence between two digits
PAUSE = b"\x00\x00" * int(0.4 * 8000)  # before the first digit and after the last


@dataclass(frozen=True)
class ReadBack:
    intro: bytes
    digits: tuple[bytes, ...]
    outro: bytes

    @classmethod
    def load(cls) -> "ReadBack":
        return cls(intro=_load("intake_number_intro"), digits=tuple(_load(f"digit_{d}") for d in range(10)),
                   outro=_load("intake_number_outro"))

    def audio(self, number: str) -> bytes:
        if not number.isdigit():
            raise ValueError(f"not a ticket number: {number!r}")
        spoken = DIGIT_GAP.join(self.digits[int(d)] for d in number)
        return self.intro + PAUSE + spoken + PAUSE + self.outro

    def seconds(self, number: str) -> float:
        return len(self.audio(number)) / RATE_BYTES
