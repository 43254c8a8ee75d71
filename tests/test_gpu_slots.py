"""One GPU per job: lock-file slots, tested with fake device counts on the CPU."""

import json
import signal
import subprocess
import sys

import pytest
import torch

from condense.core import gpu_slots, runtime
from condense.core.gpu_slots import acquire_slot, release_slot

# A job that takes a slot among `count`, says which, holds it for `hold` seconds (or until killed).
HOLDER = """
import json, sys, time
from pathlib import Path
from condense.core.gpu_slots import acquire_slot
count, directory, hold = int(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
timeout = float(sys.argv[4]) if len(sys.argv) > 4 else None
t0 = time.time()
index = acquire_slot(count, directory, poll_s=0.05, timeout_s=timeout)
print(json.dumps({"index": index, "got": time.time(), "waited": time.time() - t0}), flush=True)
time.sleep(hold)
print(json.dumps({"released": time.time()}), flush=True)
"""


def holder(count, directory, hold, *timeout):
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(count), str(directory), str(hold), *map(str, timeout)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def first_line(proc):
    return json.loads(proc.stdout.readline())


@pytest.fixture(autouse=True)
def _no_slot_left():
    yield
    release_slot()


def test_jobs_take_different_slots_and_a_killed_job_frees_its_own(tmp_path):
    a = holder(2, tmp_path, 60)
    taken = first_line(a)["index"]
    assert acquire_slot(2, tmp_path) == 1 - taken  # the other device
    assert acquire_slot(2, tmp_path) == 1 - taken  # the same process keeps what it holds
    third = holder(2, tmp_path, 0, 0.3)  # both held: it gives up after its timeout
    _, err = third.communicate(timeout=60)
    assert third.returncode != 0 and "all 2 GPU slots" in err
    a.send_signal(signal.SIGKILL)
    a.wait()
    b = holder(2, tmp_path, 0, 5)  # the kernel dropped the killed job's lock
    assert first_line(b)["index"] == taken
    b.communicate(timeout=60)


def test_more_jobs_than_devices_wait_and_never_share_a_device(tmp_path):
    jobs = [holder(2, tmp_path, 0.8) for _ in range(4)]
    events = []
    for job in jobs:
        out, _ = job.communicate(timeout=60)
        got, released = (json.loads(line) for line in out.splitlines())
        events.append((got["index"], got["got"], released["released"], got["waited"]))
    assert {index for index, *_ in events} <= {0, 1}
    # at any moment at most one job on each device, so at most two at once
    for i, (dev_i, start_i, end_i, _) in enumerate(events):
        for dev_j, start_j, end_j, _ in events[i + 1 :]:
            if dev_i == dev_j:
                assert end_i <= start_j or end_j <= start_i
    assert sum(waited > 0.5 for *_, waited in events) >= 2  # two of the four waited for a free device


def test_resolve_device_spreads_jobs_over_several_gpus(tmp_path, monkeypatch):
    monkeypatch.setenv(gpu_slots.LOCK_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    current = []
    monkeypatch.setattr(torch.cuda, "set_device", current.append)
    other = holder(3, tmp_path, 60)
    try:
        held = first_line(other)["index"]
        device = runtime.resolve_device("auto")
        assert device.type == "cuda" and device.index != held and device.index in (0, 1, 2)
        assert current == [device]
        assert runtime.resolve_device("cuda:2") == torch.device("cuda:2")  # an explicit index is taken as given
    finally:
        other.kill()
        other.wait()


def test_one_visible_gpu_takes_no_lock(tmp_path, monkeypatch):
    monkeypatch.setenv(gpu_slots.LOCK_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert runtime.resolve_device("cuda") == torch.device("cuda")
    assert not list(tmp_path.iterdir())
