"""One owner per call: its legs, recording, transcription, DTMF and timeline.

Today a session has one leg (the citizen). Bridging an operator (issue 7) adds a second leg to the
same session: each leg keeps its own recorder and transcriber (one file and one stream per speaker),
and the session copies frames between legs on the media clock. Nothing else owns call state.
"""
from __future__ import annotations

import audioop
import logging
import os
import threading
import time
import uuid
import wave
from dataclasses import dataclass, field
from datetime import datetime

from ticketing.clock import utcnow

log = logging.getLogger("telephony.session")

RATE = 8000
VOICE_RMS = 300  # 16-bit RMS above which a frame counts as speech (for latency figures)
FINISH_TIMEOUT = 30.0  # seconds to wait for live decoding to catch up after hang-up


class WavRecorder:
    """Streams 16-bit 8 kHz mono PCM to a WAV file; memory use does not grow with the call."""

    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.path = path
        self._wav = wave.open(path, "wb")
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(RATE)
        self.samples = 0
        self.closed = False

    def write(self, pcm16: bytes) -> None:
        self._wav.writeframesraw(pcm16)
        self.samples += len(pcm16) // 2

    def close(self) -> float:
        if not self.closed:
            self.closed = True
            self._wav.close()  # patches the header with the final length
        return self.samples / RATE


@dataclass
class Leg:
    """One party's audio inside a session."""

    name: str
    call: object  # pyvoip_fixes.HardenedCall
    recorder: WavRecorder | None = None
    transcriber: object | None = None
    last_voice: float | None = None  # monotonic time of the last frame with speech energy
    stats: dict = field(default_factory=dict)


