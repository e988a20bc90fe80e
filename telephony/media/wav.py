"""Reading prompts and greetings: any WAV as the 16-bit 8 kHz mono PCM the media path plays."""
from __future__ import annotations

import audioop
import logging
import os
import wave

log = logging.getLogger("telephony.media")


def load_greeting(path: str | None) -> bytes:
    """The greeting as 16-bit 8 kHz mono PCM; silence (b"") when the file is missing."""
    if not path or not os.path.isfile(path):
        log.warning("greeting.missing path=%s (playing silence)", path)
        return b""
    with wave.open(path, "rb") as w:
        pcm = w.readframes(w.getnframes())
        width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
    if width != 2:
        pcm = audioop.lin2lin(pcm, width, 2)
    if channels == 2:
        pcm = audioop.tomono(pcm, 2, 0.5, 0.5)
    if rate != 8000:
        pcm, _ = audioop.ratecv(pcm, 2, 1, rate, 8000, None)
    return pcm
