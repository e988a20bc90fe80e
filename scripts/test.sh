#!/usr/bin/env bash
# Run the whole suite. pytest's exit code 5 ("no tests collected") is a failure for us.
set -u
cd "$(dirname "$0")/.."
mkdir -p test-artifacts
.venv/bin/python -m pytest -ra "$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "test.sh: pytest collected no tests - that is a failure"
  exit 1
fi
exit $rc
