"""What the transactional outbox costs per created ticket: the same ticket-creation service call on
PostgreSQL, in one process, with events delivered in-process only (the embedded default: no outbox
rows), relayed to Redis from memory without an outbox row (what Redis publishing costs alone), and
with REDIS_URL as deployed (outbox row in the ticket's transaction, relay and keeper threads). Prints
this process's CPU time per ticket (all threads: the relay's publishing and marking included) and
the wall time per ticket, alternating the two modes over several rounds so machine load hits both.

    .venv/bin/python bench/outbox_cost.py [--tickets 300] [--rounds 3]

Needs PostgreSQL at BENCH_DATABASE_ADMIN_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test;
creates and drops hotline_bench_outbox) and Redis at --redis.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from common import reference_loop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ADMIN_URL = os.environ.get("BENCH_DATABASE_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DB_URL = make_url(ADMIN_URL).set(database="hotline_bench_outbox").render_as_string(hide_password=False)
BODY = {"type": "投诉", "channel": "phone", "content": "小区门口餐馆油烟很大，晚上熏得没法开窗，希望有关部门处理",
        "caller": {"name": "张先生", "phone": "13812345678"}, "address": "罗阳街道北门路12号", "town": "luoyang"}


def _database(create: bool) -> None:
    engine = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text('DROP DATABASE IF EXISTS "hotline_bench_outbox" WITH (FORCE)'))
        if create:
            conn.execute(text('CREATE DATABASE "hotline_bench_outbox"'))
    engine.dispose()


def run(app, n: int) -> tuple[float, float]:
    from hotline.events import bus
    from hotline.extensions import db
    from hotline.identity import Actor
    from ticketing.service import create_ticket

    actor = Actor(username="operator1", role="operator")
    with app.app_context():
        for _ in range(20):  # warm-up: statement caches, connections
            create_ticket(db.session, dict(BODY), actor)
        bus.flush(30)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            create_ticket(db.session, dict(BODY), actor)
        assert bus.flush(60), "relay did not drain"
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        db.Session.remove()
    return cpu / n * 1000, wall / n * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    args = ap.parse_args()
    import logging

    from hotline.app import create_app
    from hotline.app.dbadmin import seed, upgrade
    from hotline.extensions import db

    _database(create=True)
    try:
        upgrade(DB_URL)
        instance = tempfile.mkdtemp(prefix="hotline-bench-outbox-")
        base = {"database_url": DB_URL, "sip_enabled": False, "secret_key": "bench", "testing": True,
                "recordings_dir": instance}
        results: dict[str, list[tuple[float, float]]] = {"in-process only": [], "Redis, no outbox": [],
                                                         "outbox + Redis relay": []}
        for _ in range(args.rounds):
            for mode in results:
                app = create_app(dict(base, redis_url="" if mode == "in-process only" else args.redis))
                if mode == "Redis, no outbox":  # events relayed from memory: what Redis costs alone
                    from hotline.events import bus

                    bus.connect_redis(args.redis, engine=None)
                logging.getLogger().setLevel(logging.WARNING)
                with app.app_context():
                    seed(db.session, demo=True)
                    db.Session.remove()
                results[mode].append(run(app, args.tickets))
        loop = reference_loop()
        print(f"outbox_cost: {args.tickets} tickets x {args.rounds} rounds per mode, PostgreSQL, "
              f"service call in-process (L = {loop:.2f} s, load average {os.getloadavg()[0]:.1f})")
        for mode, rows in results.items():
            cpu = statistics.median(r[0] for r in rows)
            wall = statistics.median(r[1] for r in rows)
            print(f"  {mode:22s} CPU {cpu:6.2f} ms/ticket  wall {wall:6.2f} ms/ticket  "
                  f"(rounds: {', '.join(f'{r[0]:.2f}' for r in rows)})")
        with create_engine(DB_URL).connect() as conn:
            pending = conn.execute(text("SELECT count(*) FROM event_outbox WHERE relayed_at IS NULL")).scalar()
        print(f"  outbox rows left unrelayed: {pending}")
    finally:
        from hotline.events import bus

        bus.disconnect_redis()
        db.Session.remove()
        if db.engine is not None:
            db.engine.dispose()
        _database(create=False)


if __name__ == "__main__":
    main()
