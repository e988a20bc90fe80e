"""Who is talking when, from a leg's recording: 20 ms frames louder than the leg's noise floor,
joined across short pauses. Times are seconds after the answer (the recording's ``offset`` added)."""
from __future__ import annotations

import audioop
import wave

FRAME = 0.02
MIN_RMS = 300  # 16-bit RMS: quieter frames are never speech
JOIN_GAP = 0.4  # pauses shorter than this belong to the same stretch of speech
MIN_SPEECH = 0.2  # shorter bursts are clicks, not speech


def speech_intervals(path: str, offset: float = 0.0) -> list[tuple[float, float]]:
    """[(start, end), ...] of speech in a mono 16-bit WAV (the recorder's format)."""
    with wave.open(path, "rb") as wav:
        width, rate = wav.getsampwidth(), wav.getframerate()
        step = int(rate * FRAME)
        levels = []
        while True:
            chunk = wav.readframes(step)
            if len(chunk) < step * width:
                break
            levels.append(audioop.rms(chunk, width))
    if not levels:
        return []
    floor = sorted(levels)[len(levels) // 10]  # the quietest tenth: the line's noise
    threshold = max(MIN_RMS, floor * 4)
    intervals: list[list[float]] = []
    for i, level in enumerate(levels):
        if level < threshold:
            continue
        at = offset + i * FRAME
        if intervals and at - intervals[-1][1] <= JOIN_GAP:
            intervals[-1][1] = at + FRAME
        else:
            intervals.append([at, at + FRAME])
    return [(round(a, 2), round(b, 2)) for a, b in intervals if b - a >= MIN_SPEECH]
