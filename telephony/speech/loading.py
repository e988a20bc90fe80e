"""Loading the speech engine for a process: the engine, or a stand-in that says why not (calls are
still answered and recorded without it)."""
from __future__ import annotations

import logging

log = logging.getLogger("telephony.speech")


class SpeechOff:
    """Stand-in when the speech module cannot be loaded at all."""

    enabled = False

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def open_stream(self, on_partial, on_final):
        return None

    def close(self) -> None:
        pass


def load_speech(config, prewarm: int | None = None):
    """The speech engine, or a SpeechOff saying why not. ``prewarm``: recognizers to warm up
    (default: one per live slot; post-call workers need none, they never stream live)."""
    try:
        from telephony.speech.engine import SpeechEngine
    except ImportError as exc:
        return SpeechOff(f"语音识别模块不可用（{exc}）")
    engine = SpeechEngine.from_config(config, prewarm=prewarm)
    if engine.enabled:
        log.info("speech.enabled model=%s live_limit=%s", config.vosk_model_dir,
                 config.max_live_transcriptions)
    else:
        log.warning("speech.disabled reason=%s (calls are still recorded)", engine.reason)
    return engine
