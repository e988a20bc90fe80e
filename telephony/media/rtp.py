"""RTP media for every call of the process: one receive thread, one 20 ms send clock.

pyVoIP runs two threads per stream, buffers every packet of the call in memory and paces its
sender with relative sleeps (it drifts). This engine replaces that part of pyVoIP (wired in by
``telephony.sip.pyvoip.phone``): a selector thread reads all RTP sockets and hands decoded 16-bit PCM
straight to the stream's sink, and a single clock thread sends one packet per stream on an absolute
20 ms schedule. Nothing is buffered beyond the bounded outgoing queue, so memory stays flat however
long a call lasts.
"""
from __future__ import annotations

import audioop
import collections
import logging
import os
import random
import selectors
import socket
import struct
import threading
import time
from typing import Callable

log = logging.getLogger("telephony.media.rtp")

FRAME_MS = 20
FRAME_SAMPLES = 160  # 8 kHz * 20 ms
FRAME_BYTES_PCM16 = FRAME_SAMPLES * 2
PCMU, PCMA = 0, 8
SILENCE = {PCMU: b"\xff" * FRAME_SAMPLES, PCMA: b"\xd5" * FRAME_SAMPLES}
DTMF_KEYS = "0123456789*#ABCD"
MAX_GAP_SAMPLES = 8000 * 5  # a timestamp jump bigger than this is a new timeline, not a loss
MAX_OUT_FRAMES = 50 * 120  # at most two minutes of queued prompt audio per stream

AudioSink = Callable[[bytes], None]
DtmfSink = Callable[[str], None]


def decode(payload_type: int, payload: bytes) -> bytes:
    """G.711 payload -> 16-bit little-endian PCM (the full resolution of the codec)."""
    if payload_type == PCMA:
        return audioop.alaw2lin(payload, 2)
    return audioop.ulaw2lin(payload, 2)


def encode(payload_type: int, pcm16: bytes) -> bytes:
    if payload_type == PCMA:
        return audioop.lin2alaw(pcm16, 2)
    return audioop.lin2ulaw(pcm16, 2)


