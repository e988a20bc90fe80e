"""Routing accuracy and latency on the held-out part of tests/data/routing_requests.csv.

    .venv/bin/python bench/routing_eval.py                 # SQLite in a temp dir
    .venv/bin/python bench/routing_eval.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_routing
    .venv/bin/python bench/routing_eval.py --cv 4          # k-fold on the TRAIN part only (for tuning)

Prints top-1 / top-3 department accuracy and type accuracy (catalogue-only model and catalogue +
training history), emergency recall/precision, a per-department confusion summary, and the latency
of one suggestion (service call incl. its DB check, and through the HTTP API).
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / "tests" / "data" / "routing_requests.csv"


def load_rows():
    with open(DATA, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def make_app(url: str | None):
    tmp = tempfile.mkdtemp(prefix="routing_eval_")
    os.environ.setdefault("HOTLINE_INSTANCE_DIR", tmp)
    url = url or f"sqlite:///{tmp}/eval.db"
    from hotline.app import create_app
    from hotline.app.dbadmin import seed, upgrade
    from hotline.extensions import db

    if url.startswith("postgresql"):
        from sqlalchemy import create_engine, text

        eng = create_engine(url)
        with eng.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        eng.dispose()
    upgrade(url)
    app = create_app({"database_url": url, "sip_enabled": False, "secret_key": "bench",
                      "testing": True})
    with app.app_context():
        seed(db.session, demo=True)
    return app


def evaluate(app, rows, label: str, show_confusion: bool) -> dict:
    from hotline.extensions import db
    from routing import service

    top1 = top3 = types = urgent_ok = 0
    em_tp = em_fp = em_fn = 0
    confusion: dict[str, Counter] = defaultdict(Counter)
    totals: Counter = Counter()
    misses = []
    with app.app_context():
        for r in rows:
            res = service.suggest(db.session, {"text": r["text"]})
            codes = [d["code"] for d in res["departments"]]
            gold = r["department"]
            totals[gold] += 1
            top1 += bool(codes) and codes[0] == gold
            top3 += gold in codes
            confusion[gold][codes[0] if codes else "-"] += 1
            if codes and codes[0] != gold:
                misses.append((gold, codes[:3], r["text"]))
            types += res["type"] == r["type"]
            urgent_ok += res["urgent"] == (r["urgent"] == "1")
            flagged = res["emergency"]["number"] if res["emergency"] else ""
            if flagged != r["emergency"]:
                misses.append(("EMERGENCY", r["emergency"] or "-", flagged or "-", r["text"]))
            if r["emergency"]:
                em_tp += flagged == r["emergency"]
                em_fn += flagged != r["emergency"]
            elif flagged:
                em_fp += 1
    n = len(rows)
    out = {"n": n, "top1": top1 / n, "top3": top3 / n, "type": types / n, "urgent": urgent_ok / n,
           "em_recall": em_tp / max(1, em_tp + em_fn), "em_fp": em_fp, "em_n": em_tp + em_fn}
    print(f"[{label}] n={n}  top-1 {out['top1']:.1%}  top-3 {out['top3']:.1%}  type {out['type']:.1%}  "
          f"urgent {out['urgent']:.1%}  emergency recall {em_tp}/{em_tp + em_fn}, false alarms {em_fp}")
    if show_confusion:
        print(f"  per-department confusion ({label}; units with a top-1 miss):")
        for gold in sorted(confusion):
            c = confusion[gold]
            wrong = {k: v for k, v in c.items() if k != gold}
            if wrong:
                print(f"    {gold:<18} {c[gold]}/{totals[gold]} right; sent to "
                      + ", ".join(f"{k}×{v}" for k, v in sorted(wrong.items(), key=lambda kv: -kv[1])))
        right_units = [g for g in confusion if confusion[g][g] == totals[g]]
        print(f"    ({len(right_units)} of {len(confusion)} units all right)")
    out["misses"] = misses
    return out


def train_with(app, rows):
    from hotline.extensions import db
    from routing import catalogue, service
    from routing.models import Example, TrainedModel

    with app.app_context():
        catalogue.ensure_seeded(db.session)
        db.session.query(Example).delete()
        db.session.query(TrainedModel).delete()
        db.session.commit()
        service.add_examples(db.session, rows)
        t = time.perf_counter()
        row = service.train(db.session, force=True)
        return row.n_examples, time.perf_counter() - t


def latency(app, texts, passes: int) -> None:
    from hotline.extensions import db
    from routing import service

    samples, cpu = [], []
    with app.app_context():
        service.suggest(db.session, {"text": texts[0]})
        for _ in range(passes):
            for t in texts:
                start, start_cpu = time.perf_counter(), time.thread_time()
                service.suggest(db.session, {"text": t})
                samples.append((time.perf_counter() - start) * 1000)
                cpu.append((time.thread_time() - start_cpu) * 1000)
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(other processes share this machine; CPU time is the less noisy figure)")
    _print_lat("service.suggest (wall)", samples)
    _print_lat("service.suggest (CPU of the calling thread)", cpu)
    client = app.test_client()
    token = client.post("/api/v1/auth/token", json={"username": "operator1", "password": "operator1-pass"}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    samples = []
    for t in texts:
        start = time.perf_counter()
        r = client.post("/api/v1/routing/suggest", json={"text": t}, headers=headers)
        samples.append((time.perf_counter() - start) * 1000)
        assert r.status_code == 200, r.get_json()
    _print_lat("POST /api/v1/routing/suggest", samples)


def _print_lat(label, samples):
    samples.sort()
    q = lambda p: samples[min(len(samples) - 1, int(p * len(samples)))]
    print(f"latency {label}: n={len(samples)} p50 {q(0.5):.2f} ms  p95 {q(0.95):.2f} ms  "
          f"p99 {q(0.99):.2f} ms  max {samples[-1]:.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--cv", type=int, default=0, help="k-fold cross-validation on the train part only")
    ap.add_argument("--passes", type=int, default=5, help="latency passes over the held-out texts")
    ap.add_argument("--misses", action="store_true", help="print the misclassified texts")
    args = ap.parse_args()
    import logging

    logging.disable(logging.INFO)
    rows = load_rows()
    train = [r for r in rows if r["split"] == "train"]
    held = [r for r in rows if r["split"] == "heldout"]
    app = make_app(args.database_url)
    if args.cv:
        random.Random(7).shuffle(train)
        agg = defaultdict(list)
        for k in range(args.cv):
            fold_test = train[k::args.cv]
            fold_train = [r for i, r in enumerate(train) if i % args.cv != k]
            train_with(app, fold_train)
            res = evaluate(app, fold_test, f"cv fold {k + 1}/{args.cv}", False)
            for key in ("top1", "top3", "type"):
                agg[key].append(res[key])
            if args.misses:
                for m in res["misses"]:
                    print("   MISS", m)
        print("cv mean: " + "  ".join(f"{k} {statistics.mean(v):.1%}" for k, v in agg.items()))
        return
    print(f"labelled set: {len(rows)} requests, train {len(train)}, held-out {len(held)}")
    n, secs = train_with(app, [])
    print(f"model trained on the catalogue only: {n} samples in {secs:.1f} s")
    evaluate(app, held, "held-out, catalogue only", False)
    n, secs = train_with(app, train)
    print(f"model trained on catalogue + {len(train)} training requests: {n} samples in {secs:.1f} s")
    res = evaluate(app, held, "held-out, catalogue + history", True)
    if args.misses:
        for m in res["misses"]:
            print("   MISS", m)
    latency(app, [r["text"] for r in held], args.passes)


if __name__ == "__main__":
    main()
