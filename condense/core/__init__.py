"""Infrastructure every layer may use: errors, registries, file I/O, run time, speed switches, config checks.

Nothing here imports another part of condense."""