class RtpStream:
    """One RTP session (one leg's audio): a bound UDP socket, receive decoding, send state."""

    def __init__(self, local_ip: str, port: int, remote: tuple[str, int], payload_type: int,
                 dtmf_payload_type: int | None, on_audio: AudioSink | None = None,
                 on_dtmf: DtmfSink | None = None) -> None:
        self.local_ip, self.port = local_ip, port
        self.remote = remote
        self.payload_type = payload_type
        self.dtmf_payload_type = dtmf_payload_type
        self.on_audio, self.on_dtmf = on_audio, on_dtmf
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((local_ip, port))
        self.sock.setblocking(False)
        self.closed = False
        self.sending = False
        self._out: collections.deque[bytes] = collections.deque(maxlen=MAX_OUT_FRAMES)
        self._out_lock = threading.Lock()
        self.bridge_out: bytes | None = None  # this tick's frame from the call's bridge (session)
        self.seq = random.randint(0, 0xFFFF)
        self.ts = random.randint(0, 0xFFFFFFFF)
        self.ssrc = random.randint(1, 0xFFFFFFFF)
        # receive timeline
        self._rx_ssrc: int | None = None
        self._next_ts: int | None = None
        self._dtmf_key: tuple | None = None
        self._dtmf_ended = False
        self.stats = {"packets_in": 0, "bad_datagrams": 0, "late": 0, "gap_samples": 0,
                      "samples_in": 0, "packets_out": 0, "dtmf": 0, "other_payload": 0, "send_errors": 0}
        self.last_rx = time.monotonic()
        self.started = time.monotonic()
        self.first_out = self.last_out = 0.0  # media clock ticks of the first and last packet sent

    # -- receive ----------------------------------------------------------------------------------
    def handle_datagram(self, data: bytes) -> None:
        """Parse one datagram; anything malformed is counted and dropped, never raised."""
        if len(data) < 12 or data[0] >> 6 != 2:
            self.stats["bad_datagrams"] += 1
            return
        cc = data[0] & 0x0F
        offset = 12 + 4 * cc
        if data[0] & 0x10:  # header extension
            if len(data) < offset + 4:
                self.stats["bad_datagrams"] += 1
                return
            offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
        end = len(data)
        if data[0] & 0x20:  # padding
            pad = data[-1]
            end -= pad
        if offset > end:
            self.stats["bad_datagrams"] += 1
            return
        marker_pt = data[1]
        pt = marker_pt & 0x7F
        ts, ssrc = struct.unpack_from("!II", data, 4)
        payload = data[offset:end]
        self.last_rx = time.monotonic()
        if pt == self.dtmf_payload_type:
            self._handle_event(ts, payload)
            return
        if pt not in (PCMU, PCMA):
            self.stats["other_payload"] += 1
            return
        if not payload:
            self.stats["bad_datagrams"] += 1
            return
        self.stats["packets_in"] += 1
        pcm = decode(pt, payload)
        samples = len(payload)
        if ssrc != self._rx_ssrc or self._next_ts is None:
            self._rx_ssrc, self._next_ts = ssrc, ts
        delta = (ts - self._next_ts) & 0xFFFFFFFF
        if delta >= 0x80000000:  # behind the timeline: late or duplicate packet
            self.stats["late"] += 1
            return
        if 0 < delta <= MAX_GAP_SAMPLES:
            self.stats["gap_samples"] += delta
            self._emit(b"\x00\x00" * delta)
        self._next_ts = (ts + samples) & 0xFFFFFFFF
        self.stats["samples_in"] += samples
        self._emit(pcm)

    def _emit(self, pcm: bytes) -> None:
        if self.on_audio is not None:
            self.on_audio(pcm)

    def _handle_event(self, ts: int, payload: bytes) -> None:
        """RFC 4733 telephone-event: one digit per event, whatever the retransmissions."""
        if len(payload) < 4 or payload[0] > 15:
            self.stats["bad_datagrams"] += 1
            return
        code, ended = payload[0], bool(payload[1] & 0x80)
        key = (ts, code)
        new = key != self._dtmf_key or (self._dtmf_ended and not ended)
        if new:
            self._dtmf_key = key
            self.stats["dtmf"] += 1
            if self.on_dtmf is not None:
                self.on_dtmf(DTMF_KEYS[code])
        self._dtmf_ended = ended

    # -- send -------------------------------------------------------------------------------------
    def play(self, pcm16: bytes) -> None:
        """Queue 16-bit 8 kHz PCM for sending (split into 20 ms frames, last one padded)."""
        with self._out_lock:
            for i in range(0, len(pcm16), FRAME_BYTES_PCM16):
                frame = pcm16[i:i + FRAME_BYTES_PCM16]
                if len(frame) < FRAME_BYTES_PCM16:
                    frame += b"\x00" * (FRAME_BYTES_PCM16 - len(frame))
                self._out.append(frame)

    def clear_output(self) -> None:
        with self._out_lock:
            self._out.clear()

    @property
    def queued_frames(self) -> int:
        return len(self._out)

    def next_packet(self) -> bytes:
        """Queued prompt audio first, else the frame the bridge set for this tick, else silence."""
        frame, self.bridge_out = self.bridge_out, None
        try:
            frame = self._out.popleft()
        except IndexError:
            pass
        if frame is None:
            payload = SILENCE.get(self.payload_type, SILENCE[PCMU])
        else:
            payload = encode(self.payload_type, frame)
        header = struct.pack("!BBHII", 0x80, self.payload_type, self.seq, self.ts, self.ssrc)
        self.seq = (self.seq + 1) & 0xFFFF
        self.ts = (self.ts + FRAME_SAMPLES) & 0xFFFFFFFF
        return header + payload

    def close(self) -> None:
        self.closed = True
        self.sending = False
        try:
            self.sock.close()
        except OSError:
            pass


