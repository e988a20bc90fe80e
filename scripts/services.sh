#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer on loopback. They are started by the machine on CI; if one is
# installed but stopped, start it. Never fails here: the test suite reports (or, on CI, fails on)
# anything still missing.
set -u
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! port_open 6379 && command -v redis-server >/dev/null 2>&1; then
  echo "services: starting redis-server on 127.0.0.1:6379"
  mkdir -p /tmp/hotline-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/hotline-redis --logfile /tmp/hotline-redis/redis.log || true
fi
if ! port_open 5432 && command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  echo "services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
for i in $(seq 1 20); do
  { port_open 6379 || ! command -v redis-server >/dev/null; } && { port_open 5432 || ! command -v pg_ctlcluster >/dev/null; } && break
  sleep 0.5
done
exit 0
