"""KPI view speed over large ticket histories (PostgreSQL).

For each size N (default 1,000,000 and 10,000,000) this script
1. recreates a bench database (never the `test` database), migrates it and seeds the directory;
2. seeds N tickets received over the last 3 years with INSERT ... SELECT generate_series (type mix
   of a real centre, all units with a skewed load, ~8 % signed late, ~10 % replied late, 5 %
   returned, repeat callers) and builds the rollups set-based from them (kpi_ticket_facts with the
   same counter rules as ``supervision.rollup.ticket_facts``, kpi_daily by GROUP BY), printing how
   long each step took;
3. times the KPI view exactly as the API runs it (``supervision.kpis.report`` and ``ranking``)
   for typical supervisor queries, and prints p50/p95; then the 报表 page's API calls through the
   app as a supervisor (``/api/v1/reports`` in every grouping, ranking, drill-downs, an export);
4. times, for comparison, a raw GROUP BY over the tickets table computing the same per-unit
   counters for one year;
5. with --incremental K, writes K more tickets with full hash-chained history
   (``supervision.demo``) and times the incremental rollup updater (``rollup.catch_up``) on top of
   the large history.

The synthetic tickets carry no event history (70 M events would only slow seeding); step 5
exercises the real event path.

    .venv/bin/python bench/kpi.py                       # 1 M and 10 M
    .venv/bin/python bench/kpi.py --sizes 100000 --repeat 10 --incremental 2000   # quick run
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from common import (drop_database, drop_indexes, pct, recreate, reference_loop, restore_indexes,  # noqa: E402
                    timed)

DAYS = 1095
CHUNK = 1_000_000
TYPE_CASE = """CASE WHEN rt < 0.63 THEN '咨询' WHEN rt < 0.92 THEN '求助' WHEN rt < 0.95 THEN '投诉'
    WHEN rt < 0.965 THEN '举报' WHEN rt < 0.985 THEN '建议' WHEN rt < 0.995 THEN '表扬' ELSE '申请' END"""
REPLY_DAYS = "CASE type WHEN '咨询' THEN 2 WHEN '投诉' THEN 15 WHEN '举报' THEN 15 WHEN '表扬' THEN 5 ELSE 10 END"




def seed_tickets(conn, n: int, dept_ids: list[int], town_ids: list[int]) -> None:
    """N tickets: 85 % of 咨询 answered directly, the rest dispatched to a unit (skewed load); 90 %
    name a town."""
    depts = "ARRAY[" + ",".join(map(str, dept_ids)) + "]"
    towns = "ARRAY[" + ",".join(map(str, town_ids)) + "]"
    for lo in range(1, n + 1, CHUNK):
        hi = min(n, lo + CHUNK - 1)
        conn.execute(text(f"""
        INSERT INTO tickets (id, number, channel, type, urgency, status, caller_phone, confidential, content,
            main_department_id, town_id, received_at, sign_by, reply_by, dispatched_at, signed_at, replied_at, closed_at,
            satisfaction, solved, direct_answer, reopen_count, created_by, created_at, updated_at, event_count,
            head_hash, version)
        SELECT g, 'B' || lpad(g::text, 14, '0'), 'phone', type, 'normal', CASE WHEN direct THEN 'closed'
                   WHEN rc < 0.9 THEN 'closed' ELSE 'callback' END,
               '13' || lpad((rp * 70000000)::bigint::text, 9, '0'), false, '小区路灯损坏',
               CASE WHEN direct THEN NULL ELSE ({depts})[1 + floor(rdept * rdept * {len(dept_ids)})::int] END,
               CASE WHEN rp < 0.1 THEN NULL ELSE ({towns})[1 + (g % {len(town_ids)})::int] END,
               rec, rec + interval '1 day', rec + make_interval(days => {REPLY_DAYS}),
               CASE WHEN direct THEN NULL ELSE rec + interval '20 minutes' END,
               CASE WHEN direct THEN NULL WHEN rs < 0.92 THEN rec + interval '5 hours' ELSE rec + interval '30 hours' END,
               CASE WHEN direct THEN NULL WHEN rr < 0.90 THEN rec + make_interval(days => {REPLY_DAYS} - 1)
                    ELSE rec + make_interval(days => {REPLY_DAYS} + 1) END,
               CASE WHEN direct OR rc < 0.9 THEN rec + make_interval(days => {REPLY_DAYS} + 2) END,
               CASE WHEN direct OR rc >= 0.9 THEN NULL WHEN rsat < 0.85 THEN '满意' WHEN rsat < 0.95 THEN '基本满意'
                    ELSE '不满意' END,
               CASE WHEN direct OR rc >= 0.9 THEN NULL ELSE rsat < 0.93 END,
               CASE WHEN direct THEN '{{"answer": "知识库答复", "article_id": null}}' END,
               CASE WHEN NOT direct AND rc < 0.9 AND rsat >= 0.95 THEN 1 ELSE 0 END,
               'bench', rec, rec, 0, '', 1
        FROM (SELECT g, rec, {TYPE_CASE} AS type, rt, rs, rr, rc, rsat, rp, rdept,
                     ({TYPE_CASE}) = '咨询' AND rd < 0.85 AS direct
              FROM (SELECT g, (now() AT TIME ZONE 'UTC') - random() * interval '{DAYS} days' AS rec,
                           random() rt, random() rd, random() rs, random() rr, random() rc, random() rsat,
                           random() rp, random() rdept
                    FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g) r) s
        """), {"lo": lo, "hi": hi})
        print(f"    {hi:>10} tickets", flush=True)


def build_rollups(conn, dept_ids: list[int]) -> None:
    """Facts with the rules of ``rollup.ticket_facts`` (set-based), then the daily and monthly sums
    with the same pre-aggregated "all types" / "all units" rows as ``rollup.apply_deltas``."""
    conn.execute(text(f"""
    INSERT INTO kpi_ticket_facts (ticket_id, department_id, day, type, town_id, received, direct, dispatched, returned,
        signed_on_time, replied_on_time, extended, callback_due, called_back, satisfied, solved, reopened,
        has_phone, repeat_call)
    SELECT id, coalesce(main_department_id, 0), ((received_at AT TIME ZONE 'UTC') AT TIME ZONE 'Asia/Shanghai')::date,
           type, coalesce(town_id, 0), 1, (direct_answer IS NOT NULL)::int, (main_department_id IS NOT NULL)::int, 0,
           coalesce(signed_at <= sign_by, false)::int, coalesce(replied_at <= reply_by, false)::int,
           (main_department_id IS NOT NULL AND id % 33 = 0)::int,
           (replied_at IS NOT NULL)::int, (satisfaction IS NOT NULL)::int,
           coalesce(satisfaction IN ('满意', '基本满意'), false)::int, coalesce(solved, false)::int,
           (reopen_count > 0)::int, (caller_phone IS NOT NULL)::int,
           coalesce(lag(received_at) OVER (PARTITION BY caller_phone ORDER BY received_at, id)
                    >= received_at - interval '30 days', false)::int
    FROM tickets
    """))
    # 5 % of dispatched tickets were first returned by another unit: that unit's holding
    n = len(dept_ids)
    conn.execute(text(f"""
    INSERT INTO kpi_ticket_facts (ticket_id, department_id, day, type, town_id, dispatched, returned)
    SELECT f.ticket_id, (ARRAY[{",".join(map(str, dept_ids))}])[1 + (f.ticket_id % {n})], f.day, f.type, f.town_id, 1, 1
    FROM kpi_ticket_facts f
    WHERE f.department_id <> 0 AND f.ticket_id % 20 = 0
      AND (ARRAY[{",".join(map(str, dept_ids))}])[1 + (f.ticket_id % {n})] <> f.department_id
    """))
    cols = ("received", "direct", "dispatched", "returned", "signed_on_time", "replied_on_time", "extended",
            "callback_due", "called_back", "satisfied", "solved", "reopened", "has_phone", "repeat_call")
    conn.execute(text(f"""
    INSERT INTO kpi_daily (day, department_id, type, {", ".join(cols)})
    SELECT day, coalesce(department_id, -1), coalesce(type, '*'), {", ".join(f"sum({c})" for c in cols)}
    FROM kpi_ticket_facts
    GROUP BY GROUPING SETS ((day, department_id, type), (day, department_id), (day, type), (day))
    """))
    conn.execute(text(f"""
    INSERT INTO kpi_monthly (month, department_id, type, {", ".join(cols)})
    SELECT date_trunc('month', day)::date, department_id, type, {", ".join(f"sum({c})" for c in cols)}
    FROM kpi_daily GROUP BY 1, department_id, type
    """))
    conn.execute(text(f"""
    INSERT INTO kpi_town_daily (day, town_id, {", ".join(cols)})
    SELECT day, town_id, {", ".join(f"sum({c})" for c in cols)} FROM kpi_ticket_facts GROUP BY day, town_id
    """))




def bench_queries(session, repeat: int) -> dict:
    from hotline.config import Config
    from supervision import kpis

    today = date.today()
    target = Config.from_env().answer_target_seconds
    queries = {
        "units, last 30 days": lambda: kpis.report(session, today - timedelta(days=29), today, "department",
                                                   answer_target=target),
        "units, last 365 days": lambda: kpis.report(session, today - timedelta(days=364), today, "department",
                                                    answer_target=target),
        "units, all 3 years": lambda: kpis.report(session, today - timedelta(days=DAYS), today, "department",
                                                  answer_target=target),
        "types, last 365 days": lambda: kpis.report(session, today - timedelta(days=364), today, "type",
                                                    answer_target=target),
        "trend per day, last 90 days": lambda: kpis.report(session, today - timedelta(days=89), today, "day",
                                                           answer_target=target),
        "ranking, last 365 days": lambda: kpis.ranking(session, today - timedelta(days=364), today,
                                                       answer_target=target),
    }
    every: list[float] = []
    per = {}
    for name, fn in queries.items():
        fn()
        session.rollback()
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            fn()
            times.append((time.perf_counter() - started) * 1000)
            session.rollback()
        per[name] = times
        every.extend(times)
        print(f"  KPI {name:<32} p50 {pct(times, .5):7.1f} ms   p95 {pct(times, .95):7.1f} ms", flush=True)
    print(f"  KPI view, all queries ({len(every)} runs)      p50 {pct(every, .5):7.1f} ms   "
          f"p95 {pct(every, .95):7.1f} ms", flush=True)
    return {"p50": pct(every, .5), "p95": pct(every, .95)}


def bench_reports(url: str, repeat: int) -> dict:
    """The reports page's API calls through the app (HTTP handling, JSON) as a supervisor: the
    table in every grouping, a ranking, the trend, drill-downs (first and a deep page) and exports."""
    from hotline.app import create_app
    from hotline.app.dbadmin import seed
    from hotline.extensions import db

    app = create_app({"database_url": url, "testing": True, "sip_enabled": False, "secret_key": "bench-reports"})
    with app.app_context():
        seed(db.session, demo=True)
        busiest = db.session.execute(text(
            "SELECT d.code FROM kpi_daily k JOIN departments d ON d.id = k.department_id "
            "WHERE k.type = '*' GROUP BY d.code ORDER BY sum(k.received) DESC LIMIT 1")).scalar()
        db.Session.remove()
    client = app.test_client()
    token = client.post("/api/v1/auth/token", json={"username": "supervisor", "password": "supervisor-pass"}).get_json()
    headers = {"Authorization": f"Bearer {token['token']}"}
    today = date.today()
    d30, d365, d3y = (f"from={today - timedelta(days=k)}&to={today}" for k in (29, 364, DAYS))
    calls = {
        "units, 30 days (page load)": f"/api/v1/reports?{d30}&group_by=unit",
        "trend per day, 30 days (page load)": f"/api/v1/reports?{d30}&group_by=day",
        "units, 365 days, ranked by 按期办结率": f"/api/v1/reports?{d365}&group_by=unit&sort=on_time_rate",
        "types, 365 days": f"/api/v1/reports?{d365}&group_by=type",
        "towns, 365 days": f"/api/v1/reports?{d365}&group_by=town",
        "weeks, 365 days (trend)": f"/api/v1/reports?{d365}&group_by=week",
        "months, 3 years": f"/api/v1/reports?{d3y}&group_by=month",
        "drill: busiest unit 按期办结率 denominator, 30 d": f"/api/v1/reports/tickets?{d30}&group_by=unit&key={busiest}"
                                                    "&kpi=on_time_rate&part=denominator",
        "drill: same, page 40": f"/api/v1/reports/tickets?{d30}&group_by=unit&key={busiest}"
                                "&kpi=on_time_rate&part=denominator&page=40",
        "drill: all 受理量, 365 days": f"/api/v1/reports/tickets?{d365}&group_by=unit&kpi=received",
        "drill: all 退回率 denominator, 30 days": f"/api/v1/reports/tickets?{d30}&group_by=unit&kpi=return_rate",
        "drill: one town 满意率 numerator, 365 d": f"/api/v1/reports/tickets?{d365}&group_by=town&key=longxi"
                                                 "&kpi=satisfaction_rate&part=numerator",
        "export xlsx, units, 365 days": f"/api/v1/reports/export.xlsx?{d365}&group_by=unit",
    }
    every: list[float] = []
    for name, path in calls.items():
        r = client.get(path, headers=headers)
        assert r.status_code == 200, (path, r.status_code, r.get_data(as_text=True)[:300])
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            client.get(path, headers=headers)
            times.append((time.perf_counter() - started) * 1000)
        every.extend(times)
        print(f"  report API {name:<46} p50 {pct(times, .5):7.1f} ms   p95 {pct(times, .95):7.1f} ms", flush=True)
    print(f"  report API, all calls ({len(every)} runs)                        p50 {pct(every, .5):7.1f} ms   "
          f"p95 {pct(every, .95):7.1f} ms", flush=True)
    with app.app_context():
        db.Session.remove()
        db.engine.dispose()
    return {"p50": pct(every, .5), "p95": pct(every, .95)}


def bench_raw(conn, repeat: int) -> dict:
    sql = text("""
    SELECT main_department_id, count(*), sum((direct_answer IS NOT NULL)::int),
           sum(coalesce(signed_at <= sign_by, false)::int), sum(coalesce(replied_at <= reply_by, false)::int),
           sum((satisfaction IS NOT NULL)::int), sum(coalesce(satisfaction IN ('满意', '基本满意'), false)::int),
           sum(coalesce(solved, false)::int), sum((reopen_count > 0)::int)
    FROM tickets WHERE received_at >= (now() AT TIME ZONE 'UTC') - interval '365 days'
    GROUP BY main_department_id""")
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        conn.execute(sql).all()
        times.append((time.perf_counter() - started) * 1000)
    print(f"  raw GROUP BY over tickets, 365 days ({repeat} runs)  p50 {pct(times, .5):7.0f} ms   "
          f"p95 {pct(times, .95):7.0f} ms", flush=True)
    return {"p50": pct(times, .5), "p95": pct(times, .95)}


def bench_incremental(url: str, k: int) -> None:
    from supervision import demo
    from supervision.rollup import catch_up

    engine = create_engine(url)
    with Session(engine) as session:
        session.execute(text("SELECT setval('tickets_id_seq', (SELECT max(id) FROM tickets))"))
        session.execute(text("INSERT INTO kpi_state (name, last_event_id, updated_at) VALUES "
                             "('tickets', coalesce((SELECT max(id) FROM ticket_events), 0), now()) "
                             "ON CONFLICT (name) DO NOTHING"))
        session.commit()
        started = time.perf_counter()
        result = demo.generate(session, k, days=30, seed=7, update_rollups=False)
        print(f"  demo history: {result['tickets']} tickets, {result['events']} events "
              f"{time.perf_counter() - started:8.1f} s", flush=True)
        started = time.perf_counter()
        n = catch_up(session, lag=timedelta(0))
        elapsed = time.perf_counter() - started
        print(f"  incremental rollup catch-up: {n} tickets in {elapsed:.2f} s "
              f"({n / elapsed:,.0f} tickets/s)", flush=True)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="bench_supervision")
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--repeat", type=int, default=40, help="runs per KPI query")
    parser.add_argument("--raw-repeat", type=int, default=5)
    parser.add_argument("--incremental", type=int, default=0, help="also time the updater for K new tickets")
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    parser.add_argument("--reuse", action="store_true",
                        help="time only the report API on the database a --keep run left (one size)")
    args = parser.parse_args()
    if args.database in ("test", "postgres"):
        sys.exit("refusing to use the test or postgres database")

    from hotline.app.dbadmin import import_models, upgrade
    from ticketing import directory

    import_models()
    print(f"machine: reference loop L = {reference_loop():.2f} s (DESIGN.md's reference core: 0.6 s)", flush=True)
    results = []
    if args.reuse:
        from sqlalchemy.engine import make_url

        url = make_url(args.admin_url).set(database=args.database).render_as_string(hide_password=False)
        with create_engine(url).connect() as conn:
            print(f"\n== reusing {args.database}: {conn.execute(text('SELECT count(*) FROM tickets')).scalar():,} tickets ==")
        bench_reports(url, args.repeat)
        return
    for n in (int(s) for s in args.sizes.split(",")):
        print(f"\n== {n:,} tickets ==", flush=True)
        url = recreate(args.admin_url, args.database)
        upgrade(url)
        engine = create_engine(url)
        with Session(engine) as session:
            directory.seed(session)
            dept_ids = [r[0] for r in session.execute(text("SELECT id FROM departments ORDER BY id"))]
            town_ids = [r[0] for r in session.execute(text("SELECT id FROM towns ORDER BY id"))]
        total = 0.0
        with engine.begin() as conn:
            conn.execute(text("SET synchronous_commit = off; SET maintenance_work_mem = '1GB'; SET work_mem = '256MB'"))
            indexes = drop_indexes(conn, "tickets")
            _, t = timed(f"seed {n:,} tickets (generate_series)", lambda: seed_tickets(conn, n, dept_ids, town_ids))
            total += t

            _, t = timed(f"index tickets ({len(indexes)} indexes)", lambda: restore_indexes(conn, indexes))
            total += t
            fact_indexes = list(conn.execute(text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'kpi_ticket_facts' "
                "AND indexname <> 'kpi_ticket_facts_pkey'")))
            for name, _ in fact_indexes:
                conn.execute(text(f'DROP INDEX "{name}"'))
            _, t = timed("build rollups (facts, daily, monthly)", lambda: build_rollups(conn, dept_ids))
            total += t
            _, t = timed(f"index facts ({len(fact_indexes)} indexes)",
                         lambda: [conn.execute(text(ddl)) for _, ddl in fact_indexes])
            total += t
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            _, t = timed("VACUUM ANALYZE", lambda: conn.execute(text("VACUUM ANALYZE")))
            total += t
            daily_rows = conn.execute(text("SELECT count(*) FROM kpi_daily")).scalar()
            size = conn.execute(text("SELECT pg_size_pretty(pg_database_size(current_database()))")).scalar()
        print(f"  seeding total                                {total:8.1f} s   "
              f"(kpi_daily: {daily_rows:,} rows; database {size})", flush=True)
        with Session(engine) as session:
            q = bench_queries(session, args.repeat)
        with engine.connect() as conn:
            raw = bench_raw(conn, args.raw_repeat)
        engine.dispose()
        rep = bench_reports(url, args.repeat)
        if args.incremental:
            bench_incremental(url, args.incremental)
        results.append((n, total, q, raw, rep))
    print(f"\nsummary (PostgreSQL, 2 cores; L = {reference_loop():.2f} s):")
    print(f"  {'tickets':>12} {'seed s':>8} {'KPI p50 ms':>11} {'KPI p95 ms':>11} {'raw p50 ms':>11} {'raw p95 ms':>11}"
          f" {'report p50':>11} {'report p95':>11}")
    for n, total, q, raw, rep in results:
        print(f"  {n:>12,} {total:>8.1f} {q['p50']:>11.1f} {q['p95']:>11.1f} {raw['p50']:>11.0f} {raw['p95']:>11.0f}"
              f" {rep['p50']:>11.1f} {rep['p95']:>11.1f}")
    if not args.keep:
        drop_database(args.admin_url, args.database)


if __name__ == "__main__":
    main()