class MediaEngine:
    """The process-wide RTP threads. Streams are added when a call is answered, removed at its end."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._streams: set[RtpStream] = set()
        self._running = False
        self._threads: list[threading.Thread] = []
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self.late_ticks = 0
        self.lateness = self._new_lateness()  # how late the clock's ticks started (benches read it)
        #: ticks the clock still owes after the current one (it was paused and is catching up):
        #: frames that arrived meanwhile are not excess (``bridge.Inbox.take``)
        self.owed_ticks = 0
        self.tick_listeners: list[Callable[[], None]] = []
        # called on every 20 ms tick before any packet is sent (call bridges copy frames there)
        self.frame_hooks: list[Callable[[], None]] = []

    @staticmethod
    def _new_lateness() -> dict:
        return {"ticks": 0, "late_20ms": 0, "late_100ms": 0, "max_ms": 0.0}

    def reset_lateness(self) -> None:
        self.lateness = self._new_lateness()

    def start(self) -> None:
        if self._running:
            return
        self._running = True
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        for name, target in (("rtp-recv", self._recv_loop), ("rtp-clock", self._send_loop)):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._running = False
        os.write(self._wake_w, b"x")
        for t in self._threads:
            t.join(timeout=2)
        self._threads.clear()
        with self._lock:
            for stream in list(self._streams):
                self._remove_locked(stream)
        try:
            self._selector.unregister(self._wake_r)
        except (KeyError, ValueError):
            pass

    def add(self, stream: RtpStream) -> None:
        with self._lock:
            self._streams.add(stream)
            self._selector.register(stream.sock, selectors.EVENT_READ, stream)
        os.write(self._wake_w, b"x")

    def remove(self, stream: RtpStream) -> None:
        """Stop receiving and sending for a stream and close its socket (its port is free again)."""
        with self._lock:
            self._remove_locked(stream)

    def _remove_locked(self, stream: RtpStream) -> None:
        if stream in self._streams:
            # the far end got packets_out - 1 intervals in send_span seconds (50.00/s: the clock kept time)
            stream.stats["send_span"] = round(stream.last_out - stream.first_out, 4)
            self._streams.discard(stream)
            try:
                self._selector.unregister(stream.sock)
            except (KeyError, ValueError):
                pass
        stream.close()

    @property
    def stream_count(self) -> int:
        return len(self._streams)

    def _recv_loop(self) -> None:
        while self._running:
            try:
                events = self._selector.select(timeout=0.5)
            except OSError:
                continue
            for key, _mask in events:
                stream = key.data
                if stream is None:
                    try:
                        os.read(self._wake_r, 4096)
                    except BlockingIOError:
                        pass
                    continue
                for _ in range(64):
                    if stream.closed:
                        break
                    try:
                        data = stream.sock.recv(2048)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:  # closed meanwhile, or an ICMP error reported on UDP
                        break
                    try:
                        stream.handle_datagram(data)
                    except Exception:  # a sink failure must not kill the receive thread
                        log.exception("rtp.sink_failed port=%s", stream.port)

    def _send_loop(self) -> None:
        period = FRAME_MS / 1000
        next_at = time.monotonic()
        ticks = 0
        while self._running:
            late = time.monotonic() - next_at  # this tick's start behind its schedule
            next_at += period
            # ticks still due after this one (late by a period or more): the hooks' debt
            self.owed_ticks = int(late / period) if late >= period else 0
            lateness = self.lateness
            lateness["ticks"] += 1
            if late > 0.02:
                lateness["late_20ms"] += 1
                if late > 0.1:
                    lateness["late_100ms"] += 1
                if late * 1000 > lateness["max_ms"]:
                    lateness["max_ms"] = round(late * 1000, 1)
            for hook in list(self.frame_hooks):
                try:
                    hook()
                except Exception:
                    log.exception("rtp.frame_hook_failed")
            with self._lock:
                streams = [s for s in self._streams if s.sending]
            now = time.monotonic()
            for stream in streams:
                try:
                    stream.sock.sendto(stream.next_packet(), stream.remote)
                    if not stream.stats["packets_out"]:
                        stream.first_out = now
                    stream.stats["packets_out"] += 1
                    stream.last_out = now
                except OSError:  # closed meanwhile, ICMP error reported, no buffer: the frame is lost
                    stream.stats["send_errors"] += 1
            ticks += 1
            if ticks % 50 == 0:
                for listener in list(self.tick_listeners):
                    try:
                        listener()
                    except Exception:
                        log.exception("rtp.tick_listener_failed")
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1.0:  # stalled for long: resynchronise (shorter stalls are caught up)
                self.late_ticks += 1
                next_at = time.monotonic()


class PortPool:
    """RTP ports of a configured range; a port is reused only after its call released it."""

    def __init__(self, low: int, high: int) -> None:
        if low > high:
            raise ValueError("SIP_RTP_LOW must be <= SIP_RTP_HIGH")
        self.low, self.high = low, high
        self._used: set[int] = set()
        self._lock = threading.Lock()
        self._next = low if low % 2 == 0 else low + 1

    def open(self, ip: str, factory: Callable[[int], RtpStream]) -> RtpStream:
        """Create a stream on the next free even port (RTP convention), skipping busy ones."""
        span = self.high - self.low + 1
        with self._lock:
            for _ in range(span):
                port = self._next
                self._next += 2
                if self._next > self.high:
                    self._next = self.low if self.low % 2 == 0 else self.low + 1
                if port in self._used or port > self.high:
                    continue
                try:
                    stream = factory(port)
                except OSError:
                    continue
                self._used.add(port)
                return stream
        raise RuntimeError(f"no free RTP port in {self.low}-{self.high}")

    def release(self, port: int) -> None:
        with self._lock:
            self._used.discard(port)

    @property
    def in_use(self) -> int:
        return len(self._used)
