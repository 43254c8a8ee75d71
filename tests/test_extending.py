"""Extensions as one file each, through the registries: a method that learns its learning rate and requires an
artifact made by its own rule (condensed, resumed, evaluated with its learned rate through the workflow), and an
evaluation kind whose records reach a table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from condense.data.records import EvalRecord, SyntheticSet

REPO = Path(__file__).resolve().parent.parent
SMOKE = REPO / "config" / "smoke.yaml"

LEARNED_LR_METHOD = '''
"""A toy method with a required artifact and a learned learning rate, in one file.

Artifact ``class_means``: the mean real image of each class. Method ``toylr``: pull every synthetic image towards
its class's mean (from the artifact), with a learning rate that is learned too (it is the set's ``learned_lr``)."""

from dataclasses import asdict, dataclass

import torch

from condense.core.checks import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE
from condense.core.settings import setting
from condense.methods import ArtifactKind, MethodSpec, MethodState, register_artifact, register_method


@dataclass(frozen=True)
class MeansSettings:
    per_class: int = setting(6, "real images per class averaged", bounds=AT_LEAST_ONE)


def class_means(data, settings, seed, device):
    gen = torch.Generator().manual_seed(seed)
    return {"means": torch.stack([data.sample_class(c, settings.per_class, gen).mean(0) for c in range(data.num_classes)]).cpu()}


register_artifact(ArtifactKind("class_means", "the mean real image of each class", MeansSettings, class_means))


@dataclass(frozen=True)
class ToyLRSettings:
    method: str
    ipc: int
    model: str = "convnet"
    iterations: int = setting(4, "iterations", bounds=NON_NEGATIVE)
    lr_img: float = setting(0.2, "image learning rate", bounds=POSITIVE)
    lr_init: float = setting(0.02, "initial learned learning rate", bounds=POSITIVE)
    lr_lr: float = setting(0.001, "learning rate of the learned learning rate", bounds=POSITIVE)
    init: str = setting("noise", "noise or real", choices=("noise", "real"))
    strategy: str = setting("none", "augmentation", flag="augment")

    def to_dict(self):
        return asdict(self)


def start(problem):
    lr = torch.tensor(problem.settings.lr_init, requires_grad=True)
    problem.learned.update(lr=lr, lr_optimizer=torch.optim.SGD([lr], lr=problem.settings.lr_lr))


def save(problem):
    return {"images": problem.images.detach().cpu(), "optimizer": problem.optimizer.state_dict(),
            "lr": problem.learned["lr"].detach().cpu(), "lr_optimizer": problem.learned["lr_optimizer"].state_dict()}


def load(problem, saved):
    with torch.no_grad():
        problem.images.copy_(saved["images"])
        problem.learned["lr"].copy_(saved["lr"])
    problem.optimizer.load_state_dict(saved["optimizer"])
    problem.learned["lr_optimizer"].load_state_dict(saved["lr_optimizer"])


def step(problem, generator):
    means = problem.artifacts["class_means"]["means"].to(problem.images.device)
    target = means.repeat_interleave(problem.settings.ipc, dim=0)
    lr = problem.learned["lr"]
    loss = ((problem.images - target) ** 2).mean() + (lr - 0.05) ** 2  # the rate drifts towards 0.05
    problem.learned["lr_optimizer"].zero_grad(set_to_none=True)
    problem.image_step(loss)
    problem.learned["lr_optimizer"].step()
    return loss.detach()


register_method(MethodSpec(name="toylr", label="ToyLR", settings=ToyLRSettings, step=step, eval_augment="none",
                           loss_label="distance to the class means", real_images_per_iteration=lambda settings, classes: 0,
                           requires=("class_means",), produces=("learned_lr",),
                           state=MethodState(start=start, save=save, load=load,
                                             export=lambda problem: {"learned_lr": float(problem.learned["lr"])})))
'''


def condense(env, *args):
    proc = subprocess.run([sys.executable, "-m", "condense", *args], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_a_method_with_a_required_artifact_and_a_learned_lr_resumes_exactly(data_file, tmp_path):
    plugin = tmp_path / "toylr.py"
    plugin.write_text(textwrap.dedent(LEARNED_LR_METHOD))
    env = {**os.environ, "CONDENSE_PLUGINS": str(plugin), "PYTHONPATH": str(REPO)}
    means = tmp_path / "means.pt"
    assert "--per-class" in condense(env, "artifact", "--help").stdout
    condense(env, "artifact", "--kind", "class_means", "--data", str(data_file), "--per-class", "4", "--out", str(means), "--quiet")
    common = ["distill", "--method", "toylr", "--data", str(data_file), "--ipc", "2", "--device", "cpu", "--quiet",
              "--artifact", f"class_means={means}"]  # fmt: skip
    straight, resumed, ckpt = tmp_path / "straight.pt", tmp_path / "resumed.pt", tmp_path / "run.ckpt"
    condense(env, *common, "--out", str(straight))
    condense(env, *common, "--out", str(resumed), "--checkpoint", str(ckpt), "--checkpoint-every", "2", "--stop-after", "2")
    condense(env, *common, "--out", str(resumed), "--checkpoint", str(ckpt), "--checkpoint-every", "2")
    a, b = SyntheticSet.load(straight), SyntheticSet.load(resumed)
    assert torch.equal(a.images, b.images) and a.learned_lr == b.learned_lr and a.learned_lr != 0.02  # it learned, and resumed exactly
    assert a.provenance.losses == b.provenance.losses and "artifact:class_means" in a.provenance.inputs
    missing = subprocess.run([sys.executable, "-m", "condense", *common[:-2], "--out", str(tmp_path / "x.pt")],
                             capture_output=True, text=True, env=env)  # fmt: skip
    assert missing.returncode == 2 and "requires --artifact class_means=FILE" in missing.stderr


@pytest.mark.slow
def test_the_workflow_makes_the_artifact_by_its_own_rule_and_evaluates_with_the_learned_lr(tmp_path):
    plugin = tmp_path / "toylr.py"
    plugin.write_text(textwrap.dedent(LEARNED_LR_METHOD))
    overlay = tmp_path / "toylr.yaml"
    overlay.write_text(
        f"plugins: [{plugin}]\nipcs: [1]\ncoreset: {{methods: []}}\nattention: {{masks: []}}\n"
        "distill:\n  methods: [toylr]\n  toylr: {iterations: 3}\neval:\n  lr: null\n  augment: {toylr: none}\n"
        "artifacts:\n  class_means: {per_class: 5, seed: 2}\n"
    )
    results = tmp_path / "results" / "smoke" / "cifar10"
    target = "results/smoke/cifar10/eval/toylr_ipc1_seed0/convnet.json"
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--cores", "2",
           target, "--configfile", str(SMOKE), str(overlay)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert (results / "artifacts" / "class_means_seed2.pt").exists()  # its own rule, its own seed
    assert torch.load(results / "artifacts" / "class_means_seed2.pt", weights_only=True)["settings"] == {"per_class": 5}
    synthetic = SyntheticSet.load(results / "sets" / "toylr_ipc1_seed0.pt")
    record = EvalRecord.load(tmp_path / target)
    assert synthetic.learned_lr is not None and record.settings["lr"] == synthetic.learned_lr  # evaluated with the learned rate


BRIGHTNESS_KIND = '''
"""A toy evaluation kind in one file: each 'network' reports the set's mean pixel plus its index."""

