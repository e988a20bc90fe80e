"""Open311 `GET requests` latency over a large ticket history, and citizen portal submissions at 50/s (PostgreSQL).

1. recreates a bench database (never `test`), migrates and seeds it with the `hotline` command;
2. inserts N tickets that came in through Open311 (INSERT ... SELECT generate_series: tickets and
   their open311_requests rows, received over the last 365 days, 70 % closed, services spread over
   the catalogue), then VACUUM ANALYZE;
3. serves the app with gunicorn (the Procfile's `api` kind, sync workers) and times, one request
   at a time over a kept-alive connection, the public queries a client makes: the default list (the
   last 90 days, newest first, 100 a page), status=open, one service_code, a list of 10 ids, one
   request by id; both .json and .xml; prints p50/p95/p99 and the machine's loop time L.

4. (``--submissions``, or ``--only-submissions`` on a freshly seeded database) serves the app as
   the Procfile's `web` process (gunicorn, 1 worker, threads) and offers portal submissions
   (``POST /submit``, multipart, CSRF token of each client's session; anonymous, a share with one
   640x480 JPEG carrying EXIF GPS) at a fixed rate (``--rate``, 50/s) for ``--seconds``: an open
   loop, each request's latency counted from its scheduled start (a slow answer delays no later
   one's clock); prints p50/p95/p99, the achieved rate, failures, and checks every submission is a
   ticket.

    .venv/bin/python bench/portal.py                      # 1,000,000 tickets
    .venv/bin/python bench/portal.py --tickets 100000 --repeat 100 --submissions
    .venv/bin/python bench/portal.py --only-submissions --rate 50 --seconds 30
"""
from __future__ import annotations

import argparse
import http.client
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from api_create import cpu_seconds
from common import drop_database, free_port, recreate, reference_loop, wait_http

ROOT = Path(__file__).resolve().parent.parent


def timed(label: str, fn):
    started = time.perf_counter()
    result = fn()
    print(f"  {label:<44} {time.perf_counter() - started:8.1f} s", flush=True)
    return result


