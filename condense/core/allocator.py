"""glibc allocator settings for every stage (kept free of torch so the Snakefile imports it cheaply).

glibc maps and unmaps every large tensor, and page faults then eat about a third of
the CPU time here (docs/environment.md). Two ways to get the setting, one for each kind of process:
the Snakefile and the benchmarks put :data:`ALLOCATOR_ENV` in the environment of the processes they
start (glibc reads it at start-up, so it also covers the official code the benchmarks time), and
``condense <stage>`` run by hand applies the same values to itself through ``mallopt``
(:func:`apply_in_process`) before it allocates any tensor.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

ALLOCATOR_ENV = {
    "MALLOC_MMAP_THRESHOLD_": "4294967296",
    "MALLOC_TRIM_THRESHOLD_": "4294967296",
    "MALLOC_TOP_PAD_": "1073741824",
}

# mallopt's parameter numbers (glibc malloc.h) for the variables above. mallopt takes a C int, so 4 GiB
# becomes the largest int (2 GiB): every tensor these stages allocate is far smaller.
_MALLOPT = {"MALLOC_TRIM_THRESHOLD_": -1, "MALLOC_TOP_PAD_": -2, "MALLOC_MMAP_THRESHOLD_": -3}
_INT_MAX = 2**31 - 1
OPT_OUT_ENV = "CONDENSE_SYSTEM_MALLOC"  # =1: leave glibc's defaults alone (to measure the difference)


def apply_in_process() -> list[str]:
    """Set :data:`ALLOCATOR_ENV` on this process through glibc's ``mallopt``; returns the names set.

    A variable already in the environment was applied by glibc at start-up and is left as the user
    set it; nothing is done off glibc (macOS, musl) or with ``CONDENSE_SYSTEM_MALLOC=1``.
    """
    if os.environ.get(OPT_OUT_ENV) == "1" or platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return []
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    applied = []
    for name, value in ALLOCATOR_ENV.items():
        if name in os.environ:
            continue
        if libc.mallopt(_MALLOPT[name], min(int(value), _INT_MAX)) == 1:
            applied.append(name)
    return applied
