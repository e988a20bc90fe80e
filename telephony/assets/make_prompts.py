"""Regenerate the queue prompts: `python -m telephony.assets.make_prompts`.

Same toolchain as the greeting (see make_greeting: espeak-ng's cmn-latn-pinyin voice fed with
pypinyin output, sox to 8 kHz mono 16-bit, no dithering so the files are reproducible). Writes
``queue_*.wav`` (welcome, position 0..9 and "many", voice-intake offers), ``hold_music.wav``
(a soft synthesised tune looped while a caller waits), and the ticket number read back at the end
of voice intake: ``intake_number_intro.wav``, ``digit_0.wav`` … ``digit_9.wav`` (零一二…九, silence
trimmed so ``queue_audio.prompts`` can space them evenly) and ``intake_number_outro.wav``.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import tempfile

from telephony.assets import ASSETS_DIR
from telephony.assets.make_greeting import to_pinyin

NUMBERS = "零一两三四五六七八九"
DIGITS = "零一二三四五六七八九"  # a ticket number is read digit by digit
PROMPTS = {
    "queue_welcome": "您好，12345热线，请稍候。",
    "queue_next": "马上为您接通话务员，请稍候。",
    **{f"queue_position_{n}": f"您前面还有{NUMBERS[n]}位来电在等待，请稍候。" for n in range(1, 10)},
    "queue_position_many": "您前面还有多位来电在等待，请耐心等候。",
    "queue_intake_busy": "话务员全忙。请在提示音后说出您的诉求，我们会尽快处理并回电。说完请按井号键收听工单号，或直接挂机。",
    "queue_intake_closed": "现在是非人工服务时间。请在提示音后说出您的诉求，说完请按井号键收听工单号，或直接挂机。",
    "intake_number_intro": "您的诉求已记录，工单号是：",
    **{f"digit_{d}": DIGITS[d] for d in range(10)},
    "intake_number_outro": "工单号也会用短信发给您。谢谢来电，再见。",
}
TRIMMED = tuple(f"digit_{d}" for d in range(10))
WITH_BEEP = ("queue_intake_busy", "queue_intake_closed")
PCM = ["-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"]


def speak(text: str, out: str, beep: bool, trim: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        speech = os.path.join(tmp, "speech.wav")
        subprocess.run(["espeak-ng", "-v", "cmn-latn-pinyin", "-s", "150", "-w", speech, to_pinyin(text)],
                       check=True)
        voice = os.path.join(tmp, "voice.wav")
        effects = ["silence", "1", "0.02", "1%", "reverse", "silence", "1", "0.02", "1%", "reverse"] if trim else []
        subprocess.run(["sox", "-D", speech, *PCM, voice, *effects, "norm", "-3"], check=True)
        parts = [voice]
        if beep:
            gap, tone = os.path.join(tmp, "gap.wav"), os.path.join(tmp, "beep.wav")
            subprocess.run(["sox", "-D", "-n", *PCM, gap, "trim", "0", "0.4"], check=True)
            subprocess.run(["sox", "-D", "-n", *PCM, tone, "synth", "0.4", "sine", "1000", "vol", "0.3"],
                           check=True)
            parts += [gap, tone]
        subprocess.run(["sox", "-D", *parts, out], check=True)


def hold_music(out: str) -> None:
    """Four seconds: a slow arpeggio of soft sine notes (C E G E), looped by the ACD."""
    with tempfile.TemporaryDirectory() as tmp:
        notes = []
        for i, freq in enumerate((523.25, 659.25, 783.99, 659.25)):
            path = os.path.join(tmp, f"n{i}.wav")
            subprocess.run(["sox", "-D", "-n", *PCM, path, "synth", "1.0", "sine", str(freq), "fade", "q",
                            "0.05", "1.0", "0.3", "vol", "0.15"], check=True)
            notes.append(path)
        subprocess.run(["sox", "-D", *notes, out], check=True)


def make(out_dir: str = ASSETS_DIR) -> list[str]:
    written = []
    for name, text in PROMPTS.items():
        path = os.path.join(out_dir, f"{name}.wav")
        speak(text, path, beep=name in WITH_BEEP, trim=name in TRIMMED)
        written.append(path)
    path = os.path.join(out_dir, "hold_music.wav")
    hold_music(path)
    return written + [path]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=ASSETS_DIR)
    for path in make(parser.parse_args().out_dir):
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
