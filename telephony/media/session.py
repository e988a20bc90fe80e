"""One owner per call: its legs, recording, transcription, DTMF, bridge and timeline.

The citizen's leg comes first (voice intake, queue). Bridging an operator adds a second leg to the
same session (``bridge``): each leg keeps its own recorder and transcriber (one file and one
stream per speaker), ``telephony.media.bridge.Bridge`` copies frames between legs on the media clock and
writes the mixed file, and transfers/three-party calls (``telephony.media.transfers``) only regroup
legs. Nothing else owns call state.
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

from hotline.clock import utcnow

from telephony.media.bridge import Bridge, Inbox
from telephony.media.transfers import TransfersMixin

log = logging.getLogger("telephony.media.session")

RATE = 8000
VOICE_RMS = 300  # 16-bit RMS above which a frame counts as speech (for latency figures)
FINISH_TIMEOUT = 30.0  # seconds to wait for live decoding to catch up after hang-up


class WavRecorder:
    """Streams 16-bit 8 kHz mono PCM to a WAV file; memory use does not grow with the call."""

    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.path = path
        self._file = open(path, "wb")  # noqa: SIM115 - closed in close(); flushed once a second
        self._wav = wave.open(self._file, "wb")
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(RATE)
        self.samples = 0
        self._flushed = 0
        self.closed = False

    def write(self, pcm16: bytes) -> None:
        self._wav.writeframesraw(pcm16)
        self.samples += len(pcm16) // 2
        if self.samples - self._flushed >= RATE:  # once a second: a killed process loses < 1 s
            self._flushed = self.samples
            self._file.flush()

    def close(self) -> float:
        if not self.closed:
            self.closed = True
            self._wav.close()  # patches the header with the final length
            self._file.close()
        return self.samples / RATE


@dataclass
class Leg:
    """One party's audio inside a session."""

    name: str
    call: object  # telephony.sip.pyvoip.phone.HardenedCall
    recorder: WavRecorder | None = None
    transcriber: object | None = None
    last_voice: float | None = None  # monotonic time of the last frame with speech energy
    stats: dict = field(default_factory=dict)
    extension: str = ""
    offset: float = 0.0  # seconds after the answer when this leg joined (its files start there)
    inbox: Inbox | None = None  # received frames waiting for the bridge's next tick
    ended: bool = False
    cause: str | None = None
    released: bool = False  # we hung it up on purpose (transfer, cancel): not a party leaving
    segments: list = field(default_factory=list)


