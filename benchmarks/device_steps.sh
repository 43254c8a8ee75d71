# Sourced by the device scripts (gpu_check.sh, gpu_reference_cell.sh) after setting $out: each step of a device
# run with its own time cap, so one slow step cannot eat the others, and a summary line per step.
py=${PYTHON:-python3}  # the device's own python3 holds torch; condense runs from this tree (PYTHONPATH), with no install
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
step() {  # step NAME SECONDS COMMAND...: run with a cap, log to OUTDIR/NAME.log, record rc and seconds
    local name=$1 cap=$2; shift 2
    local start=$(date +%s)
    timeout "$cap" "$@" > "$out/$name.log" 2>&1
    echo "$name rc=$? seconds=$(( $(date +%s) - start ))" | tee -a "$out/summary.txt"
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/summary.txt" 2>&1