def seed(url: str, n: int) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("SET synchronous_commit = off; SET maintenance_work_mem = '1GB'; SET work_mem = '256MB'"))
        depts = [r[0] for r in conn.execute(text("SELECT id FROM departments ORDER BY id"))]
        entries = [r[0] for r in conn.execute(text("SELECT id FROM routing_catalogue ORDER BY id"))]
        conn.execute(text("INSERT INTO open311_keys (id, name, key_hash, created_at) "
                          "VALUES (1, 'bench', repeat('0', 64), now())"))
        dept_arr = "ARRAY[" + ",".join(map(str, depts)) + "]"
        entry_arr = "ARRAY[" + ",".join(map(str, entries)) + "]"
        timed(f"insert {n:,} tickets", lambda: conn.execute(text(f"""
            INSERT INTO tickets (id, number, channel, type, urgency, status, caller_phone, confidential, content,
                address, main_department_id, received_at, sign_by, reply_by, replied_at, closed_at, reply_text,
                reopen_count, created_by, created_at, updated_at, event_count, head_hash, version)
            SELECT g, 'O' || lpad(g::text, 13, '0'), 'open311', '投诉', 'normal',
                   CASE WHEN r < 0.7 THEN 'closed' WHEN r < 0.8 THEN 'callback' ELSE 'in_progress' END,
                   '139' || lpad((g % 100000000)::text, 8, '0'), false, '路灯坏了，晚上很黑', '罗阳街道北门路12号',
                   ({dept_arr})[1 + (g % {len(depts)})], rec, rec + interval '1 day', rec + interval '15 days',
                   CASE WHEN r < 0.8 THEN rec + interval '3 days' END, CASE WHEN r < 0.7 THEN rec + interval '5 days' END,
                   CASE WHEN r < 0.8 THEN '已修复' END, 0, 'open311:bench', rec, rec, 1, '', 1
            FROM (SELECT g, random() AS r, now() AT TIME ZONE 'UTC' - (({n} - g)::float / {n}) * interval '365 days' AS rec
                  FROM generate_series(1, {n}) g) s""")))
        timed("insert their open311_requests rows", lambda: conn.execute(text(f"""
            INSERT INTO open311_requests (ticket_id, service_code, token, key_id, lat, long, requested_at)
            SELECT id, 'c' || ({entry_arr})[1 + (id % {len(entries)})], md5(id::text), 1,
                   23.17 + (id % 100) / 10000.0, 114.28 + (id % 100) / 10000.0, received_at
            FROM tickets""")))
        conn.execute(text("SELECT setval('tickets_id_seq', (SELECT max(id) FROM tickets))"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        timed("VACUUM ANALYZE", lambda: conn.execute(text("VACUUM ANALYZE")))
    engine.dispose()


def jpeg_with_gps() -> bytes:
    from io import BytesIO

    from PIL import Image

    image = Image.new("RGB", (640, 480), (200, 120, 40))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (23.0, 10.0, 30.0), 3: "E", 4: (114.0, 17.0, 20.0)}
    out = BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def submissions(port: int, rate: float, seconds: float, photo_share: float, clients: int) -> dict:
    """Offer ``rate`` submissions a second for ``seconds`` (open loop); latencies in ms."""
    import queue
    import re
    import threading

    import requests

    total = int(rate * seconds)
    photo = jpeg_with_gps()
    base = f"http://127.0.0.1:{port}"
    jobs: queue.Queue = queue.Queue()
    lat, failures, lock = [], [], threading.Lock()

    def client() -> None:
        session = requests.Session()
        token = re.search(r'name="csrf_token" value="([^"]+)"', session.get(base + "/submit", timeout=30).text).group(1)
        while True:
            job = jobs.get()
            if job is None:
                return
            i, due = job
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            data = {"csrf_token": token, "contact": "anonymous", "type": "投诉", "town": "luoyang",
                    "address": f"罗阳街道北门路 {i % 300} 号", "publish": "yes" if i % 2 else "",
                    "content": f"第 {i} 件：小区门口的路灯坏了，晚上很黑，请尽快修复。"}
            with_photo = int((i + 1) * photo_share) > int(i * photo_share)  # exactly that share
            files = {"photos": ("IMG.jpg", photo, "image/jpeg") if with_photo else ("", b"", "application/octet-stream")}
            try:
                r = session.post(base + "/submit", data=data, files=files, timeout=60)
                ok = r.status_code == 201
                why = f"{r.status_code} {r.text[:120]!r}"
            except requests.RequestException as exc:
                ok, why = False, repr(exc)
            done = time.perf_counter()
            with lock:
                lat.append((done - due) * 1000)
                if not ok:
                    failures.append(why)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # every client has its session and token
    start = time.perf_counter() + 0.2
    for i in range(total):
        jobs.put((i, start + i / rate))
    for _ in threads:
        jobs.put(None)
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return {"offered": total, "lat": lat, "failures": failures, "elapsed": elapsed}


def run_submissions(args, env: dict, bin_dir: Path, url: str, loop: float) -> None:
    env = {**env, "HOTLINE_PORTAL_SUBMISSIONS_PER_ADDRESS": "1000000 per hour",
           "HOTLINE_PORTAL_SUBMISSIONS_PER_PHONE": "1000000 per hour"}
    if not args.embedded:
        # the Procfile's web process: jobs go to Celery (workers run elsewhere), events and the rate
        # limits' counters in Redis
        import redis

        redis.Redis.from_url(args.redis).flushdb()
        env.update(REDIS_URL=args.redis, HOTLINE_BACKGROUND_JOBS="celery")
    engine = create_engine(url)
    with engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM portal_requests")).scalar()
    port = free_port()
    server = subprocess.Popen([str(bin_dir / "gunicorn"), "-w", "1", "--threads", str(args.threads), "-b",
                               f"127.0.0.1:{port}", "--log-level", "warning", "hotline.app.wsgi:app"], env=env,
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open("/tmp/hotline-bench-portal.log", "w"))
    try:
        wait_http(port, timeout=90)
        submissions(port, args.rate, 2, args.photo_share, args.clients)  # warm-up
        cpu_before = cpu_seconds(server.pid)
        result = submissions(port, args.rate, args.seconds, args.photo_share, args.clients)
        cpu = cpu_seconds(server.pid) - cpu_before
    finally:
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:  # gunicorn's graceful stop of idle keep-alive threads
            server.kill()
            server.wait(30)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM portal_requests")).scalar() - before
        web = conn.execute(text("SELECT count(*) FROM tickets WHERE channel = 'web'")).scalar()
    engine.dispose()
    lat = result["lat"]
    print(f"\nPortal submissions (POST /submit, PostgreSQL, gunicorn web: 1 worker x {args.threads} threads, "
          f"{'embedded jobs' if args.embedded else 'Celery jobs and Redis'}; "
          f"{args.clients} clients; {args.photo_share:.0%} with a 640x480 JPEG; L = {loop:.2f} s):")
    print(f"  offered {result['offered']} at {args.rate:g}/s over {args.seconds:g} s "
          f"(achieved {result['offered'] / result['elapsed']:.1f}/s), failures {len(result['failures'])}"
          + (f" e.g. {result['failures'][0]}" if result["failures"] else ""))
    print(f"  latency from scheduled start: p50 {pct(lat, 50):.1f} ms, p95 {pct(lat, 95):.1f} ms, "
          f"p99 {pct(lat, 99):.1f} ms, max {max(lat):.1f} ms")
    print(f"  server CPU per submission: {cpu / result['offered'] * 1000:.1f} ms (web process, utime+stime; "
          f"x 0.6/L = {cpu / result['offered'] * 1000 * 0.6 / loop:.1f} ms on the reference core)")
    print(f"  stored: {stored} portal rows (warm-up included), {web} web tickets")
    print(f"  target: p95 <= 200 ms at 50/s on the reference core (L = 0.6 s); this machine L = {loop:.2f} s")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--database", default="bench_open311")
    ap.add_argument("--tickets", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=200, help="requests per query kind")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--submissions", action="store_true", help="also time portal submissions")
    ap.add_argument("--only-submissions", action="store_true", help="only portal submissions (no 1 M seed)")
    ap.add_argument("--rate", type=float, default=50.0, help="submissions offered per second")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--photo-share", type=float, default=0.2, help="share of submissions with a photo")
    ap.add_argument("--clients", type=int, default=16, help="client threads (each its own session)")
    ap.add_argument("--threads", type=int, default=400, help="gunicorn threads of the web process")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/14", help="Redis of the web process (flushed)")
    ap.add_argument("--embedded", action="store_true", help="no Redis: background jobs in the web process")
    args = ap.parse_args()
    if args.database in ("test", "postgres"):
        sys.exit("refusing to use the test or postgres database")
    loop = reference_loop()
    print(f"L (10-million-step loop) = {loop:.2f} s", flush=True)
    url = recreate(args.admin_url, args.database)
    env = {**os.environ, "DATABASE_URL": url, "HOTLINE_SIP_ENABLED": "false", "SECRET_KEY": "bench",
           "HOTLINE_INSTANCE_DIR": "/tmp/hotline-bench-open311"}
    env.pop("REDIS_URL", None)
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "hotline"), "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run([str(bin_dir / "hotline"), "seed"], env=env, check=True, capture_output=True)
    if args.only_submissions:
        run_submissions(args, env, bin_dir, url, loop)
        if not args.keep:
            drop_database(args.admin_url, args.database)
        return
    seed(url, args.tickets)
    engine = create_engine(url)
    with engine.connect() as conn:
        numbers = [r[0] for r in conn.execute(text(
            "SELECT number FROM tickets WHERE id > :lo ORDER BY random() LIMIT 1000"), {"lo": args.tickets // 2})]
        code = conn.execute(text("SELECT service_code FROM open311_requests LIMIT 1")).scalar()
    engine.dispose()
    port = free_port()
    server = subprocess.Popen([str(bin_dir / "gunicorn"), "-w", str(args.workers), "-b", f"127.0.0.1:{port}",
                               "--log-level", "warning", "hotline.app.wsgi:app"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=open("/tmp/hotline-bench-open311.log", "w"))
    rng = random.Random(1)
    kinds = {
        "default list (90 days, 100 newest)": lambda fmt: f"/open311/v2/requests.{fmt}",
        "status=open": lambda fmt: f"/open311/v2/requests.{fmt}?status=open",
        "service_code (one service)": lambda fmt: f"/open311/v2/requests.{fmt}?service_code={code}",
        "service_request_id (10 ids)": lambda fmt: "/open311/v2/requests.{}?service_request_id={}".format(
            fmt, ",".join(rng.sample(numbers, 10))),
        "requests/{id}": lambda fmt: f"/open311/v2/requests/{rng.choice(numbers)}.{fmt}",
    }
    results = []
    try:
        wait_http(port, timeout=90)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for label, path in kinds.items():
            for fmt in ("json", "xml"):
                for _ in range(10):  # warm-up
                    conn.request("GET", path(fmt))
                    conn.getresponse().read()
                lat = []
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    conn.request("GET", path(fmt))
                    response = conn.getresponse()
                    body = response.read()
                    lat.append((time.perf_counter() - started) * 1000)
                    if response.status != 200:
                        raise SystemExit(f"{path(fmt)} -> {response.status}: {body[:200]!r}")
                results.append((label, fmt, pct(lat, 50), pct(lat, 95), pct(lat, 99), len(body)))
    finally:
        server.terminate()
        server.wait(30)
    print(f"\nOpen311 GET over {args.tickets:,} Open311 tickets (PostgreSQL, gunicorn {args.workers} sync workers, "
          f"sequential requests; L = {loop:.2f} s):")
    print(f"  {'query':<38} {'fmt':<4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'bytes':>8}")
    for label, fmt, p50, p95, p99, size in results:
        print(f"  {label:<38} {fmt:<4} {p50:8.1f} {p95:8.1f} {p99:8.1f} {size:8,}")
    print(f"  target: p95 <= 100 ms at 1 M tickets on the reference core (L = 0.6 s); this machine L = {loop:.2f} s")
    if args.submissions:
        run_submissions(args, env, bin_dir, url, loop)
    if not args.keep:
        drop_database(args.admin_url, args.database)


if __name__ == "__main__":
    main()
