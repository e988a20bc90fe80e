"""Send N malformed SIP requests (the refused kinds of tests/data/sip_torture, round robin with
fresh Call-IDs and branches) to an endpoint on loopback, in bursts paced by an OPTIONS barrier,
and print one JSON line: what was sent, the responses by status code, barrier retries, seconds.

    python tests/sip_flood.py --port 5060 --count 100000 [--burst 50]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.sip_torture import Uac, cases, render, status  # noqa: E402


def flood_cases():
    """Every torture message the endpoint must refuse (no valid call among them)."""
    return [c for c in cases() if c.expected != "call"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--burst", type=int, default=50)
    args = parser.parse_args(argv)
    kinds = flood_cases()
    uac = Uac(args.port)
    sent, responses = Counter(), Counter()
    started = time.monotonic()
    try:
        n = 0
        while n < args.count:
            for _ in range(min(args.burst, args.count - n)):
                case = kinds[n % len(kinds)]
                uac.send(render(case, sip_port=args.port, uac_port=uac.port))
                sent[case.expected] += 1
                n += 1
            for answer in uac.barrier(timeout=60):
                responses[str(status(answer))] += 1
    finally:
        uac.close()
    seconds = time.monotonic() - started
    print(json.dumps({"sent": sum(sent.values()), "sent_by_expected": dict(sent),
                      "responses": dict(responses), "barriers": uac.barriers,
                      "barrier_retries": uac.barrier_retries, "seconds": round(seconds, 2),
                      "per_second": round(sum(sent.values()) / seconds)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
