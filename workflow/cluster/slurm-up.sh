#!/usr/bin/env bash
# Bring up a real single-node SLURM cluster on this machine, without systemd (as root),
# for testing the SLURM profile: munge, slurmctld and slurmd on `localhost`, one default
# partition `debug`, the machine's CPUs and memory, and one fake GPU (GRES gpu:1 on /dev/null)
# so that rules requesting `gpu: 1` are scheduled. Accounting is off: use the
# `slurm-status-command: squeue` profile setting (workflow/profiles/slurm-test/).
#
#   bash workflow/cluster/slurm-up.sh     # idempotent: a second run only checks
#   bash workflow/cluster/slurm-down.sh   # stops the daemons by their pid files
#
# Needs: apt-get install --no-install-recommends slurmctld slurmd slurm-client munge
# (INSTALL_SLURM=1 bash workflow/setup.sh does it). State, spool, logs and pid files go
# under one scratch directory: $CONDENSE_SLURM_DIR (default /tmp/condense-slurm).
# The config has to be at the default path /etc/slurm/slurm.conf: the jobstep plugin drops
# SLURM_CONF before its inner srun. An existing slurm.conf not written by this script is
# never overwritten.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"  # the daemons live in /usr/sbin

DIR=${CONDENSE_SLURM_DIR:-/tmp/condense-slurm}
CONF=/etc/slurm/slurm.conf
MARK="# written by condense workflow/cluster/slurm-up.sh"

die() { echo "slurm-up: error: $*" >&2; exit 1; }
say() { echo "slurm-up: $*"; }

[ "$(id -u)" = 0 ] || die "run as root (the daemons run as root and munged as the munge user)"
for tool in munged munge unmunge slurmctld slurmd sinfo scontrol; do
    command -v "$tool" >/dev/null || die "'$tool' not found; install the Debian packages:
    apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge
  (or: INSTALL_SLURM=1 bash workflow/setup.sh)"
done
id munge >/dev/null 2>&1 || die "no 'munge' user; reinstall the munge package"
[ -s /etc/munge/munge.key ] || die "/etc/munge/munge.key is missing; the munge package creates it (or: mungekey --create)"

if [ -e "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
    die "$CONF exists and was not written by this script; refusing to overwrite a real cluster's configuration"
fi

# alive PIDFILE NAME: the pid file names a running NAME process.
alive() { [ -s "$1" ] && [ "$(cat "/proc/$(cat "$1")/comm" 2>/dev/null)" = "$2" ]; }

# --- munge ---------------------------------------------------------------------------
if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    say "munged is already running"
else
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
    runuser -u munge -- /usr/sbin/munged --force \
        || die "munged did not start; see /var/log/munge/munged.log"
    for _ in $(seq 50); do
        munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break
        sleep 0.1
    done
    munge -n </dev/null | unmunge >/dev/null || die "munge credentials do not verify; see /var/log/munge/munged.log"
    install -d -m 0755 "$DIR"
    cp /run/munge/munged.pid "$DIR/munged.pid"  # slurm-down.sh stops munged only when this script started it
    say "started munged (pid $(cat "$DIR/munged.pid"))"
fi

# --- configuration -------------------------------------------------------------------
install -d -m 0755 "$DIR" "$DIR/state" "$DIR/spool" "$DIR/log" /etc/slurm
CPUS=$(nproc)
# RealMemory must not exceed what slurmd detects, or the node is drained as invalid.
MEM=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
[ -n "$MEM" ] || MEM=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
[ -n "$MEM" ] && [ "$MEM" -gt 0 ] || die "cannot determine the machine's memory"

new_conf=$(cat <<EOF
$MARK
# Single-node test cluster; state, spool, logs and pid files under $DIR.
ClusterName=condense
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Without a default memory per CPU a job takes the whole node's memory and jobs run one at a time.
DefMemPerCPU=500
# No slurmdbd: status checks go through squeue, which needs finished jobs to stay listed a while.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=600
ReturnToService=2
KillWait=5
InactiveLimit=0
Waittime=0
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
GresTypes=gpu
NodeName=localhost NodeHostname=localhost CPUs=$CPUS RealMemory=$MEM Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
)
new_gres=$(cat <<EOF
$MARK
# A fake GPU, so that jobs asking for --gpus=1 can be scheduled (the workflow still runs on CPU).
NodeName=localhost Name=gpu File=/dev/null
EOF
)
changed=0
if [ "$(cat "$CONF" 2>/dev/null)" != "$new_conf" ]; then printf '%s\n' "$new_conf" >"$CONF"; changed=1; fi
if [ "$(cat /etc/slurm/gres.conf 2>/dev/null)" != "$new_gres" ]; then printf '%s\n' "$new_gres" >/etc/slurm/gres.conf; changed=1; fi
if [ "$changed" = 1 ] && { alive "$DIR/slurmctld.pid" slurmctld || alive "$DIR/slurmd.pid" slurmd; }; then
    die "the configuration changed while the daemons run; run workflow/cluster/slurm-down.sh first"
fi

show_logs() {
    for f in "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log"; do
        [ -f "$f" ] && { echo "--- tail $f" >&2; tail -n 15 "$f" >&2; }
    done
    return 0
}

# --- daemons -------------------------------------------------------------------------
if alive "$DIR/slurmctld.pid" slurmctld; then
    say "slurmctld is already running (pid $(cat "$DIR/slurmctld.pid"))"
else
    slurmctld || { show_logs; die "slurmctld did not start"; }
    for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q "is UP" && break; sleep 0.1; done
    scontrol ping 2>/dev/null | grep -q "is UP" || { show_logs; die "slurmctld does not answer (scontrol ping)"; }
    say "started slurmctld (pid $(cat "$DIR/slurmctld.pid"))"
fi
if alive "$DIR/slurmd.pid" slurmd; then
    say "slurmd is already running (pid $(cat "$DIR/slurmd.pid"))"
else
    slurmd -N localhost || { show_logs; die "slurmd did not start"; }
    say "started slurmd (pid $(cat "$DIR/slurmd.pid" 2>/dev/null || echo '?'))"
fi

# --- wait until the node takes jobs ----------------------------------------------------
state=""
for _ in $(seq 150); do
    state=$(sinfo -h -N -n localhost -o %T 2>/dev/null | head -n 1)
    case "$state" in idle | mixed | allocated | completing) break ;; esac
    sleep 0.2
done
case "$state" in
    idle | mixed | allocated | completing) ;;
    *) show_logs; die "node localhost is '${state:-unknown}' after 30 s, not idle (scontrol show node localhost)" ;;
esac
say "node localhost is $state: $CPUS CPUs, $MEM MiB, gres gpu:1 (fake); partition 'debug'; logs in $DIR/log"
