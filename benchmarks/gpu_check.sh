#!/bin/bash
# Every GPU check the project owes, in one call for a session lent a device (about 8 minutes of an
# H100/H200; each step has its own time cap so one slow step cannot eat the others):
#
#   device run, carry ["official"], timeout_s 600:
#       bash benchmarks/gpu_check.sh /tmp/gc; tar czf "$OUT/gpu_check.tgz" -C /tmp/gc .; cat /tmp/gc/summary.txt
#   (the device returns at most 8 files, and the script writes 11: pack them)
#
# 1. the CUDA-only tests (no host sync in the condensation steps, masked batches, a training pass) and
#    the batched paths' equality tests;
# 2. DSA seconds per iteration at the paper profile's IPC 10 and 50, class loop vs batched, interleaved;
# 3. benchmarks/batched_paths.py: matching loss and ensemble evaluation, today's path vs the batched one;
# 4. benchmarks/official_vs_ours.py --batched: every row, official code beside ours (needs ./official,
#    the pinned VICO-UoE/DatasetCondensation checkout, carried).
# Results land in OUTDIR; copy them to benchmarks/results/<gpu>/ (as h200/) and flip the `auto`
# defaults (condense/core/accel.py make_speed) if a batched path is slower there.
# The device's own python3 holds torch; condense runs from this tree (PYTHONPATH), with no install.
set -u
out=${1:?usage: gpu_check.sh OUTDIR}
mkdir -p "$out"
source benchmarks/device_steps.sh  # py, PYTHONPATH, step(), the GPU line of summary.txt
step tests 150 "$py" -m pytest -q -p no:cacheprovider tests/test_cuda_sync.py tests/test_batched_matching.py tests/test_ensemble.py
step distill_iteration 150 "$py" benchmarks/distill_iteration.py --device cuda --methods dsa --ipcs 10 50 --datasets cifar10 \
    --paths loop batched --repeats 3 --out "$out/distill_iteration_cuda"
step batched_paths 90 "$py" benchmarks/batched_paths.py --device cuda --repeats 3 --out "$out/batched_paths_cuda"
step official_vs_ours 170 "$py" benchmarks/official_vs_ours.py --device cuda --batched --repeats 3 --official official \
    --out "$out/official_vs_ours_cuda"
