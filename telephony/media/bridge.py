"""Copying audio between the legs of one call on the media clock (owned by ``CallSession``).

Every 20 ms tick of ``rtp.MediaEngine`` (before any packet leaves) the bridge takes at most one
received frame per leg from a short jitter buffer and gives every leg the sum of the frames of the
other legs in its group: two legs = a plain bridge, three = a conference, a leg alone in its group
hears nothing. A held leg hears hold audio. The same frames, summed, go to the mixed recording.
The jitter buffer starts playing after PREFILL frames. A frame that is late when its tick comes is
replaced by silence (the frame itself is played when it arrives: nothing is lost, the buffer is one
frame deeper). A buffer that stays deeper than its target for DRAIN_TICKS ticks skips *quiet* frames
(speech pauses) until it is back to its target, the way adaptive jitter buffers shrink; only beyond
MAX_DEPTH are frames dropped whatever they contain. Latency therefore returns to its target after
jitter (at the next pause) and a sender whose clock runs fast never builds up delay (drift 0).
MAX_DEPTH counts beyond what the buffer owes, so that a late frame is delayed, never dropped:
- ticks that found the buffer empty (late frames, played as silence) are a debt: the frames that
  then arrive together are those late ones, kept (up to MAX_DEBT, 1 s) and drained at pauses;
- ticks the media clock itself owes (the process was paused - CPU starvation, a long GIL holder -
  and the clock catches them up back to back) widen the limits the same way.
Only a sender outrunning the clock with no frame missing for a second before (a fast clock, a flood)
is cut to MAX_DEPTH. The debt outlives the buffer's return to its target by DEBT_HOLD: a sender that
stalls while the buffer is deep (it plays the buffer down to its target, no tick finds it empty) and
then sends its late frames at once is paying its debt, not flooding - bench/bridge_load.py at 150
calls on a machine losing CPU to steal lost up to 0.9 % of frames this way when the debt was
forgiven at the first tick at target. A `sip` process starved for 0.2-0.5 s on a busy machine lost
frames on every live call before (its receive thread reading in a burst what the clock had already
played as silence).
"""
from __future__ import annotations

import array
import audioop
import collections
import math
import threading

from telephony.media.rtp import FRAME_BYTES_PCM16, FRAME_SAMPLES

PREFILL = 2
MAX_DEPTH = 8  # 160 ms beyond what is owed: beyond this, frames are dropped whatever they contain
MAX_DEBT = 50  # 1 s of late frames kept at most (the media clock resynchronises after a 1 s stall)
DEBT_HOLD = 50  # the debt is forgiven once the buffer stayed at its target this long (1 s)
DRAIN_TICKS = 5  # a buffer above its target for this long (100 ms) skips its quiet frames
QUIET_RMS = 200  # 16-bit RMS below which a frame counts as a pause (may be skipped)
SILENT = b"\x00" * FRAME_BYTES_PCM16


def mix(frames: list[bytes]) -> bytes | None:
    """16-bit sum with saturation (audioop.add clips instead of wrapping)."""
    if not frames:
        return None
    out = frames[0]
    for frame in frames[1:]:
        out = audioop.add(out, frame, 2)
    return out


def default_hold_music(seconds: float = 4.0) -> bytes:
    """A soft two-note chime (16-bit 8 kHz) for callers on hold or waiting for a transfer when no
    hold/greeting audio is configured: the caller must never hear dead air."""
    samples = array.array("h")
    n = int(8000 * seconds)
    for i in range(n):
        t = i / 8000
        note = 523.25 if (t % 1.0) < 0.5 else 659.25
        envelope = 0.6 + 0.4 * math.cos(2 * math.pi * (t % 0.5) / 0.5)
        samples.append(int(2500 * envelope * math.sin(2 * math.pi * note * t)))
    return samples.tobytes()


