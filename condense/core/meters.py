"""What a run costs, read from the machine: peak memory, and energy where a meter can be read.

Energy comes only from a real counter — Intel RAPL (``/sys/class/powercap/intel-rapl:*/energy_uj``,
package domains) or NVIDIA's NVML (``pynvml``, total energy since the driver loaded) — never from an
estimate; without one it is ``None`` and tables show "—".
"""

from __future__ import annotations

import resource
from pathlib import Path

import torch

RAPL = Path("/sys/class/powercap")


def peak_host_mb() -> float:
    """This process's peak resident memory so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def peak_gpu_mb(device: torch.device | str) -> float | None:
    device = torch.device(device)
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / 2**20


class EnergyMeter:
    """Joules since :meth:`start`, from RAPL (CPU packages) or NVML (the GPU); ``name`` None when neither is readable."""

    def __init__(self, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.name: str | None = None
        self._read = None
        if self.device.type == "cuda":
            self._read = self._nvml()
        if self._read is None:
            self._read = self._rapl()
        self._start: float | None = None

    def _rapl(self):
        domains = [d for d in sorted(RAPL.glob("intel-rapl:*")) if ":" in d.name and d.name.count(":") == 1]
        readable = [d for d in domains if (d / "energy_uj").is_file()]
        try:
            ranges = [int((d / "max_energy_range_uj").read_text()) for d in readable]
            [int((d / "energy_uj").read_text()) for d in readable]
        except (OSError, ValueError):
            return None
        if not readable:
            return None
        self.name = "rapl"
        state = {"last": [int((d / "energy_uj").read_text()) for d in readable], "total": 0.0}

        def read() -> float:  # counters wrap at max_energy_range_uj
            now = [int((d / "energy_uj").read_text()) for d in readable]
            for i, (before, after) in enumerate(zip(state["last"], now)):
                state["total"] += ((after - before) % ranges[i]) / 1e6
            state["last"] = now
            return state["total"]

        return read

    def _nvml(self):
        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(self.device.index or 0)
            pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
        except Exception:  # no pynvml, no driver, or a GPU without the counter
            return None
        self.name = "nvml"
        return lambda: pynvml.nvmlDeviceGetTotalEnergyConsumption(handle) / 1000.0  # millijoules

    def start(self) -> None:
        self._start = self._read() if self._read else None

    def joules(self) -> float | None:
        """Energy since start(), or None without a meter."""
        if self._read is None or self._start is None:
            return None
        return self._read() - self._start