from dataclasses import dataclass

from condense.core.checks import AT_LEAST_ONE
from condense.core.settings import setting
from condense.evaluations import Column, EvaluationKind, register_evaluation


@dataclass(frozen=True)
class BrightnessSettings:
    repeats: int = setting(3, "values per set", bounds=AT_LEAST_ONE)


def run(synthetic, data, settings, context):
    base = float(synthetic.images.mean())
    return [{"net": i, "seed": context.seed + i, "brightness": base + i, "diverged": False, "seconds": 0.0}
            for i in range(settings.repeats)], {}


register_evaluation(EvaluationKind("brightness", "mean pixel of the set", BrightnessSettings,
                                   (Column("brightness", "mean pixel (+ index)"),), run))
'''


def test_an_evaluation_kind_in_one_file_reaches_a_table(data_file, tmp_path):
    from conftest import write_record, write_set

    plugin = tmp_path / "brightness.py"
    plugin.write_text(textwrap.dedent(BRIGHTNESS_KIND))
    env = {**os.environ, "CONDENSE_PLUGINS": str(plugin), "PYTHONPATH": str(REPO)}
    records = []
    for method, value in (("random", 0.25), ("herding", -0.5)):
        set_file = write_set(tmp_path / f"{method}.pt", torch.full((3, 1, 28, 28), value), torch.arange(3), method=method, ipc=1)
        out = tmp_path / f"{method}.json"
        condense(env, "evaluate", "--kind", "brightness", "--data", str(data_file), "--set", str(set_file), "--repeats", "3",
                 "--device", "cpu", "--quiet", "--out", str(out))  # fmt: skip
        records.append(out)
    assert json.loads(records[0].read_text())["kind"] == "brightness"
    accuracy = write_record(tmp_path / "acc.json", [0.9], method="random")  # another kind: left out of this table
    md, csv = tmp_path / "t.md", tmp_path / "t.csv"
    condense(env, "table", *map(str, records), str(accuracy), "--kind", "brightness", "--layout", "pivot", "--rows", "method",
             "--columns", "ipc,model", "--out-md", str(md), "--out-csv", str(csv))  # fmt: skip
    text = md.read_text()
    # values base + 0, 1, 2: mean base + 1, population std sqrt(2/3) = 0.8
    assert "| random   | 1.2 ± 0.8 (3)" in text and "| herding  | 0.5 ± 0.8 (3)" in text, text
    assert "ipc 1, model convnet" in text and "mean pixel (+ index)" in text
