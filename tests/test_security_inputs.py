"""Inputs that must be refused in one line with exit status 2 before any work: sets holding NaN or infinity, a full
disk or file-size limit while a torch file is written, config filters naming nothing that runs; plus the small
wording fixes (the membership flag, the t-SNE input)."""

from __future__ import annotations

import copy
import dataclasses
import errno
import gzip
import io
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import write_set

from condense.cli import main
from condense.core import fileio
from condense.core.errors import CondenseError
from condense.core.fileio import save_torch
from condense.data.records import Provenance, SyntheticSet
from condense.evaluations import EVALUATIONS
from condense.registries import check_config

FAST_EVAL = ["--model", "convnet_w32", "--num-nets", "1", "--epochs", "1", "--device", "cpu", "--quiet", "--threads", "1"]


def _error_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]


def _images(bad: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.randn(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    if bad is not None:
        images[3, 0, 5, 7] = bad
    return images, torch.tensor([0, 0, 1, 1, 2, 2])


# ---------------------------------------------------------------------------------------------- non-finite sets


def _condense_file(tmp_path, images, labels, **extra):
    path = tmp_path / "set.pt"
    SyntheticSet(images, labels, Provenance("fashionmnist", "dm", 2, 0), **extra).save(path)
    return path


def _official_file(tmp_path, images, labels):
    path = tmp_path / "res_DM_FashionMNIST_ConvNet_2ipc.pt"
    torch.save({"data": [[images, labels]], "accs_all_exps": {}}, path)
    return path


def _mtt_directory(tmp_path, images, labels):
    path = tmp_path / "logged_files"
    path.mkdir()
    torch.save(images, path / "images_best.pt")
    torch.save(labels, path / "labels_best.pt")
    return path


def _tensor_file(tmp_path, images, labels):
    path = tmp_path / "pair.pt"
    torch.save({"images": images, "labels": labels}, path)
    return path


SET_WRITERS = {"condense": _condense_file, "official": _official_file, "mtt": _mtt_directory, "tensors": _tensor_file}


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("fmt", sorted(SET_WRITERS))
def test_a_set_with_non_finite_images_is_refused_by_evaluate_in_every_format(data_file, tmp_path, capsys, fmt, bad):
    path = SET_WRITERS[fmt](tmp_path, *_images(bad))
    out = tmp_path / "eval.json"
    code = main(["evaluate", "--data", str(data_file), "--set", str(path), *FAST_EVAL, "--out", str(out)])
    err = _error_lines(capsys)
    assert code == 2 and len(err) == 1, err
    assert str(path) in err[0] and "non-finite" in err[0] and "images" in err[0]
    assert not out.exists()


@pytest.mark.parametrize("kind", EVALUATIONS.names())
def test_every_evaluation_kind_refuses_a_nan_set_before_training(data_file, tmp_path, capsys, monkeypatch, kind):
    trained = []  # the kind's training, replaced by a spy: the set must be refused before it is reached
    spy = dataclasses.replace(EVALUATIONS.get(kind), run=lambda *a, **k: trained.append(a) or ([], {}))
    monkeypatch.setitem(EVALUATIONS._items, kind, spy)
    path = _condense_file(tmp_path, *_images(math.nan))
    out = tmp_path / "eval.json"
    code = main(["evaluate", "--kind", kind, "--data", str(data_file), "--set", str(path), *FAST_EVAL, "--out", str(out)])
    err = _error_lines(capsys)
    assert code == 2 and len(err) == 1 and "non-finite" in err[0], err
    assert trained == [] and not out.exists()


def test_export_refuses_a_nan_set_and_writes_nothing(data_file, tmp_path, capsys):
    path = _tensor_file(tmp_path, *_images(math.nan))
    out = tmp_path / "export"
    code = main(["export", "--data", str(data_file), "--set", str(path), "--out", str(out), "--quiet"])
    err = _error_lines(capsys)
    assert code == 2 and len(err) == 1 and str(path) in err[0] and "non-finite" in err[0], err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["data.pt", "pair.pt"]


@pytest.mark.parametrize(
    "extra, needle",
    [
        ({"soft_labels": torch.tensor([[1.0, 0.0, math.nan]] * 6)}, "in its soft_labels"),
        ({"learned_lr": math.inf}, "learned_lr inf"),
        ({"learned_lr": math.nan}, "learned_lr nan"),
        ({"decoder": {"name": "multiformation", "factor": 2, "pad": [math.nan]}}, "finite pad values"),
    ],
)
def test_a_set_with_non_finite_soft_labels_learning_rate_or_pad_is_refused(data_file, tmp_path, capsys, extra, needle):
    path = _condense_file(tmp_path, *_images(), **extra)
    out = tmp_path / "eval.json"
    code = main(["evaluate", "--data", str(data_file), "--set", str(path), *FAST_EVAL, "--out", str(out)])
    err = _error_lines(capsys)
    assert code == 2 and len(err) == 1 and needle in err[0] and str(path) in err[0], err
    assert not out.exists()


@pytest.mark.parametrize("text", ["inf", "nan"])
def test_an_mtt_learning_rate_file_holding_infinity_is_refused_naming_it(data_file, tmp_path, capsys, text):
    path = _mtt_directory(tmp_path, *_images())
    (path / "synthetic_lr").write_text(text)
    code = main(["evaluate", "--data", str(data_file), "--set", str(path), *FAST_EVAL, "--out", str(tmp_path / "e.json")])
    err = _error_lines(capsys)
    assert code == 2 and len(err) == 1 and str(path / "synthetic_lr") in err[0] and "finite positive" in err[0], err


def test_figures_refuse_a_nan_set_file(data_file, tmp_path, capsys):
    path = write_set(tmp_path / "dm_ipc2_seed0.pt", *_images(math.nan), method="dm")
    out = tmp_path / "grid.png"
    code = main(["figures", "synthetic_images", str(path), "--data", str(data_file), "--out", str(out), "--quiet"])
    err = _error_lines(capsys)
    assert code == 2 and len(err) == 1 and str(path) in err[0] and "non-finite" in err[0], err
    assert not out.exists()


# ------------------------------------------------------------------------------- a full disk in a torch write

# Runs `condense ARGS...` under a file-size limit (SIGXFSZ ignored, so a write past it fails with EFBIG, as a
# full disk fails with ENOSPC); the limit is set after the imports, so only the stage's own writes meet it.
UNDER_SIZE_LIMIT = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
from condense.cli import main
import condense.stages.coreset
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
sys.exit(main(sys.argv[2:]))
"""


def test_a_file_size_limit_in_a_torch_write_is_one_line_exit_2_and_the_previous_file_stays(data_file, tmp_path):
    out = tmp_path / "random_ipc4_seed0.pt"
    out.write_bytes(b"the previous set")
    args = ["coreset", "--method", "random", "--data", str(data_file), "--ipc", "4", "--out", str(out), "--device", "cpu"]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-c", UNDER_SIZE_LIMIT, "4096", *args], capture_output=True, text=True, env=env, timeout=120)
    err = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert proc.returncode == 2 and len(err) == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and str(out) in err[0] and "File too large" in err[0]
    assert out.read_bytes() == b"the previous set"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.pt", out.name]  # no temporary file left


def _full_disk_after(limit: int):
    """An ``open`` whose binary write handles fail with ENOSPC once ``limit`` bytes are written."""
    real_open = open

    class FullDisk(io.FileIO):
        written = 0

        def write(self, data):
            if self.written + len(data) > limit:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.written += len(data)
            return super().write(data)

    def fake_open(path, mode="r", *args, **kwargs):
        return FullDisk(path, mode.replace("b", "")) if "w" in mode and "b" in mode else real_open(path, mode, *args, **kwargs)

    return fake_open


def test_a_full_disk_in_save_torch_is_one_line_and_the_previous_file_stays(tmp_path, monkeypatch):
    path = tmp_path / "artifact.pt"
    save_torch({"x": torch.zeros(3)}, path)
    previous = path.read_bytes()
    monkeypatch.setattr(fileio, "open", _full_disk_after(1024), raising=False)
    with pytest.raises(CondenseError) as err:
        save_torch({"x": torch.zeros(10_000)}, path)
    assert str(path) in str(err.value) and "No space left on device" in str(err.value) and "\n" not in str(err.value)
    assert path.read_bytes() == previous and [p.name for p in tmp_path.iterdir()] == ["artifact.pt"]


def test_a_full_disk_while_exporting_is_one_line_and_the_earlier_export_stays(data_file, tmp_path, capsys, monkeypatch):
    path = _tensor_file(tmp_path, *_images())
    out = tmp_path / "export"
    assert main(["export", "--data", str(data_file), "--set", str(path), "--out", str(out), "--quiet"]) == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    monkeypatch.setattr(fileio, "open", _full_disk_after(1024), raising=False)
    code = main(["export", "--data", str(data_file), "--set", str(path), "--out", str(out), "--quiet"])
    err = _error_lines(capsys)
    assert code == 2 and len(err) == 1 and str(out) in err[0] and "No space left on device" in err[0], err
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.pt", "export", "pair.pt"]


@pytest.mark.parametrize("compressed", [True, False], ids=["extracted", "copied"])
def test_a_full_disk_while_placing_mirror_files_is_one_line_saying_so(tmp_path, capsys, monkeypatch, compressed):
    from condense.data import sources
    from condense.data.fixtures import MD5_FILE, write_fixture

    mirror = tmp_path / "mirror"
    write_fixture("mnist", mirror, 2, 1, seed=0)
    if not compressed:  # the decompressed files, which `download` copies under --root instead of extracting
        for packed in mirror.glob("*.gz"):
            packed.with_suffix("").write_bytes(gzip.decompress(packed.read_bytes()))
            packed.unlink()

    def full(src, dest, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dest))

    monkeypatch.setattr(sources.shutil, "copyfile", full)
    monkeypatch.setattr("torchvision.datasets.utils.extract_archive", lambda src, dest: full(src, Path(dest) / "x"))
    args = ["download", "--dataset", "mnist", "--root", str(tmp_path / "root"), "--mirror", str(mirror)]
    code = main([*args, "--md5-file", str(mirror / MD5_FILE), "--out", str(tmp_path / "data.pt"), "--quiet"])
    err = _error_lines(capsys)
    assert code == 2 and len(err) == 1, err
    assert "No space left on device" in err[0] and "free space under --root" in err[0] and "intact copy" not in err[0]
    assert not (tmp_path / "data.pt").exists()


def test_export_to_the_current_directory_leaves_no_old_directory_behind(data_file, tmp_path, capsys, monkeypatch):
    path = _tensor_file(tmp_path, *_images())
    out = tmp_path / "export"
    assert main(["export", "--data", str(data_file), "--set", str(path), "--out", str(out), "--quiet"]) == 0
    before = sorted(p.name for p in out.iterdir())
    monkeypatch.chdir(out)
    code = main(["export", "--data", str(data_file), "--set", str(path), "--out", ".", "--quiet"])
    err = _error_lines(capsys)
    assert code == 0 or (code == 2 and len(err) == 1), err  # refused (a directory cannot be moved onto itself) or done
    assert sorted(p.name for p in out.iterdir()) == before  # no `.-old-*` (nor staging) directory left in it


# -------------------------------------------------------------------------------------------- small messages


@pytest.mark.parametrize("flag", ["--pool-per-class", "--test-per-class"])
def test_membership_names_the_per_class_flag_that_asked_for_too_many(data_file, tmp_path, capsys, flag):
    sizes = {"--pool-per-class": "4", "--test-per-class": "1", flag: "99"}  # data_file: 8 train, 4 test images a class
    argv = ["membership", "--data", str(data_file), "--source", "half", "--shadows", "6", "--device", "cpu", "--quiet"]
    argv += [arg for name, value in sizes.items() for arg in (name, value)]
    assert main([*argv, "--out", str(tmp_path / "m.json")]) == 2
    err = _error_lines(capsys)
    assert len(err) == 1 and f"error: {flag} 99 exceeds the" in err[0], err
    assert ("use 0 for all" in err[0]) == (flag == "--test-per-class")  # --pool-per-class takes no 0


def test_the_tsne_figure_names_a_damaged_input_once(data_file, tmp_path, capsys):
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(b"not a torch file")
    code = main(["figures", "tsne", str(damaged), "--data", str(data_file), "--out", str(tmp_path / "t.png"), "--quiet"])
    err = _error_lines(capsys)
    assert code == 2 and len(err) == 1 and f"t-SNE input file {str(damaged)!r} is corrupted" in err[0], err
    assert "file file" not in err[0]


# ------------------------------------------------------------------------------------- names in config filters

SCHEMA = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "config.schema.yaml"


@pytest.fixture
def paper_config(repo_root):
    return yaml.safe_load((repo_root / "config.yaml").read_text())


@pytest.mark.parametrize(
    "section, value, needle",
    [
        # the case: a typo drops every ConvNet evaluation
        ("eval.limit", {"convnet": {"methods": ["dmm"]}}, "key eval.limit.convnet.methods.0 = 'dmm' is invalid ('dmm' is not a method"),
        ("eval.limit", {"convnet": {"methods": ["dm"], "ipcs": [20]}}, "key eval.limit.convnet.ipcs.0 = 20 is invalid"),
        ("eval.limit", {"convnett": {"methods": ["dm"]}}, "key eval.limit.convnett is invalid ('convnett' is not a registered network"),
        ("eval.limit", {"resnet18": {"methods": ["dnm"]}}, "key eval.limit.resnet18.methods.0 = 'dnm' is invalid"),
        ("evaluations", {"continual": {"methods": ["nosuch"]}}, "key evaluations.continual.methods.0 = 'nosuch' is invalid"),
        ("evaluations", {"continual": {"methods": ["dm"], "ipcs": [10, 7]}}, "key evaluations.continual.ipcs.1 = 7 is invalid"),
        (
            "evaluations",
            {"continual": {"methods": ["dm-on-resnet99"]}},
            "key evaluations.continual.methods.0 = 'dm-on-resnet99' is invalid",
        ),
        (
            "evaluations",
            {"continual": {"methods": ["dsa-mask-fcn-r2.0-mean-soft-fixed"]}},
            "methods.0 = 'dsa-mask-fcn-r2.0-mean-soft-fixed'",
        ),
        ("membership", {"datasets": ["mnist"]}, "key membership.datasets.0 = 'mnist' is invalid ('mnist' is not a dataset"),
        ("eval.augment", {"dmm": "dsa"}, "key eval.augment.dmm is invalid ('dmm' is not a registered method or coreset"),
    ],
)
def test_a_name_in_a_config_filter_that_selects_nothing_stops_the_config(paper_config, section, value, needle):
    node = paper_config
    *parents, last = section.split(".")
    for key in parents:
        node = node[key]
    node[last] = value
    with pytest.raises(CondenseError) as err:
        check_config(paper_config, SCHEMA)
    message = str(err.value)
    assert needle in message and "\n" not in message, message


def test_the_error_lists_the_valid_names(paper_config):
    paper_config["eval"]["limit"] = {"alexnet": {"methods": ["dmm"]}}
    with pytest.raises(CondenseError) as err:
        check_config(paper_config, SCHEMA)
    assert "a method or coreset the config runs: " in str(err.value) and "dc, dm, dsa" in str(err.value)
    paper_config["eval"]["limit"] = {"alexnet": {"methods": ["dm"], "ipcs": [1, 10, 50]}}
    paper_config["evaluations"] = {"continual": {"methods": ["random", "dsa-mask-fcn-r1.0-mean-soft-batch"], "ipcs": [10]}}
    assert check_config(paper_config, SCHEMA)  # a masked set's full name is a set the config makes


def test_snakemake_dry_run_stops_on_an_unknown_name_in_eval_limit(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("eval: {limit: {convnet: {methods: [dmm]}}}\n")
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SCHEMA.parents[2] / "Snakefile"), "--directory", str(tmp_path)]
    proc = subprocess.run([*cmd, "-n", "--cores", "1", "--configfile", str(bad)], capture_output=True, text=True, timeout=300)
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("error: ")]
    assert proc.returncode == 2 and len(lines) == 1 and "eval.limit.convnet.methods.0 = 'dmm'" in lines[0], proc.stderr[-2000:]


def test_a_profile_that_cuts_the_grid_keeps_the_evaluation_kinds_it_inherits(paper_config):
    """An overlay such as `ipcs: [1]` and `coreset: {methods: []}` keeps the kinds of the config it extends: a kind
    judging none of its sets, or only some of the listed ones, is no error (only a misspelt name or an IPC is)."""
    paper_config["evaluations"] = {"continual": {"methods": ["random", "herding", "dm"], "ipcs": [10]}}
    paper_config["coreset"]["methods"] = []
    assert check_config(copy.deepcopy(paper_config), SCHEMA)  # dm at IPC 10 only
    paper_config["ipcs"] = [1]
    assert check_config(paper_config, SCHEMA)  # nothing at IPC 10: the kind judges nothing here ...


def test_a_kind_that_judges_nothing_is_allowed_but_said(paper_config, capsys):
    paper_config["evaluations"] = {"continual": {"methods": ["dm"], "ipcs": [7]}}  # DM never runs at IPC 7
    assert check_config(paper_config, SCHEMA)
    err = capsys.readouterr().err
    assert "warning: config: evaluations.continual judges no set of this config" in err and "it runs nothing" in err


def test_a_membership_pipeline_of_an_unregistered_or_missing_method_stops_the_config(paper_config):
    paper_config["membership"] = {"datasets": [], "pipelines": [{"source": "set", "ipc": 10}]}
    with pytest.raises(CondenseError, match="membership.pipelines.0.method"):
        check_config(paper_config, SCHEMA)


def test_an_export_that_cannot_take_the_earlier_ones_place_puts_it_back(data_file, tmp_path, capsys, monkeypatch):
    from condense.stages import export

    path = _tensor_file(tmp_path, *_images())
    out = tmp_path / "export"
    assert main(["export", "--data", str(data_file), "--set", str(path), "--out", str(out), "--quiet"]) == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    real_replace = os.replace

    def staging_cannot_move(src, dst):
        if Path(dst) == out and ".export-old-" not in str(src):  # the new export into place: a full disk, say
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_replace(src, dst)

    monkeypatch.setattr(export.os, "replace", staging_cannot_move)
    assert main(["export", "--data", str(data_file), "--set", str(path), "--out", str(out), "--quiet"]) == 2
    assert len(_error_lines(capsys)) == 1
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.pt", "export", "pair.pt"]


def test_a_random_coreset_larger_than_a_class_names_the_ipc_flag(data_file):
    from condense.baselines import coreset
    from condense.data.store import load_data

    # the stage refuses such an IPC first; a library caller gets the same flag named, without "use 0 for all"
    with pytest.raises(CondenseError, match=r"^--ipc 1000 exceeds the \d+ images of class 0; lower it$"):
        coreset._random(load_data(data_file), 1000, torch.Generator(), None)
