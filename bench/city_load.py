"""A bounded soak of the whole production layout on loopback (issue 15): calls, consoles and tickets
at once, with one `sip` and one `worker` killed on the way.

    .venv/bin/python bench/city_load.py                                   # short: 2 min, 10 calls, kill at 1
    .venv/bin/python bench/city_load.py --minutes 10 --calls 40 --kill-minute 5   # the issue's run

What runs (hotline.app.layout.start_layout: honcho, nginx, Kamailio's dispatcher, 2 `web`, `api`,
2 Celery `worker`, `beat`, 2 `sip`) on a scratch PostgreSQL database and a Redis database of its own:
  citizens   ONE SIPp UAC (bench/sipp/city_citizens.xml, -users) calling 12345 at Kamailio: --users
             users (20 x --calls) each thinking an exponential time, then calling with a distinct
             caller number (-inf); arrivals close to Poisson at calls/hold per second (the report
             prints the measured rate and the inter-arrival gaps' CV, 1 for Poisson); each citizen
             hangs up an exponential time (mean --hold) after the 200 OK or answers the hotline's
             BYE; per-call fate by Call-ID from the scenario's <log> lines (bench/city_generator.py)
  operators  ONE SIPp UAS answering for every operator extension (registered at Kamailio under each
             one; answer, then wait for the BYE), each operator 示闲 through the API; with --baresip
             the first operator's phone is baresip (auto-answer)
  consoles   --consoles supervisor consoles in ONE child process (bench/city_consoles.py,
             python-socketio over nginx, sticky to a `web`), counting every ticket.created frame and
             its push latency (receive time - the frame's ts)
  tickets    POST /api/v1/tickets through nginx to `api` at --ticket-rate per second (bearer token)
  kills      at --kill-minute: kill -9 of `sip` #1 and of Celery `worker` #1 (both respawned)
Figures: calls offered/answered/abandoned/lost (lost: a citizen's call with no call_queue row, or
ended otherwise than answered/abandoned/voice intake, not on the killed process), answered within
15 s of ringing, tickets written (rows) vs acknowledged (201) vs delivered (frames at every console),
events written (outbox rows) vs relayed, push p50/p99, CPU (share of one core) and RSS per process
kind of the layout, the same for the generator's processes (citizens' SIPp, operators' SIPp,
baresip, consoles, the bench itself; the loop sampler apart), the machine's loop time
(bench/common.py) and the 1-min load average during the run (median, max). Each SIPp has its own
control port (-cp), so benches and tests running at once do not collide.
Needs PostgreSQL (BENCH_DATABASE_ADMIN_URL), Redis, sipp, kamailio, nginx, honcho.

The "lost" calls of the first short runs (3 of 39, citizens' SIPp ending with an error, rows still
`connected`) were every call: the SIPp citizen sent its ACK and BYE to sip:12345@Kamailio, which
nothing registers behind the dispatcher (ACK dropped, BYE 404), so each call ended only by the sip
process's 60 s RTP timeout and the last ones outlived the 30 s settle. The citizen scenario now
sends them to the 200 OK's Contact like any RFC 3261 UA. The next runs found two product bugs on a
loaded machine (load ~20): a respawned sip process reaped the live survivor for a late heartbeat
(its talking calls closed as interrupted, then stored twice), and took a call in the second before
its queue was attached (no queue row); both fixed (telephony.reaper, hotline sip).
A citizen hangs up `hold` seconds after the 200 OK, which comes before queueing: short holds are
callers abandoning in the queue. Offered load equal to the operators queues callers.

Figures of 2026-12-02 on 2 cores shared with other sessions,
`--minutes 4 --calls 20 --kill-minute 2` (20 operators, one of them baresip), load 15-27, loop 1.164 s:
  182 calls offered: 120 answered (8 by baresip), 49 abandoned, 13 interrupted (all on the killed
  sip), 0 lost; citizens' SIPp errors 0 on live processes, 13 on the killed one; answered within
  15 s 108/182; tickets written 469 = acknowledged 469 = delivered 469 to each of 20 consoles;
  outbox 1610 written = 1610 relayed; push p50 98.7 ms, p99 1160 ms (9380 frames); CPU (share of
  one core) / peak RSS MiB: web 0.04/308, api 0.06/280, worker 0.26/1492, sip 0.31/281.
The same run at load ~75 (another session's burst) lost 64 calls (sip processes too starved to
answer a BYE within Kamailio's 5 s) and 27 console frames: not a figure of the product.
The issue's run, 16:43-16:58 UTC, nothing else running (loop 0.581 s before it),
`--minutes 10 --calls 40 --kill-minute 5` (40 operators, one baresip): NOT the issue's figures.
  841 offered: 126 answered (5 by baresip), 433 abandoned, 176 missed, 22 interrupted (killed sip),
  282 lost (199 citizens' SIPp errors on live processes, mostly Kamailio's 408 to their BYE: the sip
  processes too slow to answer it); within 15 s 51/841; tickets written 514 = acknowledged 514, but
  delivered to a console only 431-474 of 514; outbox 4111 written, 4108 relayed; push p50 1.09 s,
  p99 10.6 s; CPU / RSS MiB: web 0.06/319, api 0.04/284, worker 0.20/1511, sip 0.42/330.
  The loop took 1.673 s CPU / 2.856 s wall during the run (1-min load 18, 81 at its peak): 40 SIPp
  citizens + 40 SIPp operator phones + 20 Python consoles + the layout saturate these 2 cores; more
  than 60 SIPp processes also exhaust SIPp's control ports 8888-8947 ("Unable to bind remote
  control socket"). The soak needs the load generator on another machine, or fewer processes.

The generator since: 4 processes instead of ~100 (one SIPp UAC for all citizens, one SIPp UAS for
all SIPp operator phones, baresip, one consoles process). Figures of 2026-12-02 19:40-20:10 UTC on
the same 2 cores shared with 3 other sessions (noisy: compare the load and loop time):
`.venv/bin/python bench/city_load.py` (2 min, 10 calls, kill at 1; load median 7.4, max 11.9; loop
0.729 s before, 1.567 s CPU / 2.001 s wall during):
  arrivals 0.375/s measured (0.333 aimed), inter-arrival CV 0.98; 44 offered: 35 answered (3 by
  baresip), 4 abandoned, 5 interrupted (all on the killed sip), 0 lost; citizens' calls failed 0 on
  live sip processes, 5 on the killed one; tickets 240 = 240 = 240 at each of 20 consoles; outbox
  783 written, 782 relayed (the other 0 s old, in flight); push p50 11.5 ms, p99 124 ms.
  CPU: layout total 0.49 (worker 0.34, sip 0.11); generator 0.16 + the loop sampler 0.10. Three
  runs of this command placed the same 44 calls (SIPp's random draws repeat from run to run; the
  40-call runs below did not repeat exactly); the last (load median 5.1, loop 2.004 s wall during):
  0 lost, outbox 783 = 783, push p99 54 ms, layout 0.48, generator 0.12.
`--minutes 4 --calls 20 --kill-minute 2` (load median 11.7, max 14.2; loop 0.657 s before,
1.048 s CPU / 1.996 s wall during):
  arrivals 0.680/s measured (0.667 aimed), CV 0.92; 162 offered: 143 answered (6 by baresip), 8
  abandoned, 11 interrupted (all on the killed sip), 0 lost; citizens' calls failed 0 on live sip
  processes, 11 on the killed one; within 15 s 143/162 = 88.3 %; tickets 480 written =
  acknowledged = delivered to each of 20 consoles; outbox 2087 written, 2086 relayed at the count
  (the last one within its 1 s marking delay); push p50 9.9 ms, p99 130 ms (9600 frames).
  CPU (share of one core) / RSS MiB: layout web 0.02/320, api 0.02/293, worker 0.34/1809, sip
  0.16/290, total 0.55; generator 0.22 (bench 0.11, consoles 0.08, citizens' SIPp 0.01, operators'
  SIPp 0.01, baresip 0.01) + the loop sampler 0.07. (The bench's 0.11 was mostly its re-reading of
  honcho's whole log every 2 s; it reads on from where it was since: 0.02 below.)
  Before (same command, load 15-27, loop 1.164 s): 120 of 182 answered, 49 abandoned, p99 1160 ms.
`--minutes 4 --calls 40 --kill-minute 2` (load median 8.7, max 14.9; loop 0.765 s before,
1.129 s CPU / 1.285 s wall during):
  arrivals 1.288/s measured (1.333 aimed), CV 1.05; 309 offered: 285 answered (11 by baresip), 7
  abandoned, 17 interrupted (all on the killed sip), 0 lost; citizens' calls failed 0 on live sip
  processes, 17 on the killed one; no missed offer; within 15 s 285/309 = 92.2 %; tickets 480 =
  480 = 480 at each of 20 consoles; outbox 3142 written = 3142 relayed; push p50 11.4 ms, p99 92 ms.
  CPU / RSS MiB: layout web 0.03/322, api 0.03/295, worker 0.37/1802, sip 0.22/295, total 0.66;
  generator 0.18 (consoles 0.12, bench 0.02, citizens' SIPp 0.02, operators' SIPp 0.02, baresip
  0.00) + the loop sampler 0.08. An earlier run of the same command (load max 18.0) also lost 0;
  its operators' SIPp aborted 2 offers on a CANCEL (withdrawn while ringing, the caller gone: SIPp
  answers the CANCEL but sends no 487, Kamailio ends the INVITE transaction).
The issue's 10-minute 40-call run is for a quiet machine: not measured here.

The issue's run on a quiet machine, 20:54-21:07 UTC (nothing else running, loop 0.513 s before it),
`--minutes 10 --calls 40 --kill-minute 5`, with the light generator: **0 lost calls, 0 lost tickets,
0 lost events.** Arrivals 1.344/s (aimed 1.333), inter-arrival CV 0.97; 804 offered: 687 answered
(21 by baresip), 89 abandoned, 28 interrupted, all on the killed sip (its citizens' 28 SIPp
failures), 0 failed on live processes; answered within 15 s 686/804 = 85.3 %; tickets written 1200 =
acknowledged 1200 = delivered 1200 to each of the 20 consoles; outbox 7793 written = 7793 relayed;
push p50 13.4 ms, p99 165.8 ms, max 722.6 over 24,000 frames; operators' SIPp aborted 5 offers on an
unexpected CANCEL (offers withdrawn when the caller left) and 1 on a retransmission timeout.
CPU (share of one core) / peak RSS MiB: web 0.05/327, api 0.04/301, worker 0.43/1796, beat 0.00/96,
sip 0.36/310, kamailio 0.00/70, nginx 0.01/15 (layout 0.88); generator 0.26 (consoles 0.18);
loop during the run 1.350 s CPU / 1.715 s wall, 1-min load median 9.2, max 14.4.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from city_actors import PASSWORD, BackToReady, BaresipPhone, call_api
from city_generator import Citizens, Consoles, OperatorPhones
from city_procs import GeneratorCpu, ProcessSampler, worker_pid
from common import LoopSampler, free_port, recreate, drop_database, reference_loop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ADMIN_URL = os.environ.get("BENCH_DATABASE_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DB_NAME = "hotline_bench_city"
TICKET = {"type": "投诉", "channel": "phone", "content": "小区门口餐馆油烟很大，晚上熏得没法开窗，希望有关部门处理",
          "caller": {"name": "张先生", "phone": "13812345678"}, "address": "罗阳街道北门路12号", "town": "luoyang"}
KINDS = ("web", "api", "worker", "beat", "sip", "kamailio", "nginx")


# -- setup ---------------------------------------------------------------------------------------------
def add_users(db_url: str, operators: list[tuple[str, str]]) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from hotline.auth import create_user

    engine = create_engine(db_url)
    with Session(engine) as s:
        for name, ext in operators:
            create_user(s, name, PASSWORD, "operator", display_name=name, sip_extension=ext)
        create_user(s, "bench_sup", PASSWORD, "supervisor", display_name="督办员")
        create_user(s, "bench_api", PASSWORD, "operator", display_name="接口")
    engine.dispose()


def token(base: str, user: str) -> str:
    status, raw = call_api(base, "/api/v1/auth/token", method="POST", body={"username": user, "password": PASSWORD})
    assert status == 200, raw
    return json.loads(raw)["token"]


def login_cookie(base: str, user: str) -> str:
    import requests

    s = requests.Session()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', s.get(base + "/login").text).group(1)
    r = s.post(base + "/login", data={"csrf_token": csrf, "username": user, "password": PASSWORD},
               allow_redirects=False)
    assert r.status_code == 302, r.status_code
    return "; ".join(f"{k}={v}" for k, v in s.cookies.get_dict().items())


# -- tickets -------------------------------------------------------------------------------------------
def ticket_traffic(base: str, tok: str, rate: float, stop: threading.Event, acked: list, failed: list) -> None:
    i = 0
    start = time.perf_counter()
    while not stop.is_set():
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0 and stop.wait(delay):
            return
        i += 1
        try:
            status, raw = call_api(base, "/api/v1/tickets", method="POST", body=TICKET, token=tok)
        except OSError as exc:
            failed.append(str(exc))
            continue
        if status == 201:
            acked.append(json.loads(raw)["number"])
        else:
            failed.append(status)


def pending_rows(db_url: str) -> tuple[int, list]:
    """Call queue rows not ended, and outbox rows not relayed yet (name, origin, age): a relay marks
    its rows once a second, and another process sweeps a killed one's rows after 10 s."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as c:
            return (c.scalar(text("select count(*) from call_queue where state <> 'ended'")),
                    c.execute(text("select name, origin, now() at time zone 'utc' - created_at from event_outbox "
                                   "where relayed_at is null order by id")).all())
    finally:
        engine.dispose()


