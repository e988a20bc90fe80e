"""Event push latency, commit -> console: 300 Socket.IO clients, with and without Redis.

    .venv/bin/python bench/push_latency.py                   # both cases, 300 clients, 40 tickets
    .venv/bin/python bench/push_latency.py --clients 50 --tickets 10 --case local

Each case starts real web processes (Flask-SocketIO, threading mode, Werkzeug), connects
``--clients`` Socket.IO clients over WebSocket to the ``/console`` namespace (asyncio, spread
over a few client processes), then registers tickets through the
REST API: create, accept, dispatch to ``housing``. Every resulting event is emitted to the
``operators``/``supervisors``/``dept:housing`` rooms, which all clients are in.

Also printed: "1st ms", the median latency of the first client to get each event, and "spread",
the median time between the first and the last client getting the same event (the cost of the
fan-out itself).

Latency = client receive time - ``ts`` of the frame; ``ts`` is stamped by the console's bus
subscriber, which runs right after the database commit (events are published after commit). Same
machine, same clock.

Cases:
  local  one web process, no message queue (the embedded default)
  redis  two web processes sharing Redis (Flask-SocketIO message queue + the event bus on Redis);
         half the clients on each, all writes through process 1, so half the frames cross Redis.
Database: PostgreSQL database ``bench_console`` (created if missing) or ``--database-url``.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import free_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SECRET = "bench-push-latency-secret"
USERS = (("operator1", "operator1-pass"), ("supervisor", "supervisor-pass"), ("housing", "housing-pass"))


# -- server process -----------------------------------------------------------------------------------
def serve(port: int, database_url: str, redis_url: str, seed: bool) -> None:
    import logging

    from hotline.app import create_app
    from hotline.extensions import db, socketio

    app = create_app({"database_url": database_url, "redis_url": redis_url, "sip_enabled": False,
                      "secret_key": SECRET, "testing": False})
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    if seed:
        from hotline.app.dbadmin import seed as do_seed

        with app.app_context():
            do_seed(db.session, demo=True)
            db.Session.remove()
    socketio.run(app, host="127.0.0.1", port=port, allow_unsafe_werkzeug=True, log_output=False)


def start_server(port, database_url, redis_url, seed) -> subprocess.Popen:
    cmd = [sys.executable, __file__, "--serve", str(port), "--database-url", database_url,
           "--redis-url", redis_url] + (["--seed"] if seed else [])
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("server failed:\n" + proc.stderr.read().decode()[-3000:])
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.3)
    raise SystemExit("server did not start")


def login_cookie(base: str, username: str, password: str) -> dict:
    import requests

    s = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', s.get(base + "/login").text).group(1)
    r = s.post(base + "/login", data={"csrf_token": token, "username": username, "password": password},
               allow_redirects=False)
    assert r.status_code == 302, r.status_code
    return s.cookies.get_dict()


# -- client processes ---------------------------------------------------------------------------------
def client_worker(targets: list[tuple[str, dict, str]], ready, go, out) -> None:
    """Connect one Socket.IO client per target (base url, cookies, role) and record latencies.

    The clients speak Engine.IO 4 / Socket.IO 5 over a WebSocket directly (asyncio ``websockets``):
    one event loop holds a few hundred connections without a thread each, so the measuring side
    adds little of its own delay. The protocol is the one the browser's socket.io client speaks:
    open packet, ``40/console,`` to join the namespace, ping ``2`` / pong ``3``, events ``42``.
    """
    import asyncio

    asyncio.run(_clients(targets, ready, go, out))


async def _clients(targets, ready, go, out) -> None:
    import asyncio

    from websockets.asyncio.client import connect

    records: list[tuple[str, float]] = []
    connected: dict[str, int] = {}
    stop = asyncio.Event()

    async def one(base, cookies, role):
        url = base.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        for attempt in range(5):
            try:
                ws = await connect(url, additional_headers={"Cookie": cookie}, max_queue=None,
                                   ping_interval=None, open_timeout=20)
                break
            except Exception:  # noqa: BLE001 - retried, then counted as not connected
                await asyncio.sleep(0.5 + attempt)
        else:
            return
        async with ws:
            await ws.recv()  # Engine.IO open packet
            await ws.send("40/console,")
            joined = False
            while not stop.is_set():
                try:
                    msg = await asyncio.wait_for(ws.recv(), 0.5)
                except asyncio.TimeoutError:
                    continue
                except Exception:  # noqa: BLE001 - closed
                    return
                now = time.time() * 1000
                if msg == "2":
                    await ws.send("3")
                elif msg.startswith("40/console,") and not joined:
                    joined = True
                    connected[role] = connected.get(role, 0) + 1
                elif msg.startswith("42/console,"):
                    name, frame = json.loads(msg[len("42/console,"):])
                    if name == "event":
                        key = f"{frame['name']}:{frame['payload'].get('number')}:{frame['payload'].get('action')}"
                        records.append((key, now - frame["ts"]))

    tasks = [asyncio.create_task(one(*t)) for t in targets]
    deadline = time.monotonic() + 120
    while sum(connected.values()) < len(targets) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    ready.put(dict(connected))
    while not go.is_set():
        await asyncio.sleep(0.1)
    out.put(list(records))
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)


# -- one case -------------------------------------------------------------------------------------------
def run_case(name: str, args, database_url: str) -> dict:
    import redis
    import requests

    redis_url = args.redis if name == "redis" else ""
    if redis_url:
        redis.Redis.from_url(redis_url).flushdb()
    ports = [free_port()] + ([free_port()] if name == "redis" else [])
    servers = [start_server(p, database_url, redis_url, seed=(i == 0)) for i, p in enumerate(ports)]
    try:
        bases = [f"http://127.0.0.1:{p}" for p in ports]
        cookies = [login_cookie(bases[0], u, pw) for u, pw in USERS]
        targets = [(bases[i % len(bases)], cookies[i % len(cookies)], USERS[i % len(USERS)][0])
                   for i in range(args.clients)]
        ctx = mp.get_context("spawn")
        ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
        chunks = [targets[i::args.procs] for i in range(args.procs)]
        workers = [ctx.Process(target=client_worker, args=(chunk, ready, go, out)) for chunk in chunks]
        for w in workers:
            w.start()
        by_role: dict[str, int] = {}
        for _ in workers:
            for role, n in ready.get(timeout=300).items():
                by_role[role] = by_role.get(role, 0) + n
        connected = sum(by_role.values())
        desk = connected - by_role.get("housing", 0)
        time.sleep(1.0)

        token = requests.post(bases[0] + "/api/v1/auth/token",
                              json={"username": "operator1", "password": "operator1-pass"}).json()["token"]
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {token}"
        api = bases[0] + "/api/v1"
        expected = want = 0
        for i in range(args.tickets):
            number = http.post(api + "/tickets", json={"type": "求助", "content": f"压测工单 {i} 路灯不亮"}).json()["number"]
            http.post(f"{api}/tickets/{number}/actions/accept", json={})
            http.post(f"{api}/tickets/{number}/actions/dispatch", json={"main_department": "housing"})
            expected += 3
            want += 2 * desk + connected  # created/accept reach desk rooms; dispatch reaches housing too
            time.sleep(1.0 / args.rate)
        time.sleep(2.0)
        go.set()
        records = []
        for _ in workers:
            records.extend(out.get(timeout=120))
        for w in workers:
            w.join(30)
            if w.is_alive():
                w.terminate()
    finally:
        for s in servers:
            s.send_signal(signal.SIGTERM)
        for s in servers:
            try:
                s.wait(10)
            except subprocess.TimeoutExpired:
                s.kill()
    # other packages add events of their own (e.g. routing's routing_suggested); they are counted
    # apart so the exactly-once check covers the events this bench caused
    mine = (":None", ":accept", ":dispatch")
    ours = lambda key: key.startswith("ticket.") and key.endswith(mine)  # noqa: E731
    others = [r for r in records if not ours(r[0])]
    records = [r for r in records if ours(r[0])]
    lat = sorted(ms for _, ms in records)
    per_key: dict[str, int] = {}
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for key, ms in records:
        per_key[key] = per_key.get(key, 0) + 1
        first[key] = min(first.get(key, ms), ms)
        last[key] = max(last.get(key, ms), ms)
    spread = sorted(last[k] - first[k] for k in per_key)
    dupes = sum(max(0, n - (connected if key.endswith(":dispatch") else desk)) for key, n in per_key.items())
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [float("nan")] * 99
    return {"case": name, "web_processes": len(ports), "clients": connected, "events": expected,
            "frames_expected": want, "frames_received": len(lat), "duplicates": dupes,
            "other_frames": len(others),
            "p50_ms": round(q[49], 1), "p99_ms": round(q[98], 1), "max_ms": round(lat[-1], 1) if lat else None,
            "first_client_p50_ms": round(statistics.median(first.values()), 1) if first else None,
            "fanout_spread_p50_ms": round(statistics.median(spread), 1) if spread else None}


def ensure_database(url: str | None) -> str:
    if url:
        return url
    from sqlalchemy import create_engine, text

    admin = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname='bench_console'")).scalar():
            conn.execute(text("CREATE DATABASE bench_console"))
    admin.dispose()
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_console"
    from hotline.app.dbadmin import upgrade

    upgrade(url)
    return url


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    p.add_argument("--seed", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--redis-url", default="", help=argparse.SUPPRESS)
    p.add_argument("--database-url", default=None)
    p.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"))
    p.add_argument("--clients", type=int, default=300)
    p.add_argument("--procs", type=int, default=2, help="client processes")
    p.add_argument("--tickets", type=int, default=40, help="tickets registered (3 events each)")
    p.add_argument("--rate", type=float, default=2.0, help="tickets per second (record days: 1-3/s)")
    p.add_argument("--case", choices=("local", "redis", "both"), default="both")
    args = p.parse_args()
    if args.serve:
        serve(args.serve, args.database_url, args.redis_url, args.seed)
        return
    database_url = ensure_database(args.database_url)
    cases = ("local", "redis") if args.case == "both" else (args.case,)
    results = [run_case(c, args, database_url) for c in cases]
    print(f"push latency commit -> console ({os.cpu_count()} cores)")
    print(f"{'case':6} {'web':>3} {'clients':>7} {'events':>6} {'frames':>13} {'dup':>4} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'max ms':>7} {'1st ms':>7} {'spread':>7}")
    for r in results:
        print(f"{r['case']:6} {r['web_processes']:>3} {r['clients']:>7} {r['events']:>6} "
              f"{r['frames_received']:>6}/{r['frames_expected']:<6} {r['duplicates']:>4} {r['p50_ms']:>7} "
              f"{r['p99_ms']:>7} {r['max_ms']:>7} {r['first_client_p50_ms']:>7} {r['fanout_spread_p50_ms']:>7}")
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
