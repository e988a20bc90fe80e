"""Hot-topic computation for one day over large ticket histories (PostgreSQL).

For each size N (default 1,000,000 and 10,000,000) this script
1. recreates a bench database (never the `test` database), migrates it, seeds the directory and the
   dispatch catalogue;
2. seeds N tickets received over the last 3 years with INSERT ... SELECT generate_series: the text
   of each is one of a few sentences about one of 60 catalogue matters (skewed: a few matters are
   common), the town skewed over the seeded towns; on the last day a few injected spikes;
3. builds the hot-topic rollup set-based: ``hotspot_facts`` with the matter each sentence was
   written for (classifying 10 M texts one by one would take the job's ~1 ms a ticket for hours;
   the job's own speed is measured in step 5), ``hotspot_daily`` by GROUP BY;
4. times the hot-topic computation for a day exactly as the API runs it
   (``supervision.hotspots.report``: every matter x town cell of the day against its same-weekday
   baseline, the spike test with the correction, the clusters of the 3-day window, the alerts) for
   the last ``--days`` days, and prints p50/p95/max, with the parts (cells+test, clusters);
5. with --incremental K, inserts K more tickets and times the rollup job (``hotspots.catch_up``:
   classification by the catalogue and the count update) on top of the large history.

    .venv/bin/python bench/hotspots.py                       # 1 M and 10 M
    .venv/bin/python bench/hotspots.py --sizes 100000 --days 5 --incremental 5000   # quick run
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from common import (drop_database, drop_indexes, pct, recreate, reference_loop, restore_indexes,  # noqa: E402
                    timed)

DAYS = 1095
CHUNK = 1_000_000
TEMPLATES = ("市民来电反映{kw}的问题，已经好几天了，希望尽快处理。", "{kw}，请相关部门过来看看。",
             "我们这里{kw}很严重，不是第一次反映了", "反映{kw}，影响生活，麻烦处理一下")






def sentences(session) -> list[tuple[str, str]]:
    """(text, matter) pairs: 60 catalogue matters x the templates, with each matter's first phrase."""
    from routing.models import CatalogueEntry
    from sqlalchemy import select

    entries = session.scalars(select(CatalogueEntry).order_by(CatalogueEntry.id)).all()[:60]
    return [(t.format(kw=e.keywords[0] if e.keywords else e.matter), e.matter) for e in entries for t in TEMPLATES]


def seed(conn, n: int, texts: list[tuple[str, str]], towns: list[int]) -> None:
    conn.execute(text("CREATE TEMP TABLE bench_texts (k int PRIMARY KEY, content text, matter text)"))
    conn.execute(text("INSERT INTO bench_texts VALUES (:k, :c, :m)"),
                 [{"k": k, "c": c, "m": m} for k, (c, m) in enumerate(texts)])
    arr = "ARRAY[" + ",".join(map(str, towns)) + "]"
    m = len(texts)
    for lo in range(1, n + 1, CHUNK):
        hi = min(n, lo + CHUNK - 1)
        conn.execute(text(f"""
        INSERT INTO tickets (id, number, channel, type, urgency, status, confidential, content, town_id,
            received_at, reopen_count, created_by, created_at, updated_at, event_count, head_hash, version)
        SELECT g, 'H' || lpad(g::text, 14, '0'), 'phone', '求助', 'normal', 'closed', false, t.content,
               ({arr})[1 + floor(rt * rt * {len(towns)})::int], rec, 0, 'bench', rec, rec, 0, '', 1
        FROM (SELECT g, (now() AT TIME ZONE 'UTC') - random() * interval '{DAYS} days' AS rec, random() rt,
                     floor(random() * random() * {m})::int AS k
              FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g) r
        JOIN bench_texts t ON t.k = r.k
        """), {"lo": lo, "hi": hi})
        print(f"    {hi:>10} tickets", flush=True)


