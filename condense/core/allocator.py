"""glibc allocator settings for every stage (kept free of torch so the Snakefile imports it cheaply).

glibc maps and unmaps every large tensor, and page faults then eat about a third of
the CPU time here (docs/environment.md). The variables must be set before a process starts,
so the Snakefile exports them to every job; README shows them for runs by hand.
"""

ALLOCATOR_ENV = {
    "MALLOC_MMAP_THRESHOLD_": "4294967296",
    "MALLOC_TRIM_THRESHOLD_": "4294967296",
    "MALLOC_TOP_PAD_": "1073741824",
}
