"""The package's shape: imports only go down the layers, stages never import each other, and a new
method is one new file that touches no existing module."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from condense.cli import STAGES, main

PACKAGE = Path(__file__).resolve().parent.parent / "condense"

# Lower number = lower layer. A module may import its own layer's package and anything below it;
# the libraries of layer 4 do not import one another (a stage wires them together).
LAYERS = {
    "core": 0,
    "data": 1,
    "models": 2,
    "training": 3,
    "methods": 4,
    "masks": 4,
    "baselines": 4,
    "reporting": 4,
    "evaluations": 4,
    "stages": 5,
    "registries": 6,
    "config_grid": 6,
    "cli": 6,
    "__main__": 6,
}
LIBRARIES = 4


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported(path: Path) -> set[str]:
    """Absolute names of the condense modules ``path`` imports (relative imports resolved)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    tree = ast.parse(path.read_text())
    # `if __name__ == "__main__": from ..cli import stage_main` runs a stage as a script: not a dependency
    tree.body = [n for n in tree.body if not (isinstance(n, ast.If) and "__main__" in ast.unparse(n.test))]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "condense"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "condense":
                continue
            found.add(target)
            # `from . import dc` imports the submodule condense.methods.dc
            found |= {
                f"{target}.{a.name}"
                for a in node.names
                if (PACKAGE.parent / f"{target}.{a.name}".replace(".", "/")).with_suffix(".py").exists()
            }
    return found


def group(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def violations() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = module_name(path)
        if source == "condense":
            continue
        src_group = group(source)
        assert src_group in LAYERS, f"{source}: its subpackage {src_group!r} has no layer in tests/test_architecture.py"
        for target in imported(path):
            if target == "condense":
                continue
            dst_group = group(target)
            if LAYERS[dst_group] > LAYERS[src_group]:
                found.append(f"{source} imports {target}: upward ({src_group} -> {dst_group})")
            elif LAYERS[dst_group] == LAYERS[src_group] == LIBRARIES and dst_group != src_group:
                found.append(f"{source} imports {target}: sideways between libraries ({src_group} -> {dst_group})")
            elif src_group == "stages" and dst_group == "stages" and target not in ("condense.stages", "condense.stages._args"):
                found.append(f"{source} imports {target}: a stage imports another stage")
    return found


def import_cycles() -> list[list[str]]:
    """Every cycle of module imports (function-level imports included: hiding an import in a function does not
    remove the dependency), each as the modules around it; a package's ``__init__`` importing its own modules to
    register them is not a cycle by itself."""
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        source = module_name(path)
        graph[source] = {t for t in imported(path) if t != source and not source.startswith(t + ".")}
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return cycles


def test_imports_only_go_down_the_layers_and_stages_stay_apart():
    assert violations() == []


def test_no_module_imports_itself_through_others():
    assert import_cycles() == []


def test_the_layer_check_catches_an_upward_and_a_stage_to_stage_import(tmp_path, monkeypatch):
    # The rule must be able to fail: a copy of the package with two bad imports added.
    import shutil

    copy = tmp_path / "condense"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "data" / "store.py").write_text((copy / "data" / "store.py").read_text() + "\nfrom ..methods import METHODS\n")
    (copy / "stages" / "mask.py").write_text((copy / "stages" / "mask.py").read_text() + "\nfrom .distill import run\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", copy)
    found = violations()
    assert any("condense.data.store imports condense.methods: upward" in v for v in found), found
    assert any("condense.stages.mask imports condense.stages.distill: a stage imports another stage" in v for v in found), found
    assert len(found) == 2
    # and a cycle, hidden in a function as before: data.traits <-> data.store
    (copy / "data" / "traits.py").write_text(
        (copy / "data" / "traits.py").read_text() + "\n\ndef _late():\n    from .store import RealData\n"
    )
    assert any(c[0] == "condense.data.store" or "condense.data.traits" in c for c in import_cycles()), import_cycles()


TOY_METHOD = '''
"""A toy condensation method: pull every synthetic image towards its class's mean real image."""

from dataclasses import asdict, dataclass

import torch

from condense.core.checks import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE
from condense.core.settings import setting
from condense.methods import MethodSpec, register_method


@dataclass(frozen=True)
class ToySettings:
    method: str
    ipc: int
    model: str = "convnet"
    iterations: int = setting(3, "iterations", bounds=NON_NEGATIVE)
    lr_img: float = setting(0.5, "image learning rate", bounds=POSITIVE)
    batch_real: int = setting(4, "real images per class", bounds=AT_LEAST_ONE)
    init: str = setting("noise", "noise or real", choices=("noise", "real"))
    strategy: str = setting("none", "augmentation", flag="augment")

    def to_dict(self):
        return asdict(self)


def step(problem, generator):
    s = problem.settings
    loss = torch.zeros(())
    for c in range(problem.num_classes):
        real = problem.data.sample_class(c, s.batch_real, generator)
        loss = loss + ((problem.images[problem.class_slice(c)] - real.mean(0)) ** 2).mean()
    problem.image_step(loss)
    return loss.detach()


register_method(MethodSpec(name="toy", label="Toy", settings=ToySettings, step=step, eval_augment="none",
                           loss_label="squared distance to the class mean",
                           real_images_per_iteration=lambda settings, classes: classes * settings.batch_real))
'''


