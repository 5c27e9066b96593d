#!/usr/bin/env bash
# teardown.sh - stop the daemons started by setup_local_slurm.sh, using only
# the PIDs it saved in $BASE/pids (no pkill/killall). PURGE=1 also deletes
# job state, spool, logs and the MariaDB data dir (packages stay installed).
# Adapted from the shared reference recipe (shared/reference/teardown.sh, local-slurm.md);
# pairs with setup_local_slurm.sh in this directory.
set -uo pipefail
BASE=${BASE:-/tmp/slurmtest}
PIDS=$BASE/pids
rc=0
stop() {  # stop <pidfile-name> <expected /proc/PID/comm>
  local f=$PIDS/$1 name=$2 p
  p=$(cat "$f" 2>/dev/null) || { echo "[teardown] $name: no pid file"; return; }
  if [ -z "$p" ] || [ "$(cat /proc/"$p"/comm 2>/dev/null)" != "$name" ]; then
    echo "[teardown] $name: pid '$p' not running (stale pid file)"; rm -f "$f"; return
  fi
  kill -TERM "$p"
  for _ in $(seq 1 120); do [ -d /proc/"$p" ] || break; sleep 0.25; done
  if [ -d /proc/"$p" ] && [ "$(cat /proc/"$p"/comm 2>/dev/null)" = "$name" ]; then
    echo "[teardown] $name: pid $p ignored SIGTERM for 30 s, sending SIGKILL"
    kill -KILL "$p"; sleep 1
  fi
  if [ -d /proc/"$p" ] && [ "$(cat /proc/"$p"/comm 2>/dev/null)" = "$name" ]; then
    echo "[teardown] $name: pid $p still alive" >&2; rc=1
  else
    echo "[teardown] $name: pid $p stopped"; rm -f "$f"
  fi
}
# reverse start order
stop slurmd.pid    slurmd
stop slurmctld.pid slurmctld
stop slurmdbd.pid  slurmdbd
stop mariadbd.pid  mariadbd
stop munged.pid    munged
if [ "${PURGE:-0}" = 1 ] && [ $rc = 0 ]; then
  rm -rf "$BASE"/{state,spool,pids,log,mysql}
  echo "[teardown] purged state/spool/pids/log/mysql under $BASE"
fi
exit $rc
