"""How long the disk takes to make a small write durable, at a given rate: what every commit waits for.

PostgreSQL acknowledges a commit after its WAL reached the disk (fdatasync). This writes 8 KiB and
calls fdatasync ``--rate`` times a second for ``--seconds`` in a file beside PostgreSQL's data
(``--dir``; by default the parent of the data directory of the PostgreSQL at
BENCH_DATABASE_ADMIN_URL when it runs here and the bench may write there, else the system's temp
directory), with no PostgreSQL and no hotline code involved, and prints the flush latencies. A
flush stall here at the rate the API commits is a stall of every commit in flight, whatever the
application does (bench/api_create.py prints the disk's stalls beside its late requests).

    .venv/bin/python bench/disk_flush.py --rate 250 --seconds 60
    .venv/bin/python bench/disk_flush.py --rate 20 --seconds 60

Figures of 2026-12-03 11:05 UTC (loop 0.37 s in a function), /var/lib/postgresql on the machine's
virtio disk: at 20/s, 1190 flushes, p50 0.35 ms, p99 0.80, max 17.3, none >= 20 ms; at 250/s,
14374 flushes, p50 0.24 ms, p99 0.50, p99.9 2.77, max 87.6, 5 >= 20 ms in the minute.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

from common import pct, postgres_data_directory, reference_loop

ADMIN_URL = os.environ.get("BENCH_DATABASE_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def default_dir() -> str:
    data = postgres_data_directory(ADMIN_URL)
    beside = os.path.dirname(data.rstrip("/")) if data else ""
    return beside if beside and os.access(beside, os.W_OK) else tempfile.gettempdir()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=250.0, help="flushes per second")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--dir", default=None, help="where to write (default: beside PostgreSQL's data if writable)")
    args = ap.parse_args()
    if args.rate <= 0 or args.seconds <= 0:
        raise SystemExit("--rate and --seconds must be positive")
    where = args.dir or default_dir()
    loop = reference_loop()
    fd, path = tempfile.mkstemp(prefix="disk-flush-", dir=where)
    latencies: list[float] = []
    try:
        os.pwrite(fd, b"x" * 8192, 0)
        os.fsync(fd)  # the file's size and blocks are on disk: later flushes carry data only
        end = time.perf_counter() + args.seconds
        next_at = time.perf_counter()
        while next_at < end:
            t = time.perf_counter()
            os.pwrite(fd, b"x" * 8192, 0)
            os.fdatasync(fd)
            latencies.append(time.perf_counter() - t)
            next_at += 1 / args.rate
            time.sleep(max(0.0, next_at - time.perf_counter()))
    finally:
        os.close(fd)
        os.unlink(path)
    ms = [x * 1000 for x in latencies]
    print(f"disk_flush: 8 KiB write + fdatasync at {args.rate:g}/s for {args.seconds:g} s in {where} "
          f"(machine loop {loop:.3f} s)")
    print(f"  flushes {len(ms)}  ms: p50 {pct(ms, 0.5):.2f}  p99 {pct(ms, 0.99):.2f}  p99.9 {pct(ms, 0.999):.2f}  "
          f"max {max(ms):.1f}")
    print(f"  slow    >= 20 ms: {sum(1 for x in ms if x >= 20)}, >= 50 ms: {sum(1 for x in ms if x >= 50)}")


if __name__ == "__main__":
    main()
