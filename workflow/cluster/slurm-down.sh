#!/usr/bin/env bash
# Stop the single-node test cluster started by workflow/cluster/slurm-up.sh: cancel its jobs,
# then stop slurmd, slurmctld and (only if slurm-up.sh started it) munged by the PIDs in their
# pid files. Idempotent: with nothing running it only says so.
#   bash workflow/cluster/slurm-down.sh
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"  # the daemons live in /usr/sbin

DIR=${CONDENSE_SLURM_DIR:-/tmp/condense-slurm}

die() { echo "slurm-down: error: $*" >&2; exit 1; }
say() { echo "slurm-down: $*"; }

[ "$(id -u)" = 0 ] || die "run as root"

# stop NAME PIDFILE: SIGTERM, up to 10 s, then SIGKILL.
stop() {
    local name=$1 pidfile=$2 pid
    if ! [ -s "$pidfile" ]; then
        say "$name: no pid file ($pidfile), not running"
        return 0
    fi
    pid=$(cat "$pidfile")
    # A pid file whose process is gone, or whose pid now belongs to another program, is stale.
    if ! [[ "$pid" =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null || [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != "$name" ]; then
        say "$name: not running (stale pid file)"
        rm -f "$pidfile"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "slurm-down: $name (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
    say "stopped $name (pid $pid)"
}

# Jobs first, so that no job step outlives the daemons.
if [ -s "$DIR/slurmctld.pid" ] && [ "$(cat "/proc/$(cat "$DIR/slurmctld.pid")/comm" 2>/dev/null)" = slurmctld ]; then
    jobs=$(squeue -h -t PENDING,RUNNING,SUSPENDED,CONFIGURING,COMPLETING -o %i 2>/dev/null || true)
    if [ -n "$jobs" ]; then
        say "cancelling jobs: $(echo $jobs)"
        # shellcheck disable=SC2086
        scancel $jobs 2>/dev/null || true
        for _ in $(seq 100); do
            [ -z "$(squeue -h -t PENDING,RUNNING,SUSPENDED,CONFIGURING,COMPLETING -o %i 2>/dev/null)" ] && break
            sleep 0.2
        done
    fi
fi

stop slurmd "$DIR/slurmd.pid"
stop slurmctld "$DIR/slurmctld.pid"
stop munged "$DIR/munged.pid"