def test_a_new_method_is_one_new_file(data_file, tmp_path):
    """A toy method written as one file (a plugin) condenses, resumes, evaluates and goes into a table,
    with no existing module edited: the registry gives it its flags, defaults and label."""
    plugin = tmp_path / "toy_method.py"
    plugin.write_text(textwrap.dedent(TOY_METHOD))
    env = {**os.environ, "CONDENSE_PLUGINS": str(plugin)}

    def condense(*args):
        proc = subprocess.run([sys.executable, "-m", "condense", *args], capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc

    assert "--batch-real" in condense("distill", "--help").stdout
    out, ckpt = tmp_path / "toy.pt", tmp_path / "toy.ckpt"
    condense(
        "distill",
        "--method",
        "toy",
        "--data",
        str(data_file),
        "--ipc",
        "2",
        "--device",
        "cpu",
        "--quiet",
        "--checkpoint",
        str(ckpt),
        "--checkpoint-every",
        "1",
        "--out",
        str(out),
    )
    import torch

    stored = torch.load(out, weights_only=True)
    assert stored["meta"]["method"] == "toy" and stored["meta"]["settings"]["iterations"] == 3  # its own default
    assert len(stored["meta"]["losses"]) == 4 and stored["meta"]["losses"][-1] < stored["meta"]["losses"][0]
    evaluation = tmp_path / "eval.json"
    condense(
        "evaluate",
        "--data",
        str(data_file),
        "--set",
        str(out),
        "--model",
        "convnet_w32",
        "--num-nets",
        "1",
        "--epochs",
        "2",
        "--device",
        "cpu",
        "--quiet",
        "--out",
        str(evaluation),
    )
    assert json.loads(evaluation.read_text())["method"] == "toy"
    md, csv = tmp_path / "t.md", tmp_path / "t.csv"
    condense("table", str(evaluation), "--layout", "convnet", "--out-md", str(md), "--out-csv", str(csv))
    table = md.read_text()
    assert "\n| Toy " in table and "\n| Toy + mask " in table and "and Toy with and without masks" in table  # its own rows, by its label
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "condense",
            "distill",
            "--method",
            "toy",
            "--data",
            str(data_file),
            "--ipc",
            "1",
            "--lr-net",
            "0.1",
            "--device",
            "cpu",
            "--out",
            str(tmp_path / "x.pt"),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode == 2 and "--lr-net does not apply to toy" in bad.stderr


def test_the_workflow_takes_a_plugin_method(tmp_path):
    """`plugins:` in the config: the workflow's wildcards, schema names and flags include the new method."""
    plugin = tmp_path / "toy_method.py"
    plugin.write_text(textwrap.dedent(TOY_METHOD))
    config = tmp_path / "toy.yaml"
    config.write_text(f"plugins: [{plugin}]\ndistill:\n  methods: [toy]\n  toy: {{iterations: 5}}\n")
    repo = PACKAGE.parent
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(repo / "Snakefile"),
            "--directory",
            str(tmp_path),
            "-n",
            "-p",
            "--cores",
            "1",
            "all",
            "--configfile",
            str(repo / "config" / "smoke.yaml"),
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "distill --method toy" in out and "--iterations 5" in out
    assert "sets/toy_ipc3_seed0.pt" in out and "eval/toy_ipc1_seed0/convnet.json" in out


def test_the_module_map_in_the_docs_is_true_to_the_tree():
    """docs/architecture.md lists every module of the package (a `*` row: one file per registered entry) and nothing
    that is not there."""
    import fnmatch
    import re

    text = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    table = text.split("## Module map", 1)[1].split("\n## ", 1)[0]
    patterns = [
        p for row in table.splitlines() if row.startswith("| `condense") for p in re.findall(r"`(condense/[^`]+)`", row.split(" | ")[0])
    ]
    modules = sorted(str(p.relative_to(PACKAGE.parent)) for p in PACKAGE.rglob("*.py"))
    unlisted = [m for m in modules if not any(fnmatch.fnmatch(m, p) for p in patterns)]
    stale = [p for p in patterns if not any(fnmatch.fnmatch(m, p) for m in modules)]
    assert unlisted == [] and stale == [], (unlisted, stale)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_stage_prints_its_help(stage, capsys):
    # argparse formats help strings with %: a literal "(%)" in one crashed `condense table --help`
    with pytest.raises(SystemExit) as done:
        main([stage, "--help"])
    assert done.value.code == 0 and f"usage: condense {stage}" in capsys.readouterr().out