def spikes(conn, texts, towns, start_id: int) -> int:
    """Five injected spikes on the last day: 60 more tickets each of one matter in one town."""
    rows = 0
    for i in range(5):
        k = 7 + 9 * i * len(TEMPLATES)
        conn.execute(text(f"""
        INSERT INTO tickets (id, number, channel, type, urgency, status, confidential, content, town_id,
            received_at, reopen_count, created_by, created_at, updated_at, event_count, head_hash, version)
        SELECT g, 'S' || lpad(g::text, 14, '0'), 'phone', '求助', 'normal', 'closed', false, :c, :town,
               (now() AT TIME ZONE 'UTC') - random() * interval '6 hours', 0, 'bench', now(), now(), 0, '', 1
        FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g
        """), {"c": texts[k % len(texts)][0], "town": towns[i % len(towns)], "lo": start_id + rows + 1,
               "hi": start_id + rows + 60})
        rows += 60
    return rows


def build_rollup(conn) -> None:
    conn.execute(text("""
    INSERT INTO hotspot_facts (ticket_id, day, town_id, matter, counted)
    SELECT t.id, ((t.received_at AT TIME ZONE 'UTC') AT TIME ZONE 'Asia/Shanghai')::date, coalesce(t.town_id, 0),
           b.matter, 1
    FROM tickets t JOIN bench_texts b ON b.content = t.content
    """))
    conn.execute(text("""
    INSERT INTO hotspot_daily (day, matter, town_id, count)
    SELECT day, matter, town_id, count(*) FROM hotspot_facts GROUP BY day, matter, town_id
    """))
    conn.execute(text("INSERT INTO kpi_state (name, last_event_id, updated_at) VALUES "
                      "('hotspots.tickets', (SELECT max(id) FROM tickets), now()), ('hotspots.events', 0, now())"))


def bench_day(session, days: int) -> dict:
    from hotline.clock import to_local, utcnow
    from supervision import hotspots

    settings = hotspots.HotspotSettings()
    today = to_local(utcnow()).date()
    total, cells, clusters, found = [], [], [], None
    for i in range(days):
        day = today - timedelta(days=i)
        t0 = time.perf_counter()
        rep = hotspots.report(session, day, settings)
        total.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        hotspots.cells(session, day, settings)
        cells.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        hotspots.clusters(session, day, settings)
        clusters.append(time.perf_counter() - t0)
        session.rollback()
        if i == 0:
            found = rep
    print(f"  day {today}: {found['total']} tickets, {found['tested']} cells tested, {len(found['spikes'])} spikes, "
          f"{len(found['clusters'])} clusters shown", flush=True)
    for s in found["spikes"][:8]:
        print(f"    spike: {s['town_name']} {s['matter']} {s['count']} (baseline {s['baseline']}, q {s['q_value']:.1e})")
    out = {"p50": pct(total, 0.5), "p95": pct(total, 0.95), "max": max(total),
           "cells_p95": pct(cells, 0.95), "clusters_p95": pct(clusters, 0.95)}
    print(f"  hot topics for a day (report): p50 {out['p50']:.2f} s  p95 {out['p95']:.2f} s  max {out['max']:.2f} s  "
          f"[cells+test p95 {out['cells_p95']:.3f} s, clusters p95 {out['clusters_p95']:.2f} s] over {days} days",
          flush=True)
    return out


