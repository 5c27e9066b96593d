#!/usr/bin/env bash
# setup_local_slurm.sh - install, configure and start a single-node SLURM
# cluster on localhost (munge + slurmctld + slurmd [+ slurmdbd/MariaDB]).
# Adapted from the measured, tested recipe in the project's shared reference
# (shared/reference/setup_local_slurm.sh, local-slurm.md); used by tests/test_slurm.py.
# Changes: refuses to overwrite a slurm.conf it did not write (exit 3), distinct
# exit codes (2 not root, 3 foreign SLURM config, 4 packages not installable),
# slurmctld and slurmd listen on 127.0.0.1 only (slurmdbd has no such option; it
# accepts only munge-authenticated peers), job comments kept in accounting (sacct).
# Idempotent: re-running skips installed packages and running daemons.
# Debian/Ubuntu, run as root. All traffic is on 127.0.0.1 (MariaDB: unix socket only).
#   BASE=/tmp/slurmtest        where state, spool, logs, pid files and DB live
#   ACCOUNTING=dbd|none        dbd (default): slurmdbd+MariaDB, so `sacct` works
#                              (snakemake-executor-plugin-slurm's default status
#                              command). none: no DB; then run snakemake with
#                              --slurm-status-command squeue (MinJobAge=600 set).
#   NODE_CPUS=<n>              default: nproc
set -euo pipefail

BASE=${BASE:-/tmp/slurmtest}
ACCOUNTING=${ACCOUNTING:-dbd}
H=$(hostname -s)
NODE_CPUS=${NODE_CPUS:-$(nproc)}
MEM_MB=$(awk '/^MemTotal:/{print int($2/1024*0.9)}' /proc/meminfo)
PIDS=$BASE/pids LOG=$BASE/log
t0=$(date +%s%N)
elapsed() { echo "$(( ($(date +%s%N) - t0) / 1000000 )) ms"; }
say() { echo "[setup $(elapsed)] $*"; }
die() { echo "[setup] ERROR: $1" >&2; exit "${2:-1}"; }   # die <message> [exit code]
[ "$(id -u)" = 0 ] || die "must run as root" 2
MARK="# written by setup_local_slurm.sh (local test cluster)"
if [ -e /etc/slurm/slurm.conf ] && ! grep -qxF "$MARK" /etc/slurm/slurm.conf; then
  die "/etc/slurm/slurm.conf exists and was not written by this script; not touching a real SLURM setup" 3
fi

# pid file holds a live process with the expected command name?
alive() { local p; p=$(cat "$1" 2>/dev/null) || return 1
          [ -n "$p" ] && [ "$(cat /proc/"$p"/comm 2>/dev/null)" = "$2" ]; }
