"""Instructions per created ticket in the real `api` worker: a figure the machine's load cannot move.

bench/api_create.py and bench/create_cpu.py measure CPU time, which on a shared machine moves by 2x
with the neighbours (see their docstrings); this bench counts what the code executes instead. It
starts the Procfile's `api` process with ONE gunicorn worker under valgrind's callgrind (which
counts user-space instructions, the same total however busy the machine is), warms it with 40
creations, zeroes the counters, POSTs --requests tickets over one connection, and divides the
worker's instructions by the tickets. Kernel work (sockets, the accept/close of sync workers) and
PostgreSQL's and Redis's work are not counted; the worker's background threads are (the relay,
the batchers), though under valgrind they wake for fewer tickets per window than at full speed.

    .venv/bin/python bench/api_instructions.py [--requests 100] [--worker-class sync|gthread] [--keep DIR]

Figures of 2026-12-03 (`--requests 100`, sync; instructions per ticket in the worker): 9.31 M on
ad84ca7 (the previous landing); 8.26-8.28 M on 8838bea (the `api` role without a Redis listener, the
ticket.created outbox row in the creation statement); 7.16-7.37 M on c7b3c4a (the token lookup and the
creation INSERT on the driver, instances made as the ORM's loader makes them): -21 % in all. With
`--requests 200`: 7.58, 7.91 M on 1b36eed; 6.66-6.96 M on 4d166fe (Flask subclass, limiter hooks only on
login endpoints, no Socket.IO middleware on `api`, the new ticket returned detached, one-pass security
headers: -12 %). The figure moves by about +-3 % between runs (the background threads' batching windows
depend on timing under valgrind). A run takes about two minutes; valgrind (Debian `valgrind`) must be
installed.
Needs PostgreSQL at BENCH_DATABASE_ADMIN_URL and Redis (--redis); creates and drops a scratch database.
"""
from __future__ import annotations

import argparse
import glob
import http.client
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import drop_database, free_port, recreate, reference_loop, wait_http
from create_cpu import ADMIN_URL, BODY, PASSWORD

ROOT = Path(__file__).resolve().parent.parent


def totals(prefix: str) -> list[int]:
    """Instruction totals of every callgrind dump written under ``prefix``."""
    out = []
    for path in glob.glob(prefix + ".*"):
        if path.endswith(".log"):
            continue
        text = subprocess.run(["callgrind_annotate", path], capture_output=True, text=True).stdout
        for line in text.splitlines():
            if "PROGRAM TOTALS" in line and line.split()[0].replace(",", "").isdigit():
                out.append(int(line.split()[0].replace(",", "")))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--worker-class", choices=["sync", "gthread"], default="sync")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/10")
    ap.add_argument("--keep", metavar="DIR", help="keep the worker's callgrind dump in DIR (callgrind_annotate --inclusive=yes)")
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed (Debian package `valgrind`)")
    name = f"hotline_bench_instr{os.getpid()}"
    url = recreate(ADMIN_URL, name)
    env = {**os.environ, "DATABASE_URL": url, "HOTLINE_SIP_ENABLED": "false", "REDIS_URL": args.redis,
           "HOTLINE_BACKGROUND_JOBS": "celery", "HOTLINE_WEB_ROLE": "api", "SECRET_KEY": "bench",
           "HOTLINE_INSTANCE_DIR": f"/tmp/{name}"}
    bin_dir = Path(sys.executable).parent
    for cmd, stdin in ((["db", "upgrade"], None), (["seed"], None),
                       (["users", "create", "bench-operator", "--role", "operator"], PASSWORD + "\n")):
        subprocess.run([str(bin_dir / "hotline"), *cmd], input=stdin, text=True, env=env, check=True, capture_output=True)
    loop = reference_loop(time.process_time)
    port, prefix = free_port(), f"/tmp/{name}-callgrind"
    threads = ["--threads", "4"] if args.worker_class == "gthread" else []
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--trace-children=yes", f"--callgrind-out-file={prefix}.%p",
         str(bin_dir / "gunicorn"), "-w", "1", "-k", args.worker_class, *threads, "-b", f"127.0.0.1:{port}",
         "--timeout", "600", "--log-level", "warning", "hotline.app.wsgi:app"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(f"{prefix}.log", "w"))
    try:
        wait_http(port, timeout=600)
        conn = [http.client.HTTPConnection("127.0.0.1", port, timeout=120)]
        conn[0].request("POST", "/api/v1/auth/token", body=json.dumps({"username": "bench-operator", "password": PASSWORD}),
                        headers={"Content-Type": "application/json"})
        token = json.loads(conn[0].getresponse().read())["token"]
        payload = json.dumps(BODY, ensure_ascii=False).encode()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        def post(n: int) -> None:
            for _ in range(n):
                conn[0].request("POST", "/api/v1/tickets", body=payload, headers=headers)
                resp = conn[0].getresponse()
                resp.read()
                if resp.status != 201:
                    raise SystemExit(f"create failed: {resp.status}")

        post(40)
        conn[0].close()  # a fresh connection: gthread's keep-alive may have timed out meanwhile
        conn[0] = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        post(2)
        subprocess.run(["callgrind_control", "-z"], capture_output=True, check=True)
        post(args.requests)
        time.sleep(2.5)  # the relay's marks and the batchers' windows of these tickets
        subprocess.run(["callgrind_control", "-d"], capture_output=True, check=True)
        time.sleep(2)
        worker = max(totals(prefix))  # the worker's dump since the zeroing (the arbiter idles)
        print(f"api_instructions: gunicorn 1 {args.worker_class} worker under callgrind, {args.requests} tickets")
        print(f"  {worker / args.requests / 1e6:.2f} M instructions per created ticket in the worker "
              f"(machine: reference loop {loop:.3f} s CPU, which does not change this figure)")
    finally:
        server.terminate()
        server.wait(120)
        for path in glob.glob(prefix + ".*"):
            if args.keep and not path.endswith(".log"):
                os.makedirs(args.keep, exist_ok=True)
                shutil.move(path, os.path.join(args.keep, os.path.basename(path)))
            else:
                os.unlink(path)
        drop_database(ADMIN_URL, name)


if __name__ == "__main__":
    main()
