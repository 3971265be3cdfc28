#!/bin/sh
# The configuration goes in on stdin (`redis-server -`), so the password is on no command line (ps, logs).
set -eu
[ -n "${REDIS_PASSWORD:-}" ] || { echo "error: REDIS_PASSWORD is not set" >&2; exit 1; }
exec redis-server - <<CONF
bind 0.0.0.0
port 6379
protected-mode no
save ""
appendonly no
daemonize no
requirepass $REDIS_PASSWORD
CONF