class CallSession:
    def __init__(self, call, *, recordings_dir: str, speech, publish) -> None:
        self.call_uuid = uuid.uuid4().hex
        self.sip_call_id = call.call_id
        self.caller, self.called = call.caller, call.called
        self.recordings_dir = recordings_dir
        self.speech, self._publish = speech, publish
        self.ringing_at: datetime = utcnow()
        self.answered_at: datetime | None = None
        self.ended_at: datetime | None = None
        self.answered_mono: float | None = None
        self.ended_mono: float | None = None
        self.cause: str | None = None
        self.dtmf: list[tuple[str, float]] = []
        self.partials: list[dict] = []
        self.final_events: list[dict] = []
        self.transcription = "none"
        self.transcription_note: str | None = None
        self.legs: dict[str, Leg] = {"caller": Leg("caller", call)}
        self._lock = threading.Lock()
        self.final_event_times: list[float] = []
        self.final_latencies: list[float] = []

    @property
    def caller_leg(self) -> Leg:
        return self.legs["caller"]

    def elapsed(self) -> float:
        return 0.0 if self.answered_mono is None else time.monotonic() - self.answered_mono

    # -- lifecycle ---------------------------------------------------------------------------------
    def prepare(self, greeting: bytes | None) -> None:
        """Open recording and transcription and queue the greeting *before* the 200 OK, so the
        first packet the caller sends after it is already recorded."""
        leg = self.caller_leg
        day = utcnow().strftime("%Y/%m/%d")
        leg.recorder = WavRecorder(os.path.join(self.recordings_dir, day, f"{self.call_uuid}-caller.wav"))
        self._open_transcriber(leg)
        stream = leg.call.stream
        stream.on_audio = lambda pcm, leg=leg: self._on_audio(leg, pcm)
        stream.on_dtmf = self._on_dtmf
        if greeting:
            stream.play(greeting)

    def answered(self) -> None:
        self.answered_at, self.answered_mono = utcnow(), time.monotonic()

    def _open_transcriber(self, leg: Leg) -> None:
        if self.speech is None or not self.speech.enabled:
            self.transcription = "off"
            self.transcription_note = getattr(self.speech, "reason", None) or "语音识别未配置"
            return
        leg.transcriber = self.speech.open_stream(self._on_partial, self._on_final)
        if leg.transcriber is None:
            self.transcription = "pending"
            self.transcription_note = "live transcription limit reached; transcribed after the call"
        else:
            self.transcription = "live"

    def _on_audio(self, leg: Leg, pcm: bytes) -> None:
        with self._lock:
            if leg.recorder is None or leg.recorder.closed:
                return
            leg.recorder.write(pcm)
            if leg.transcriber is not None:
                leg.transcriber.feed(pcm)
        if audioop.rms(pcm, 2) >= VOICE_RMS:
            leg.last_voice = time.monotonic()

    def _on_dtmf(self, digit: str) -> None:
        self.dtmf.append((digit, round(self.elapsed(), 3)))

    def _on_partial(self, seg: dict) -> None:
        self.partials.append(seg)
        self._publish("transcript.partial", {"call_id": self.call_uuid, "text": seg["text"],
                                             "start": seg["start"], "end": seg["end"],
                                             "speaker": "caller"})

    def _on_final(self, seg: dict) -> None:
        now = time.monotonic()
        self.final_event_times.append(now)
        voice = self.caller_leg.last_voice
        if voice is not None:
            self.final_latencies.append(now - voice)  # speech end -> final text (bench/sip_load.py)
        self.final_events.append(seg)
        self._publish("transcript.final", {"call_id": self.call_uuid, "text": seg["text"],
                                           "start": seg["start"], "end": seg["end"],
                                           "speaker": "caller"})

    def ended(self, cause: str) -> None:
        """Called on the SIP thread as soon as the call ends (media already stopped)."""
        self.cause = cause
        self.ended_at, self.ended_mono = utcnow(), time.monotonic()

    @property
    def duration(self) -> float:
        if self.answered_mono is None or self.ended_mono is None:
            return 0.0
        return round(self.ended_mono - self.answered_mono, 3)

    def finish(self) -> dict:
        """Close recordings, flush transcription (may take a moment: run off the SIP thread) and
        return the call record for ``service.store_call``."""
        leg = self.caller_leg
        with self._lock:
            seconds = leg.recorder.close() if leg.recorder else None
            transcriber, leg.transcriber = leg.transcriber, None
        segments: list[dict] = []
        if transcriber is not None:
            try:
                segments = transcriber.finish(timeout=FINISH_TIMEOUT)
                if not getattr(transcriber, "complete", True):
                    # shed under load or still far behind: redo it from the recording (Celery)
                    self.transcription = "pending"
                    self.transcription_note = (f"live transcription incomplete ({transcriber.error}); "
                                               "transcribed after the call")[:300]
                    segments = []
            except Exception:  # noqa: BLE001 - a broken recognizer must not lose the call record
                log.exception("call.transcription_failed call=%s", self.call_uuid)
                self.transcription, self.transcription_note = "pending", "live recognizer failed"
                segments = []
        stream = leg.call.stream
        if leg.recorder is not None and self.answered_at is None:  # CANCEL won the race to answer
            os.remove(leg.recorder.path)
            leg.recorder, seconds, segments = None, None, []
        rel = os.path.relpath(leg.recorder.path, self.recordings_dir) if leg.recorder else None
        return {
            "call_uuid": self.call_uuid, "sip_call_id": self.sip_call_id, "caller": self.caller,
            "called": self.called, "codec": leg.call.offer.codec_name(stream.payload_type),
            "ringing_at": self.ringing_at, "answered_at": self.answered_at,
            "ended_at": self.ended_at or utcnow(), "duration": self.duration,
            "cause": self.cause or "unknown", "recording_path": rel, "recording_seconds": seconds,
            "transcription": self.transcription, "transcription_note": self.transcription_note,
            "segments": [dict(s, speaker="caller") for s in segments],
            "dtmf": list(self.dtmf),
            "stats": dict(stream.stats, answer_retransmits=leg.call.retransmits, acked=leg.call.acked),
        }