def bench_incremental(session, k: int, texts, towns, start_id: int) -> None:
    from supervision import hotspots

    rows = [{"id": start_id + i, "number": f"I{start_id + i:014d}", "content": texts[i % len(texts)][0],
             "town": towns[i % len(towns)]} for i in range(1, k + 1)]
    session.execute(text("""
        INSERT INTO tickets (id, number, channel, type, urgency, status, confidential, content, town_id,
            received_at, reopen_count, created_by, created_at, updated_at, event_count, head_hash, version)
        VALUES (:id, :number, 'phone', '求助', 'normal', 'closed', false, :content, :town,
                (now() AT TIME ZONE 'UTC') - interval '2 hours', 0, 'bench', (now() AT TIME ZONE 'UTC') - interval '2 hours',
                now(), 0, '', 1)"""), rows)
    session.commit()
    hotspots.catch_up(session)  # warm: the catalogue engine is built once per process
    started = time.perf_counter()
    session.execute(text("UPDATE kpi_state SET last_event_id = :id WHERE name = 'hotspots.tickets'"), {"id": start_id})
    session.execute(text("DELETE FROM hotspot_facts WHERE ticket_id > :id"), {"id": start_id})
    session.commit()
    started = time.perf_counter()
    n = hotspots.catch_up(session)
    elapsed = time.perf_counter() - started
    print(f"  incremental job: {n} new tickets classified and counted in {elapsed:.2f} s "
          f"({n / elapsed:,.0f} tickets/s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="bench_hotspots")
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--days", type=int, default=10, help="days whose hot topics are computed")
    parser.add_argument("--incremental", type=int, default=0, help="also time the job for K new tickets")
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args()
    if args.database in ("test", "postgres"):
        sys.exit("refusing to use the test or postgres database")
    loop = reference_loop()
    print(f"machine: reference loop {loop:.2f} s (DESIGN.md's reference core: 0.6 s)", flush=True)

    from hotline.app.dbadmin import import_models, upgrade
    from routing import catalogue
    from ticketing import directory

    import_models()
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        print(f"\n== {n:,} tickets ==", flush=True)
        url = recreate(args.admin_url, args.database)
        upgrade(url)
        engine = create_engine(url)
        with Session(engine) as session:
            directory.seed(session)
            catalogue.ensure_seeded(session)
            texts = sentences(session)
            towns = [r[0] for r in session.execute(text("SELECT id FROM towns ORDER BY id"))]
        total = 0.0
        with engine.begin() as conn:
            conn.execute(text("SET synchronous_commit = off; SET maintenance_work_mem = '1GB'; SET work_mem = '256MB'"))
            indexes = drop_indexes(conn, "tickets")
            _, t = timed(f"seed {n:,} tickets (generate_series)", lambda: seed(conn, n, texts, towns))
            total += t
            extra, t = timed("inject 5 spikes on the last day", lambda: spikes(conn, texts, towns, n))
            total += t

            _, t = timed(f"index tickets ({len(indexes)} indexes)", lambda: restore_indexes(conn, indexes))
            total += t
            _, t = timed("build the hot-topic rollup (facts, daily)", lambda: build_rollup(conn))
            total += t
            conn.execute(text("SELECT setval('tickets_id_seq', (SELECT max(id) FROM tickets))"))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            _, t = timed("VACUUM ANALYZE", lambda: conn.execute(text("VACUUM ANALYZE")))
            total += t
            daily = conn.execute(text("SELECT count(*) FROM hotspot_daily")).scalar()
            size = conn.execute(text("SELECT pg_size_pretty(pg_database_size(current_database()))")).scalar()
        print(f"  seeding total                                    {total:8.1f} s   "
              f"(hotspot_daily: {daily:,} rows; database {size})", flush=True)
        with Session(engine) as session:
            from hotline.app import create_app

            app = create_app({"database_url": url, "testing": True, "sip_enabled": False, "secret_key": "bench"})
            with app.app_context():
                q = bench_day(session, args.days)
                if args.incremental:
                    bench_incremental(session, args.incremental, texts, towns, n + extra + 10)
        engine.dispose()
        results.append((n, total, q))
    print(f"\nsummary (PostgreSQL; reference loop {loop:.2f} s):")
    print(f"  {'tickets':>12} {'seed s':>8} {'day p50 s':>10} {'day p95 s':>10} {'day max s':>10}")
    for n, total, q in results:
        print(f"  {n:>12,} {total:>8.1f} {q['p50']:>10.2f} {q['p95']:>10.2f} {q['max']:>10.2f}")
    if not args.keep:
        drop_database(args.admin_url, args.database)


if __name__ == "__main__":
    main()
