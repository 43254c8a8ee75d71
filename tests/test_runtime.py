import subprocess
import sys

import pytest
import torch

from condense.core.errors import CondenseError
from condense.core.registry import Registry
from condense.core.runtime import derive_seed, resolve_device


def test_derived_seeds_are_stable_across_processes_and_distinct():
    here = [derive_seed(3, i) for i in range(4)]
    code = "from condense.core.runtime import derive_seed; print([derive_seed(3, i) for i in range(4)])"
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert str(here) == there
    assert len(set(here)) == 4 and all(0 <= s < 2**63 for s in here)
    assert derive_seed(3, 1, 0) != derive_seed(3, 1, 1) != derive_seed(3, 1)


def test_device_resolution():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(CondenseError, match="unknown device 'tpu'"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(CondenseError, match="no CUDA device"):
            resolve_device("cuda")


def test_registry_rejects_duplicates_and_lists_names():
    reg = Registry("widget")
    reg.add("a", 1)
    with pytest.raises(ValueError):
        reg.add("a", 2)
    with pytest.raises(CondenseError, match="unknown widget 'b'; choose one of: a"):
        reg.get("b")