class Inbox:
    """One leg's received audio, cut into 20 ms frames, with a small jitter buffer."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self.frames: collections.deque[bytes] = collections.deque()
        self.primed = False
        self._excess = 0
        self.debt = 0  # ticks played as silence for want of a frame, not yet made up (see DEBT_HOLD)
        self._at_target = 0  # consecutive ticks that left the buffer at its target or below
        self.stats = {"frames_in": 0, "frames_out": 0, "underruns": 0, "dropped": 0, "skipped": 0}

    def push(self, pcm16: bytes) -> None:  # RTP receive thread
        self._pending += pcm16
        while len(self._pending) >= FRAME_BYTES_PCM16:
            self.frames.append(bytes(self._pending[:FRAME_BYTES_PCM16]))
            del self._pending[:FRAME_BYTES_PCM16]
            self.stats["frames_in"] += 1

    def take(self, owed: int = 0) -> bytes | None:  # media clock thread
        """This tick's frame; ``owed``: ticks the clock is behind (they will take the backlog)."""
        frames = self.frames
        if not self.primed:
            if len(frames) < PREFILL:
                return None
            self.primed = True
        if not frames:
            self.stats["underruns"] += 1  # late (or lost): silence now, the frame plays on arrival
            self.debt = min(self.debt + 1, MAX_DEBT)
            self._at_target = 0
            return None
        while len(frames) > MAX_DEPTH + max(owed, self.debt):
            frames.popleft()
            self.stats["dropped"] += 1
        if len(frames) > PREFILL + owed:
            self._excess += 1
            if self._excess >= DRAIN_TICKS and audioop.rms(frames[0], 2) < QUIET_RMS:
                frames.popleft()
                self.stats["skipped"] += 1
                self.debt = max(0, self.debt - 1)
        else:
            self._excess = 0
        self.stats["frames_out"] += 1
        frame = frames.popleft()
        if len(frames) <= PREFILL:
            self._at_target += 1
            if self._at_target >= DEBT_HOLD:
                self.debt = 0  # at its target for a second: the late frames were played
        else:
            self._at_target = 0
        return frame

    def clear(self) -> None:
        self.frames.clear()
        self.primed = False


class Bridge:
    """Who hears whom inside one session. ``groups``: sets of leg names talking together;
    ``held``: legs hearing hold audio. Changed under ``lock`` by the session (any thread), read by
    ``tick`` on the media clock."""

    def __init__(self, session, media, hold_audio: bytes, mixed_recorder=None) -> None:
        self.session, self.media = session, media
        self.lock = threading.Lock()
        self.groups: list[set[str]] = []
        self.held: set[str] = set()
        self.fill: set[str] = set()  # hear hold audio until someone in their group is heard
        self.hold_audio = hold_audio or default_hold_music()
        self._hold_pos: dict[str, int] = {}
        self.mixed = mixed_recorder
        self.ticks = 0
        self.running = False

    def start(self) -> None:
        if not self.running:
            self.running = True
            self.media.frame_hooks.append(self.tick)

    def stop(self) -> None:
        self.running = False
        try:
            self.media.frame_hooks.remove(self.tick)
        except ValueError:
            pass

    # -- topology (session, any thread) -------------------------------------------------------------
    def set_groups(self, groups: list[set[str]], held: set[str] | None = None,
                   fill: set[str] | None = None) -> None:
        """``fill``: legs that keep hearing hold audio until the first frame of their new partners
        (a transferred citizen hears no gap while the department's phone starts sending)."""
        with self.lock:
            self.groups = [set(g) for g in groups if g]
            self.held = set(held or ())
            self.fill = set(fill or ())
            for name in self.held | self.fill:
                self._hold_pos.setdefault(name, 0)

    def group_of(self, name: str) -> set[str]:
        with self.lock:
            for group in self.groups:
                if name in group:
                    return set(group)
        return set()

    # -- the 20 ms tick (media clock thread) --------------------------------------------------------
    def tick(self) -> None:
        legs = self.session.legs
        with self.lock:
            groups = [set(g) for g in self.groups]
            held, fill = set(self.held), self.fill
        frames: dict[str, bytes | None] = {}
        owed = getattr(self.media, "owed_ticks", 0)
        for name, leg in list(legs.items()):
            if leg.inbox is not None and not leg.ended:
                frames[name] = leg.inbox.take(owed)
        for group in groups:
            for name in group:
                leg = legs.get(name)
                if leg is None or leg.ended or name in held:
                    continue
                out = mix([frames[o] for o in group if o != name and frames.get(o) is not None])
                if out is not None:
                    leg.call.stream.bridge_out = out
                    fill.discard(name)
                elif name in fill:
                    leg.call.stream.bridge_out = self._hold_frame(name)
        for name in held:
            leg = legs.get(name)
            if leg is not None and not leg.ended:
                leg.call.stream.bridge_out = self._hold_frame(name)
        if self.mixed is not None:
            with self.session._lock:
                if not self.mixed.closed:
                    self.mixed.write(mix([f for f in frames.values() if f is not None]) or SILENT)
        self.ticks += 1

    def _hold_frame(self, name: str) -> bytes:
        audio, pos = self.hold_audio, self._hold_pos.get(name, 0)
        frame = audio[pos:pos + FRAME_BYTES_PCM16]
        if len(frame) < FRAME_BYTES_PCM16:
            frame = (frame + audio)[:FRAME_BYTES_PCM16]
        self._hold_pos[name] = (pos + FRAME_BYTES_PCM16) % max(len(audio), FRAME_BYTES_PCM16)
        return frame


__all__ = ["Bridge", "Inbox", "mix", "default_hold_music", "FRAME_SAMPLES"]
