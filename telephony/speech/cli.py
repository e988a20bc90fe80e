"""`hotline speech check`: does the configured vosk model load, and if not, why.

Listed in telephony/cli.py COMMANDS as `speech_group`.
"""
from __future__ import annotations

import logging
import sys
import time

import click


@click.group("speech")
def speech_group() -> None:
    """Speech recognition (vosk)."""


@speech_group.command("check")
@click.option("--wav", "wav_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="also transcribe this WAV file (8 kHz or 16 kHz, mono) as a smoke test")
def check(wav_path: str | None) -> None:
    """Load the model from VOSK_MODEL_DIR; exit 1 with the reason when it is not usable."""
    from hotline.config import Config

    from telephony.speech.engine import SpeechEngine, transcribe_wav

    logging.getLogger("telephony.speech.engine").setLevel(logging.ERROR)  # this command says it itself
    config = Config.from_env()
    click.echo(f"VOSK_MODEL_DIR={config.vosk_model_dir or '(not set)'}")
    click.echo(f"HOTLINE_MAX_LIVE_TRANSCRIPTIONS={config.max_live_transcriptions}")
    started = time.monotonic()
    engine = SpeechEngine.from_config(config, prewarm=0)
    if not engine.enabled:
        click.echo(f"transcription OFF: {engine.reason}", err=True)
        click.echo("Calls are still answered and recorded; see README 'Speech model'.", err=True)
        sys.exit(1)
    click.echo(f"model loaded in {time.monotonic() - started:.1f} s; live transcription ON "
               f"for up to {engine.max_live} concurrent calls")
    if engine.warning:
        click.echo(f"WARNING: {engine.warning}", err=True)
    if wav_path:
        segments = transcribe_wav(engine, wav_path)
        for segment in segments:
            click.echo(f"[{segment['start']:7.2f} - {segment['end']:7.2f}] {segment['text']}")
        if not segments:
            click.echo("(no speech recognised)")
    engine.close()


COMMANDS = [speech_group]
