"""Regenerate greeting_zh.wav: `python -m telephony.assets.make_greeting [--text TEXT]`.

Debian 12's espeak-ng reads most hanzi as spelled-out pinyin letters, so the text is first
converted to tone-numbered pinyin with pypinyin (requirements-dev.txt) and spoken with the
`cmn-latn-pinyin` voice. sox resamples to 8 kHz mono 16-bit (what the phone line carries) and
appends the short tone the greeting announces. Dithering is off so the file is reproducible.
Needs the espeak-ng and sox Debian packages.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import tempfile

from telephony.assets import GREETING_ZH

TEXT = "您好，这里是12345政务服务便民热线。请在提示音后说出您的诉求，说完请按井号键收听工单号，或直接挂机。"
# 12345 is read digit by digit, with "1" as yao1 as on Chinese phone lines.
DIGITS = {"1": "幺", "2": "二", "3": "三", "4": "四", "5": "五", "6": "六", "7": "七", "8": "八",
          "9": "九", "0": "零"}
PUNCTUATION = {"，": ",", "。": ".", "；": ";", "：": ":", "？": "?", "！": "!", "、": ","}


def to_pinyin(text: str) -> str:
    """Tone-numbered pinyin with ASCII punctuation, the input the cmn-latn-pinyin voice reads."""
    from pypinyin import Style, lazy_pinyin

    text = "".join(DIGITS.get(ch, ch) for ch in text)
    syllables = lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True)
    return " ".join(PUNCTUATION.get(s, s) for s in syllables).replace(" ,", ",").replace(" .", ".")


def make(text: str = TEXT, out: str = GREETING_ZH) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        speech = os.path.join(tmp, "speech.wav")
        subprocess.run(["espeak-ng", "-v", "cmn-latn-pinyin", "-s", "150", "-w", speech, to_pinyin(text)],
                       check=True)
        pcm = ["-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"]
        voice = os.path.join(tmp, "voice.wav")
        subprocess.run(["sox", "-D", speech, *pcm, voice, "norm", "-3"], check=True)
        gap = os.path.join(tmp, "gap.wav")
        subprocess.run(["sox", "-D", "-n", *pcm, gap, "trim", "0", "0.4"], check=True)
        beep = os.path.join(tmp, "beep.wav")
        subprocess.run(["sox", "-D", "-n", *pcm, beep, "synth", "0.4", "sine", "1000", "vol", "0.3"],
                       check=True)
        subprocess.run(["sox", "-D", voice, gap, beep, out], check=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", default=TEXT, help="greeting text in Chinese")
    parser.add_argument("--out", default=GREETING_ZH)
    args = parser.parse_args()
    print("pinyin:", to_pinyin(args.text))
    path = make(args.text, args.out)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
