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


def repair_wav(path: str) -> float:
    """Make a recording whose writer died (``kill -9``: the header still says 0 frames) play up to
    its last written byte: set the RIFF and ``data`` sizes from the file's length. Idempotent;
    returns the seconds of 16-bit 8 kHz mono audio it holds. ValueError when it is no WAV file."""
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise ValueError(f"{path}: not a WAV file")
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk = f.read(8)
            name, length = chunk[:4], int.from_bytes(chunk[4:8], "little")
            if name == b"data":
                data = (size - pos - 8) & ~1  # whole 16-bit samples
                f.seek(pos + 4)
                f.write(data.to_bytes(4, "little"))
                f.seek(4)
                f.write((pos + 8 + data - 8).to_bytes(4, "little"))
                f.truncate(pos + 8 + data)
                return data / 2 / 8000
            pos += 8 + length + (length & 1)
    raise ValueError(f"{path}: no data chunk")