wait_for() { local n=$1; shift; for _ in $(seq 1 "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done; return 1; }
port_open() { (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; }

# ---------------------------------------------------------------- 1. install
PKGS=(munge slurmctld slurmd slurm-client)
[ "$ACCOUNTING" = dbd ] && PKGS+=(slurmdbd mariadb-server)
# "install ok installed" only: `dpkg -s` also succeeds for a removed package whose
# config files remain (state rc), which left slurmdbd missing on a CI machine.
installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }
missing=(); for p in "${PKGS[@]}"; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing: ${missing[*]}"
  # keep apt from starting daemons itself (matters on systemd hosts)
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d; own_policy=1; fi
  export DEBIAN_FRONTEND=noninteractive
  ok=1
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || ok=0
  [ $own_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ $ok = 1 ] || die "apt-get could not install: ${missing[*]}" 4
  say "installed"
fi
say "versions: $(dpkg-query -W -f='${Package}=${Version} ' "${PKGS[@]}")"

# --------------------------------------------------------------- 2. configure
mkdir -p "$BASE"/{state,spool,pids} "$LOG"
getent hosts "$H" >/dev/null || echo "127.0.0.1 $H" >>/etc/hosts   # node name must resolve

if [ "$ACCOUNTING" = dbd ]; then
  ACCT="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
JobAcctGatherType=jobacct_gather/linux
AccountingStoreFlags=job_comment"
else
  ACCT="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
fi
mkdir -p /etc/slurm
cat >"$BASE/slurm.conf.new" <<EOF
$MARK
ClusterName=localcluster
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
SlurmctldHost=${H}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
${ACCT}
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
MinJobAge=600
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$BASE/state
SlurmdSpoolDir=$BASE/spool
SlurmctldPidFile=$PIDS/slurmctld.pid
SlurmdPidFile=$PIDS/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=${H} NodeAddr=127.0.0.1 CPUs=${NODE_CPUS} RealMemory=${MEM_MB} State=UNKNOWN
PartitionName=debug Nodes=${H} Default=YES MaxTime=INFINITE State=UP
EOF
if ! cmp -s "$BASE/slurm.conf.new" /etc/slurm/slurm.conf; then
  if alive "$PIDS/slurmctld.pid" slurmctld || alive "$PIDS/slurmd.pid" slurmd; then
    echo "[setup] WARNING: slurm.conf changed while daemons run; run teardown.sh first" >&2
  fi
  cp "$BASE/slurm.conf.new" /etc/slurm/slurm.conf
fi
rm -f "$BASE/slurm.conf.new"; cp /etc/slurm/slurm.conf "$BASE/slurm.conf"

# ------------------------------------------------------------------ 3. munge
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge "$LOG/munge"
install -d -o munge -g munge -m 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  if command -v mungekey >/dev/null; then mungekey --create --keyfile=/etc/munge/munge.key
  else dd if=/dev/urandom of=/etc/munge/munge.key bs=128 count=1 status=none; fi
fi
chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
if alive "$PIDS/munged.pid" munged; then
  say "munged already running pid $(cat "$PIDS/munged.pid")"
elif munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  say "munged already answering (not started by us, left alone)"; rm -f "$PIDS/munged.pid"
else
  rm -f /run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged --log-file="$LOG/munge/munged.log"
  wait_for 40 bash -c 'munge -n | unmunge' || die "munged did not start"
  cp /run/munge/munged.pid "$PIDS/munged.pid"
  say "munged started pid $(cat "$PIDS/munged.pid")"
fi

# ------------------------------------------------- 4. MariaDB + slurmdbd
if [ "$ACCOUNTING" = dbd ]; then
  SOCK=/run/mysqld/mysqld.sock
  install -d -o mysql -g mysql /run/mysqld "$BASE/mysql" "$LOG/mariadb"
  if alive "$PIDS/mariadbd.pid" mariadbd; then
    say "mariadbd already running pid $(cat "$PIDS/mariadbd.pid")"
  else
    [ -d "$BASE/mysql/mysql" ] || mariadb-install-db --no-defaults --user=mysql \
        --datadir="$BASE/mysql" --auth-root-authentication-method=socket \
        --skip-test-db >"$LOG/mariadb/install.log" 2>&1
    rm -f "$SOCK"
    nohup /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$BASE/mysql" \
        --socket="$SOCK" --pid-file=/run/mysqld/mariadb.pid --skip-networking \
        --log-error="$LOG/mariadb/mariadb.log" </dev/null >/dev/null 2>&1 &
    echo $! >"$PIDS/mariadbd.pid"
    wait_for 120 mariadb-admin --socket="$SOCK" ping || die "mariadbd did not start (see $LOG/mariadb)"
    say "mariadbd started pid $(cat "$PIDS/mariadbd.pid")"
  fi
  mariadb --socket="$SOCK" -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmpw';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
  cat >/etc/slurm/slurmdbd.conf <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
DebugLevel=info
LogFile=$LOG/slurmdbd.log
PidFile=$PIDS/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db
EOF
  chmod 600 /etc/slurm/slurmdbd.conf
  if alive "$PIDS/slurmdbd.pid" slurmdbd; then
    say "slurmdbd already running pid $(cat "$PIDS/slurmdbd.pid")"
  else
    /usr/sbin/slurmdbd
    wait_for 120 port_open 6819 || die "slurmdbd did not start (see $LOG/slurmdbd.log)"
    say "slurmdbd started pid $(cat "$PIDS/slurmdbd.pid")"
  fi
fi

# ------------------------------------------------------ 5. slurmctld, slurmd
if alive "$PIDS/slurmctld.pid" slurmctld; then
  say "slurmctld already running pid $(cat "$PIDS/slurmctld.pid")"
else
  /usr/sbin/slurmctld
  wait_for 120 scontrol ping || die "slurmctld did not start (see $LOG/slurmctld.log)"
  say "slurmctld started pid $(cat "$PIDS/slurmctld.pid")"
fi
if alive "$PIDS/slurmd.pid" slurmd; then
  say "slurmd already running pid $(cat "$PIDS/slurmd.pid")"
else
  /usr/sbin/slurmd
  wait_for 40 alive "$PIDS/slurmd.pid" slurmd || die "slurmd did not start (see $LOG/slurmd.log)"
  say "slurmd started pid $(cat "$PIDS/slurmd.pid")"
fi
# node may be DOWN/DRAIN from an earlier run: resume it
if ! wait_for 80 bash -c "sinfo -h -n $H -o %T | grep -qE '^(idle|mixed|allocated)'"; then
  scontrol update NodeName="$H" State=RESUME 2>/dev/null || true
  wait_for 80 bash -c "sinfo -h -n $H -o %T | grep -qE '^(idle|mixed|allocated)'" \
    || die "node $H not usable: $(sinfo -h -N -o '%N %T %E')"
fi
say "cluster up:"; sinfo

# ------------------------------------------------------------- 6. smoke test
out=$(timeout 60 srun -N1 -n1 hostname) || die "srun failed"
say "srun hostname -> $out"
jid=$(sbatch --parsable -o /dev/null --wrap 'true') || die "sbatch failed"
wait_for 240 bash -c "squeue -h -j $jid -t all -o %T | grep -qx COMPLETED" \
  || die "sbatch job $jid did not complete: $(squeue -h -j "$jid" -t all -o '%T %r')"
say "sbatch job $jid COMPLETED (squeue)"
if [ "$ACCOUNTING" = dbd ]; then
  wait_for 40 bash -c "sacct -X -n -j $jid -o State | grep -q COMPLETED" \
    || die "sacct does not report job $jid"
  say "sacct reports job $jid COMPLETED"
else
  say "no accounting: use  snakemake --executor slurm --slurm-status-command squeue ..."
fi
say "done. pid files in $PIDS; stop with teardown.sh"
