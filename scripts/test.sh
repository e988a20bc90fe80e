#!/usr/bin/env bash
# Run the whole suite. pytest's exit code 5 ("no tests collected") is a failure for us.
set -u
cd "$(dirname "$0")/.."
mkdir -p test-artifacts
# Two workers: most of the suite's time is real-time audio, SIP and processes waiting. Tests that
# play real-time media or kill processes form one group (tests/conftest.py REALTIME_MODULES and the
# `sip` marker) and run one after another on one worker; the other worker runs the rest.
# HOTLINE_TEST_WORKERS=0 runs everything in one process.
workers="${HOTLINE_TEST_WORKERS:-2}"
if [ "$workers" = "0" ]; then
  .venv/bin/python -m pytest -ra "$@"
else
  .venv/bin/python -m pytest -ra -n "$workers" --dist loadgroup "$@"
fi
rc=$?
if [ $rc -eq 5 ]; then
  echo "test.sh: pytest collected no tests - that is a failure"
  exit 1
fi
exit $rc
