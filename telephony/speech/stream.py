"""One live transcription stream (see speech.py for the engine, the model and the pool).

`Transcriber.feed` runs on the caller's RTP thread and only classifies 20 ms frames and queues
audio; a worker thread per stream decodes in 0.1 s batches and calls back with partial and final
segments. The energy detector on the feeding side ends an utterance after `endpoint_silence` of
quiet (vosk's own endpointer waits 0.5-2 s) and then gates the quiet that follows out of the
decoder until speech resumes, keeping PREROLL seconds before it: pauses cost no decoding, and the
decoder is never behind when the next sentence starts. Times stay stream times through `_offset`.
"""
from __future__ import annotations

import collections
import json
import logging
import queue
import threading

from telephony.speech.audio import BYTES_PER_SECOND, load_audioop

log = logging.getLogger("telephony.speech.engine")

MIN_BATCH_BYTES = 1600  # 0.1 s: vosk costs ~8 % less CPU per audio-s than with 20 ms calls
MAX_BATCH_BYTES = 3200  # 0.2 s: how much queued audio one AcceptWaveform call takes when behind
MIN_SPEECH = 0.2  # seconds of voiced audio an utterance needs before quiet can end it
VOICE_RMS = 200  # 16-bit RMS a 20 ms frame needs (and 3x the noise floor) to count as voiced
PREROLL = 0.3  # seconds of quiet kept before speech resumes (the onset of the first syllable)
FRAME_BYTES = 320  # 20 ms
_UTTERANCE_END = object()  # queued by feed() after the audio that completes an utterance


class _Resume:
    """Queued by feed() before audio that follows a skipped stretch of quiet: where it starts in
    the stream (seconds), so times stay stream times although the recognizer never saw the gap."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at


class Transcriber:
    """One live stream. `feed` only queues; a worker thread decodes and calls back.

    Callbacks run on the worker thread and get {"text","start","end"} (seconds from stream start).
    Partials are polled every `partial_every` seconds of audio and sent only when the text
    changes; their start is where the current utterance began, their end the audio decoded so far.
    `complete` turns False (and `error` says why) when decoding failed or fell more than
    `engine.max_lag` seconds behind and gave up: transcribe the recording after the call then.
    """

    def __init__(self, engine, rec, on_partial=None, on_final=None):
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
        rms = load_audioop().rms(frame, 2)
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