# -- the run ---------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--calls", type=int, default=10, help="concurrent calls aimed at (arrival rate calls/hold)")
    ap.add_argument("--hold", type=float, default=30.0, help="mean talk time of a call, seconds")
    ap.add_argument("--operators", type=int, default=0, help="operator phones (default: --calls)")
    ap.add_argument("--users", type=int, default=0, help="SIPp citizen users whose calls superpose (default: 20 x --calls)")
    ap.add_argument("--consoles", type=int, default=20)
    ap.add_argument("--ticket-rate", type=float, default=2.0, help="API tickets per second")
    ap.add_argument("--kill-minute", type=float, default=1.0, help="kill one sip and one worker then (<0: never)")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    ap.add_argument("--baresip", action=argparse.BooleanOptionalAction, default=True,
                    help="the first operator's phone is baresip (default) instead of SIPp")
    ap.add_argument("--back-after", type=float, default=5.0,
                    help="seconds after which an operator set 示忙 by a missed offer presses 示闲 again (<0: never)")
    ap.add_argument("--keep", action="store_true", help="keep the run directory")
    args = ap.parse_args()
    operators = [(f"city{i:03d}", str(5001 + i)) for i in range(args.operators or args.calls)]

    from hotline.app.deploy import Layout
    from hotline.app.layout import prepare_database, start_layout
    from tests.telephony_helpers import free_udp_port

    loop = reference_loop()
    print(f"city_load: machine loop {loop:.3f} s (0.6 s = the reference core)", flush=True)
    db_url = recreate(ADMIN_URL, DB_NAME)
    import redis as redis_lib

    redis_lib.Redis.from_url(args.redis).flushdb()
    prepare_database(db_url)
    add_users(db_url, operators)
    run_dir = Path(tempfile.mkdtemp(prefix="city-load-"))
    layout = Layout(run_dir=run_dir, database_url=db_url, redis_url=args.redis, secret_key="city-load-secret-" * 2,
                    http_port=free_port(), web_ports=[free_port(), free_port()], api_port=free_port(),
                    sip_ports=[free_udp_port(), free_udp_port()], kamailio_port=free_udp_port(),
                    rtp_low=40000, rtp_per_sip=2000, workers=2, worker_concurrency=2, api_workers=2,
                    env={"HOTLINE_ACD_WRAPUP": "2", "HOTLINE_ACD_RING_TIMEOUT": "8", "HOTLINE_ACD_MAX_WAIT": "60",
                         "HOTLINE_SIP_STALE_SECONDS": "3", "SIP_ANSWER_DELAY_MS": "50", "VOSK_MODEL_DIR": ""})
    t_start = time.time()
    running = start_layout(layout, timeout=240)
    print(f"  layout up in {time.time() - t_start:.0f} s at {running.url}", flush=True)
    base = running.url
    kam = ("127.0.0.1", layout.kamailio_port)
    audio = ROOT / "tests" / "data" / "audio" / "ko_1.ulaw"
    phones: list = []
    back: BackToReady | None = None
    consoles: Consoles | None = None
    citizens: Citizens | None = None
    acked: list[str] = []
    failed: list = []
    stop = threading.Event()
    gen = GeneratorCpu()
    procs = ProcessSampler(run_dir / "honcho.log", gen)
    kills: dict[str, object] = {}
    try:
        tokens = {}
        sipp_exts = [ext for i, (_, ext) in enumerate(operators) if not (args.baresip and i == 0)]
        if args.baresip:
            phones.append(BaresipPhone(kam, operators[0][1], run_dir, run_dir / "honcho.log"))
            gen.add("baresip", phones[-1].proc.pid)
        if sipp_exts:
            phones.append(OperatorPhones(kam, sipp_exts, run_dir, audio))
            gen.add("operators SIPp", phones[-1].proc.pid)
        for name, _ext in operators:
            tokens[name] = token(base, name)
            status, raw = call_api(base, "/api/v1/console/state", method="POST", body={"state": "idle"},
                                   token=tokens[name])
            assert status == 200, raw
        if args.back_after >= 0:
            back = BackToReady(db_url, base, tokens, args.back_after)
            back.start()
        consoles = Consoles(base, login_cookie(base, "bench_sup"), args.consoles, run_dir)
        gen.add("consoles", consoles.proc.pid)
        api_token = token(base, "bench_api")
        rate = args.calls / args.hold
        t0 = time.time()
        end = t0 + args.minutes * 60
        citizens = Citizens(kam, run_dir, audio, rate=rate, hold=args.hold, end=end,
                            users=args.users or 20 * args.calls)
        gen.add("citizens SIPp", citizens.proc.pid)
        procs.sample()
        gen.start()
        procs.start()
        sampler = LoopSampler(every=15.0).__enter__()
        traffic = threading.Thread(target=ticket_traffic, args=(base, api_token, args.ticket_rate, stop, acked, failed),
                                   daemon=True)
        traffic.start()
        kill_at = t0 + args.kill_minute * 60 if args.kill_minute >= 0 else None
        while time.time() < end:
            if kill_at is not None and time.time() >= kill_at and not kills:
                kills["sip"] = running.kill_sip(0)
                wpid = worker_pid(run_dir / "honcho.log")
                if wpid:
                    os.kill(wpid, signal.SIGKILL)
                kills.update(worker=wpid, at=time.time() - t0)
                print(f"  {kills['at']:.0f} s: killed sip pid {kills['sip']['pid']} and worker pid {wpid}", flush=True)
            assert citizens.proc.poll() is None, f"citizens' SIPp exited: {citizens.proc.returncode}"
            time.sleep(0.2)
        stop.set()
        traffic.join()
        print(f"  arrivals stopped after {time.time() - t0:.0f} s; waiting for {citizens.open_calls()} calls to end",
              flush=True)
        while citizens.open_calls() and time.time() < end + 330:
            time.sleep(2.0)
        settle = time.time() + 30  # the last tickets' events reach every console, the last calls end
        while time.time() < settle and (any(set(acked) - set(k) for k in consoles.refresh())
                                        or any(pending_rows(db_url))):
            time.sleep(1.0)
        if back is not None:
            back.halt.set()
            back.join()
        procs.halt.set()
        procs.join()
        procs.sample()
        gen.stop()
        sampler.__exit__()
        elapsed = time.time() - t0
        consoles.refresh()
        report(args, db_url, citizens, kills, acked, failed, consoles, procs, gen, elapsed, loop, sampler, back,
               operators[0][1] if args.baresip else None, phones)
    finally:
        stop.set()
        if back is not None:
            back.halt.set()
        if citizens is not None:
            citizens.stop()
        if consoles is not None:
            consoles.close()
        for p in phones:
            p.stop()
        running.stop()
        drop_database(ADMIN_URL, DB_NAME)
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            print(f"  run directory kept: {run_dir}")


