#!/bin/sh
# Run the command again when it dies (a crash, kill -9) - what `Restart=on-failure` does for the
# systemd units in deploy/systemd - so one dead process does not stop the whole honcho layout
# (honcho stops every process when one exits). A clean exit (status 0) or SIGTERM ends the loop.
child=
trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null; [ -n "$child" ] && wait "$child"; exit 0' TERM INT
while :; do
  "$@" &
  child=$!
  wait "$child"
  rc=$?
  [ "$rc" -eq 0 ] && exit 0
  echo "respawn: '$*' exited with status $rc; starting it again in 1 s" >&2
  sleep 1
done
