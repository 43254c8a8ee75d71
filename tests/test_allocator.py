"""The allocator setting a stage applies to itself (condense/core/allocator.py), checked by its effect:
freed large tensors stay in the process, so allocating one again costs no page faults."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from condense.core.allocator import ALLOCATOR_ENV, OPT_OUT_ENV

pytestmark = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")

# A 64 MiB tensor allocated, written and freed 20 times: glibc's default maps and unmaps each one, so
# every 4 KiB page faults again (16,384 per tensor); with the setting the heap keeps the pages after
# the first few rounds (measured: 3 to 6), so the last 10 rounds fault not at all.
PROBE = """
import json, resource
from condense.core.allocator import apply_in_process
applied = apply_in_process()
import torch
for _ in range(10):
    torch.empty(16 * 2**20).fill_(1.0)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    torch.empty(16 * 2**20).fill_(1.0)
print(json.dumps({"applied": applied, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}))
"""


def probe(**env_changes: str) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in ALLOCATOR_ENV and key != OPT_OUT_ENV}
    env.update(env_changes)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_setting_keeps_freed_tensors_in_the_process():
    default = probe(**{OPT_OUT_ENV: "1"})
    tuned = probe()
    assert default["applied"] == []
    assert sorted(tuned["applied"]) == sorted(ALLOCATOR_ENV)
    assert default["faults"] >= 10 * 16_384  # each 64 MiB tensor faulted in again
    assert tuned["faults"] < 16_384  # not one tensor's worth in 10 rounds


def test_a_variable_the_user_set_is_left_as_set():
    result = probe(MALLOC_TRIM_THRESHOLD_="131072")  # the user's own (glibc's default) trim threshold
    assert sorted(result["applied"]) == ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_"]