def arrivals(calls) -> str:
    """The arrival process as measured: rate, and the inter-arrival gaps' coefficient of variation
    (1 for a Poisson process, 0 for a fixed rate)."""
    times = sorted(c.sent_at for c in calls)
    gaps = [b - a for a, b in zip(times, times[1:])]
    if len(gaps) < 2:
        return "too few calls"
    mean = sum(gaps) / len(gaps)
    sd = (sum((g - mean) ** 2 for g in gaps) / (len(gaps) - 1)) ** 0.5
    return f"{1 / mean:.3f}/s, inter-arrival CV {sd / mean:.2f}"


def report(args, db_url, citizens, kills, acked, failed, consoles, procs, gen, elapsed, loop, sampler, back,
           baresip_ext, phones) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as c:
        queue = {r.caller: r for r in c.execute(text(
            "select caller, state, outcome, reason, wait_seconds, sip_instance, operator_extension from call_queue"))}
        written = c.scalar(text("select count(*) from tickets where created_by = 'bench_api'"))
        outbox = c.execute(text("select count(*), count(relayed_at) from event_outbox")).one()
    engine.dispose()
    unrelayed = pending_rows(db_url)[1]
    young = [r for r in unrelayed if r[2].total_seconds() < 5]
    old = [r for r in unrelayed if r[2].total_seconds() >= 5]
    killed_instance = kills.get("sip", {}).get("id") if kills else None
    calls = list(citizens.calls().values())
    offered = len(calls)
    outcomes: dict[str, int] = {}
    lost, interrupted, in_target, sipp_errors, by_baresip = [], 0, 0, [0, 0], 0
    for cz in calls:
        why = "; ".join(cz.errors)[-300:] or ("no end logged" if not cz.ok else "")
        row = queue.get(cz.caller)
        if row is None:
            lost.append((cz.caller, cz.call_id, "no call_queue row", why))
            continue
        outcomes[row.outcome or row.state] = outcomes.get(row.outcome or row.state, 0) + 1
        if row.outcome == "answered" and row.wait_seconds is not None and row.wait_seconds <= 15:
            in_target += 1
        by_baresip += row.outcome == "answered" and baresip_ext is not None and row.operator_extension == baresip_ext
        on_killed = row.sip_instance == killed_instance
        if not cz.ok:
            sipp_errors[on_killed] += 1
        if row.outcome == "interrupted" and on_killed:
            interrupted += 1
        elif row.outcome not in ("answered", "abandoned", "missed", "voice_intake", "out_of_hours"):
            lost.append((cz.caller, cz.call_id, row.outcome or row.state, why))
        elif not cz.ok and not on_killed:  # the citizen's side failed (e.g. its BYE got no 200)
            lost.append((cz.caller, cz.call_id, f"{row.outcome}, citizen's call failed", why))
    acked_set = set(acked)
    frames = consoles.frames
    delivered = [len(acked_set & set(k)) for k in frames]
    pushes = sorted(ms for k in frames for num, ms in k.items() if num in acked_set)
    pct = lambda p: pushes[min(len(pushes) - 1, int(p / 100 * len(pushes)))] if pushes else float("nan")  # noqa: E731
    print(f"city_load: {args.minutes:g} min, {args.calls} concurrent calls aimed at (hold {args.hold:g} s, "
          f"{args.calls / args.hold:.3f} calls/s), {len(frames)} consoles, {args.ticket_rate:g} API tickets/s; kills: "
          + (f"sip #1 and worker #1 at {kills['at']:.0f} s" if kills else "none"))
    print(f"  arrivals  one SIPp UAC, {citizens.users} users thinking Exp({citizens.think:.0f} s): "
          f"measured {arrivals(calls)}")
    print(f"  calls     offered {offered}, outcomes {dict(sorted(outcomes.items()))}, "
          f"interrupted on the killed sip {interrupted}, lost {len(lost)}"
          + (f" {lost[:5]}" if lost else ""))
    hungup = sum(c.end == "hungup" for c in calls)
    print(f"  citizens  call failed on their side: {sipp_errors[0]} on live sip processes, {sipp_errors[1]} on the "
          f"killed one; hung up by the hotline {hungup}; operators' SIPp aborted calls "
          f"{[p.errors() for p in phones if isinstance(p, OperatorPhones)]}; answered by the baresip phone "
          f"{by_baresip if baresip_ext else 'n/a'}; operators back to 示闲 after a missed offer "
          f"{back.returns if back else 'n/a'}" + (f" (failed {back.failed[:3]})" if back and back.failed else ""))
    print(f"  answered within 15 s of ringing: {in_target}/{offered} = {in_target / max(1, offered):.1%}")
    print(f"  tickets   written {written}, acknowledged {len(acked)}, failed requests {len(failed)}"
          + (f" {failed[:5]}" if failed else "") + f"; delivered to every console: min {min(delivered, default=0)}, "
          f"max {max(delivered, default=0)} of {len(acked)}")
    print(f"  events    outbox rows written {outbox[0]}, relayed {outbox[1]}; push ms p50 {pct(50):.1f} "
          f"p99 {pct(99):.1f} max {pushes[-1] if pushes else float('nan'):.1f} over {len(pushes)} frames; "
          f"not relayed: {len(young)} younger than 5 s (in flight)"
          + (f", {len(old)} older: {[(n, o, f'{age.total_seconds():.0f} s') for n, o, age in old[:5]]}" if old else ""))
    cpu = procs.cpu()
    print("  layout    CPU (share of one core over the run) / peak RSS MiB: " + ", ".join(
        f"{k} {cpu.get(k, 0) / elapsed:.2f}/{procs.rss_peak.get(k, 0):.0f}" for k in KINDS)
        + f"; total {sum(cpu.get(k, 0) for k in KINDS) / elapsed:.2f}")
    gcpu = gen.cpu()
    print("  generator CPU / peak RSS MiB: " + ", ".join(
        f"{k} {v / elapsed:.2f}/{gen.rss_peak.get(k, 0):.0f}" for k, v in gcpu.items())
        + f"; total {sum(gcpu.values()) / elapsed:.2f}; the loop sampler {sum(c for _, c in sampler.samples) / elapsed:.2f}")
    print(f"  machine   loop {loop:.3f} s before the run; during it {sampler.cpu:.3f} s CPU / {sampler.wall:.3f} s wall "
          f"(median of {len(sampler.samples)}); 1 min load average median {sorted(procs.loads)[len(procs.loads) // 2]:.1f}, "
          f"max {max(procs.loads):.1f}")


if __name__ == "__main__":
    main()