class CallSession(TransfersMixin):
    def __init__(self, call, *, recordings_dir: str, speech, publish, media=None, dialer=None,
                 hold_audio: bytes = b"", emergency_numbers: dict | None = None) -> None:
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
        self._lock = threading.RLock()
        self.final_event_times: list[float] = []
        self.final_latencies: list[float] = []
        self.media, self.dialer = media, dialer
        self.emergency_numbers = dict(emergency_numbers or {})
        self.bridge_engine: Bridge | None = None
        self._hold_audio = hold_audio
        self.mixed = None  # WavRecorder of the conversation (all legs summed), from the first bridge
        self.mixed_offset = 0.0
        self.held = False
        self.hold_seconds = 0.0
        self._day: str | None = None  # the recordings' day folder, fixed when the call is prepared
        self._hold_started: float | None = None
        self.hold_intervals: list[tuple[float, float]] = []  # (start, end), seconds after the answer
        self.hangup_side: str | None = None  # citizen | operator | system
        self.on_leg_ended = None  # optional hook(session, leg, cause) replacing the default policy
        self.on_key = None  # optional hook(session, digit) on each caller key press (RTP thread: be quick)
        self.readback: str | None = None  # "pending", then the ticket number read back to the caller
        self.pending_dials: list = []  # DialResults still ringing (cancelled when the caller leaves)
        self.consulting: str | None = None  # leg name being consulted (telephony.media.transfers)

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
        self._day = day
        self._open_transcriber(leg)
        stream = leg.call.stream
        stream.on_audio = lambda pcm, leg=leg: self._on_audio(leg, pcm)
        stream.on_dtmf = self._on_dtmf
        if greeting:
            stream.play(greeting)

    def _recording_path(self, name: str) -> str:
        """``<recordings>/<day the call was prepared>/<call>-<leg or mixed>.wav``."""
        return os.path.join(self.recordings_dir, self._day or utcnow().strftime("%Y/%m/%d"),
                            f"{self.call_uuid}-{name}.wav")

    def answered(self) -> None:
        self.answered_at, self.answered_mono = utcnow(), time.monotonic()

    def _open_transcriber(self, leg: Leg) -> None:
        if self.speech is None or not self.speech.enabled:
            self.transcription = "off"
            self.transcription_note = getattr(self.speech, "reason", None) or "语音识别未配置"
            return
        leg.transcriber = self.speech.open_stream(
            lambda seg, leg=leg: self._on_partial(seg, leg), lambda seg, leg=leg: self._on_final(seg, leg))
        if leg.name != "caller":
            return  # the call's transcription state is the citizen's (the draft ticket's source)
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
        if leg.inbox is not None:
            leg.inbox.push(pcm)
        if audioop.rms(pcm, 2) >= VOICE_RMS:
            leg.last_voice = time.monotonic()

    def _on_dtmf(self, digit: str) -> None:
        self.dtmf.append((digit, round(self.elapsed(), 3)))
        if self.on_key is not None:
            self.on_key(self, digit)

    def _on_partial(self, seg: dict, leg: Leg | None = None) -> None:
        leg = leg or self.caller_leg
        if leg.name == "caller":
            self.partials.append(seg)
        self._publish("transcript.partial", {"call_id": self.call_uuid, "text": seg["text"],
                                             "start": round(seg["start"] + leg.offset, 3),
                                             "end": round(seg["end"] + leg.offset, 3),
                                             "speaker": self._speaker(leg)})

    def _on_final(self, seg: dict, leg: Leg | None = None) -> None:
        leg = leg or self.caller_leg
        now = time.monotonic()
        if leg.name == "caller":
            self.final_event_times.append(now)
            voice = leg.last_voice
            if voice is not None:
                self.final_latencies.append(now - voice)  # speech end -> final text (bench/sip_load.py)
            self.final_events.append(seg)
        self._publish("transcript.final", {"call_id": self.call_uuid, "text": seg["text"],
                                           "start": round(seg["start"] + leg.offset, 3),
                                           "end": round(seg["end"] + leg.offset, 3),
                                           "speaker": self._speaker(leg)})

    @staticmethod
    def _speaker(leg: Leg) -> str:
        """The speaker label of a leg: caller, operator, department, emergency (numbered legs of
        the same kind, e.g. department2, keep the kind as label)."""
        return leg.name.rstrip("0123456789") or leg.name

    # -- the bridge ----------------------------------------------------------------------------------
    def _new_leg_name(self, speaker: str) -> str:
        name, n = speaker, 1
        while name in self.legs:
            n += 1
            name = f"{speaker}{n}"
        return name

    def add_leg(self, call, speaker: str = "operator", *, extension: str = "") -> Leg | None:
        """Take an answered outbound call (``DialResult.leg``) into the session: its own recording
        and transcriber; audio goes to its inbox for the bridge. Not connected to anyone yet.
        None (and the leg hung up) when the citizen has already left."""
        if self.ended_mono is not None:  # the citizen left while this leg was being set up
            try:
                call.hangup("caller_hangup")
            except Exception:  # noqa: BLE001 - it ended too
                pass
            return None
        name = self._new_leg_name(speaker)
        leg = Leg(name, call, extension=extension or getattr(call, "number", ""), offset=round(self.elapsed(), 3))
        try:
            leg.recorder = WavRecorder(self._recording_path(name))
        except Exception:  # the leg's port is released with its call, not left to the RTP timeout
            log.exception("call.leg_recording_failed call=%s leg=%s", self.call_uuid, name)
            try:
                call.hangup("recording_failed")
            except Exception:  # noqa: BLE001 - it ended meanwhile
                pass
            raise
        leg.inbox = Inbox()
        self._open_transcriber(leg)
        call.app = self
        call.stream.on_audio = lambda pcm, leg=leg: self._on_audio(leg, pcm)
        with self._lock:
            self.legs[name] = leg
        call.ended_callbacks.append(self._leg_call_ended)
        if call.state.name != "ANSWERED":  # hung up before we took it
            self._leg_call_ended(call, call.end_cause or "remote_hangup")
        self._ensure_bridge()
        return leg

    def _ensure_bridge(self) -> Bridge:
        with self._lock:
            if self.bridge_engine is None:
                if self.media is None:
                    self.media = self.caller_leg.call.phone.media
                self.mixed_offset = round(self.elapsed(), 3)
                self.mixed = WavRecorder(self._recording_path("mixed"))
                self.bridge_engine = Bridge(self, self.media, self._hold_audio, self.mixed)
                caller = self.caller_leg
                if caller.inbox is None:
                    caller.inbox = Inbox()
                self.bridge_engine.start()
            return self.bridge_engine

    def bridge(self, call, speaker: str = "operator", *, extension: str = "") -> Leg | None:
        """Connect the citizen with an answered outbound leg: both directions on the media clock,
        one recording and one transcript per speaker plus the mixed file. Publishes call.bridged.
        None when the citizen already hung up (the leg is hung up too)."""
        leg = self.add_leg(call, speaker, extension=extension)
        if leg is None:
            return None
        self.caller_leg.call.stream.clear_output()  # greeting / queue prompts stop here
        self._end_hold()
        self.bridge_engine.set_groups([{"caller", leg.name}])
        self._publish("call.bridged", {"call_id": self.call_uuid, "leg": leg.name,
                                       "extension": leg.extension, "speaker": self._speaker(leg)})
        log.info("call.bridged call=%s leg=%s ext=%s", self.call_uuid, leg.name, leg.extension)
        return leg

    def live_legs(self, *, exclude: tuple[str, ...] = ()) -> list[Leg]:
        return [leg for name, leg in list(self.legs.items())
                if name not in exclude and not leg.ended and name != "caller"]

    def hold(self) -> bool:
        """The citizen hears hold audio; the other parties hear nothing from them. Time counted."""
        if self.bridge_engine is None or self.held:
            return False
        engine = self.bridge_engine
        groups = [g - {"caller"} for g in engine.groups]
        engine.set_groups([g for g in groups if len(g) > 1], held={"caller"})
        self.held, self._hold_started = True, time.monotonic()
        self._publish("call.hold", {"call_id": self.call_uuid, "held": True})
        return True

    def resume(self) -> bool:
        """Back to talking with the operator (the leg the citizen was bridged to)."""
        if not self.held:
            return False
        partners = [leg.name for leg in self.live_legs() if leg.name != self.consulting]
        self.bridge_engine.set_groups([{"caller", *partners[:1]}] if partners else [{"caller"}])
        self._end_hold()
        return True

    def _end_hold(self) -> None:
        if self.held:
            self.held = False
            if self._hold_started is not None:
                now = time.monotonic()
                self.hold_seconds += now - self._hold_started
                if self.answered_mono is not None:  # seconds after the answer, for call inspection
                    self.hold_intervals.append((round(self._hold_started - self.answered_mono, 2),
                                                round(now - self.answered_mono, 2)))
            self._hold_started = None
            self._publish("call.hold", {"call_id": self.call_uuid, "held": False,
                                        "hold_seconds": round(self.hold_seconds, 3)})

    def _leg_call_ended(self, call, cause: str) -> None:
        """An outbound leg ended (their BYE, our hangup, RTP timeout)."""
        leg = next((l for l in list(self.legs.values()) if l.call is call), None)
        if leg is None or leg.ended:
            return
        with self._lock:
            leg.ended, leg.cause = True, cause
        if self.bridge_engine is not None:
            engine = self.bridge_engine
            engine.set_groups([g - {leg.name} for g in engine.groups], held=engine.held)
        self._publish("call.leg_ended", {"call_id": self.call_uuid, "leg": leg.name,
                                         "extension": leg.extension, "cause": cause,
                                         "speaker": self._speaker(leg)})
        log.info("call.leg_ended call=%s leg=%s cause=%s", self.call_uuid, leg.name, cause)
        if self.ended_mono is not None or leg.released:
            return
        if self.on_leg_ended is not None:
            self.on_leg_ended(self, leg, cause)
        else:
            self.after_leg_lost(leg, cause)

    def hangup(self, cause: str = "operator_hangup") -> None:
        """End the whole call: every leg, the citizen last (the console's hang-up)."""
        self.hangup_side = self.hangup_side or ("operator" if cause == "operator_hangup" else "system")
        for leg in self.live_legs():
            self.release_leg(leg, cause)
        try:
            self.caller_leg.call.hangup(cause)
        except Exception:  # noqa: BLE001 - already ended
            pass

    def release_leg(self, leg: Leg, cause: str) -> None:
        """Hang up one outbound leg on purpose (no 'party left' policy runs)."""
        leg.released = True
        try:
            if leg.call.state.name == "ANSWERED":
                leg.call.hangup(cause)
            else:
                leg.call.cancel(cause)
        except Exception:  # noqa: BLE001 - it ended meanwhile
            pass

    def ended(self, cause: str) -> None:
        """Called on the SIP thread as soon as the citizen's leg ends (media already stopped):
        every other leg and every pending dial is ended too."""
        self.cause = cause
        self.ended_at, self.ended_mono = utcnow(), time.monotonic()
        if self.hangup_side is None:
            self.hangup_side = "citizen" if cause == "caller_hangup" else "system"
        self._end_hold()
        for result in list(self.pending_dials):
            threading.Thread(target=result.cancel, daemon=True).start()
        for leg in self.live_legs():
            self.release_leg(leg, "caller_hangup" if cause == "caller_hangup" else cause)
        if self.bridge_engine is not None:
            self.bridge_engine.stop()

    @property
    def duration(self) -> float:
        if self.answered_mono is None or self.ended_mono is None:
            return 0.0
        return round(self.ended_mono - self.answered_mono, 3)

    def finish(self) -> dict:
        """Close recordings, flush transcription (may take a moment: run off the SIP thread) and
        return the call record for ``service.store_call``. Segments of every leg are labelled with
        the speaker and timed from the answer; ``legs`` and ``mixed_recording_path`` describe the
        bridge's files."""
        if self.bridge_engine is not None:
            self.bridge_engine.stop()
        leg = self.caller_leg
        with self._lock:
            seconds = leg.recorder.close() if leg.recorder else None
            transcriber, leg.transcriber = leg.transcriber, None
            mixed_seconds = self.mixed.close() if self.mixed is not None else None
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
        segments = [dict(s, speaker="caller") for s in segments]
        legs = []
        for other in [l for name, l in list(self.legs.items()) if name != "caller"]:
            legs.append(self._finish_leg(other, segments))
        segments.sort(key=lambda s: (s["start"], s["end"]))
        return {
            "call_uuid": self.call_uuid, "sip_call_id": self.sip_call_id, "caller": self.caller,
            "called": self.called, "codec": leg.call.offer.codec_name(stream.payload_type),
            "ringing_at": self.ringing_at, "answered_at": self.answered_at,
            "ended_at": self.ended_at or utcnow(), "duration": self.duration,
            "cause": self.cause or "unknown", "recording_path": rel, "recording_seconds": seconds,
            "transcription": self.transcription, "transcription_note": self.transcription_note,
            "segments": segments,
            "dtmf": list(self.dtmf),
            "stats": dict(stream.stats, answer_retransmits=leg.call.retransmits, acked=leg.call.acked,
                          hold_intervals=list(self.hold_intervals),
                          **({"bridge": self._bridge_stats()} if self.bridge_engine else {})),
            "legs": legs, "hold_seconds": round(self.hold_seconds, 3), "hangup_side": self.hangup_side,
            "mixed_recording_path": (os.path.relpath(self.mixed.path, self.recordings_dir)
                                     if self.mixed is not None else None),
            "mixed_offset": self.mixed_offset if self.mixed is not None else None,
            "mixed_seconds": mixed_seconds,
        }

    def _finish_leg(self, leg: Leg, segments: list[dict]) -> dict:
        with self._lock:
            seconds = leg.recorder.close() if leg.recorder else None
            transcriber, leg.transcriber = leg.transcriber, None
        if transcriber is not None:
            try:
                found = transcriber.finish(timeout=FINISH_TIMEOUT)
                if getattr(transcriber, "complete", True):
                    speaker = self._speaker(leg)
                    segments.extend(dict(s, speaker=speaker, start=round(s["start"] + leg.offset, 3),
                                         end=round(s["end"] + leg.offset, 3)) for s in found)
            except Exception:  # noqa: BLE001
                log.exception("call.transcription_failed call=%s leg=%s", self.call_uuid, leg.name)
        return {"leg": leg.name, "speaker": self._speaker(leg), "extension": leg.extension,
                "offset": leg.offset, "cause": leg.cause,
                "recording_path": os.path.relpath(leg.recorder.path, self.recordings_dir) if leg.recorder else None,
                "recording_seconds": seconds, "stats": dict(leg.call.stream.stats),
                "inbox": dict(leg.inbox.stats) if leg.inbox else None,
                "ok_retransmits": getattr(leg.call, "ok_retransmits", 0)}

    def _bridge_stats(self) -> dict:
        caller = self.caller_leg
        return {"ticks": self.bridge_engine.ticks, "caller_inbox": dict(caller.inbox.stats) if caller.inbox else None}
