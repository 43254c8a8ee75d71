"""Bad numbers in, no bad results out: every numeric flag of every stage range-checked, divergence stops or is counted."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from conftest import read_set

from condense.cli import STAGES, main
from condense.core.checks import Bounds
from condense.methods import METHODS, MethodSpec
from condense.methods.dm import DMSettings

BAD = ("0", "-1", "nan", "inf")


def stage_parser(stage: str):
    import importlib

    from condense.stages._args import OneLineParser

    parser = OneLineParser(prog=f"condense {stage}")
    importlib.import_module(STAGES[stage]).add_arguments(parser)
    return parser


def bounded_flags():
    """(stage, flag, bad value) for every numeric flag with a range and every value of BAD it rejects."""
    cases = []
    for stage in STAGES:
        for action in stage_parser(stage)._actions:
            bounds: Bounds | None = getattr(action, "bounds", None)
            if bounds is None:
                continue
            for bad in BAD:
                if action.type is int and bad in ("nan", "inf"):
                    continue  # argparse itself refuses these for an integer flag (also one line, see below)
                if not bounds.admits(float(bad)):
                    cases.append((stage, action.option_strings[0], bad))
    return cases


CASES = bounded_flags()


def required_arguments(stage: str, tmp_path: Path, skip: str) -> list[str]:
    """Values that parse for every required option and positional (files need not exist: ranges are checked first)."""
    argv = []
    for action in stage_parser(stage)._actions:
        if action.option_strings and (not action.required or action.option_strings[0] == skip):
            continue
        if action.dest == "help":
            continue
        value = str(action.choices[0]) if action.choices else ("1" if action.type in (int, float) else str(tmp_path / f"{action.dest}.out"))
        argv += ([action.option_strings[0]] if action.option_strings else []) + [value]
    return argv


def test_the_walk_covers_every_stage_with_numbers():
    stages = {stage for stage, _, _ in CASES}
    assert {"distill", "evaluate", "train-attention", "full-baseline", "coreset", "mask", "saliency", "derive", "herding-order"} <= stages
    flags = {(stage, flag) for stage, flag, _ in CASES}
    assert ("distill", "--lr-img") in flags and ("distill", "--iterations") in flags and ("evaluate", "--epochs") in flags
    assert len(CASES) >= 100, len(CASES)


@pytest.mark.parametrize("stage, flag, bad", CASES, ids=[f"{s}{f}={b}" for s, f, b in CASES])
def test_every_bad_number_is_one_line_exit_2_and_writes_nothing(stage, flag, bad, tmp_path, capsys):
    before = set(tmp_path.iterdir())
    code = main([stage, *required_arguments(stage, tmp_path, flag), flag, bad])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith(f"error: {flag} {bad}") and "out of range" in err[0], err
    assert set(tmp_path.iterdir()) == before


def test_a_non_number_is_one_line_too(tmp_path, capsys):
    assert main(["evaluate", "--data", "d", "--set", "s", "--out", str(tmp_path / "e.json"), "--epochs", "many"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: argument --epochs: invalid int value: 'many'") and "--help" in line


@pytest.fixture
def small_set(data_file, tmp_path):
    out = tmp_path / "set.pt"
    assert main(["coreset", "--method", "random", "--data", str(data_file), "--ipc", "2", "--out", str(out), "--quiet"]) == 0
    return out


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["evaluate", "--model", "convnet", "--num-nets", "1", "--epochs", "-5"], "--epochs -5 is out of range (must be >= 1)"),
        (
            ["distill", "--method", "dsa", "--ipc", "1", "--iterations", "2", "--lr-img", "-1"],
            "--lr-img -1.0 is out of range (must be > 0)",
        ),
        (
            ["distill", "--method", "dsa", "--ipc", "1", "--iterations", "2", "--lr-img", "nan"],
            "--lr-img nan is out of range (must be > 0)",
        ),
    ],
)
def test_the_issues_three_commands(argv, needle, data_file, small_set, tmp_path, capsys):
    out = tmp_path / "result.out"
    extra = ["--set", str(small_set)] if argv[0] == "evaluate" else []
    assert main([*argv, "--data", str(data_file), *extra, "--out", str(out)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == f"error: {needle}" and not out.exists()


# --------------------------------------------------------------------------- divergence


def nan_at(iteration: int):
    """A DM step that poisons the images from iteration ``iteration`` on (counted per process)."""
    from condense.methods.dm import distribution_matching

    calls = {"n": 0}

    def step(problem, generator):
        loss = distribution_matching(problem, generator)
        if calls["n"] >= iteration:
            with torch.no_grad():
                problem.images[0, 0, 0, 0] = float("nan")
        calls["n"] += 1
        return loss

    return step


def test_a_diverged_condensation_stops_keeps_the_last_finite_checkpoint_and_writes_no_set(data_file, tmp_path, capsys, monkeypatch):
    spec = MethodSpec("nan_dm", "NaN DM", DMSettings, nan_at(3), "dsa", "loss", lambda s, c: c * s.batch_real)
    monkeypatch.setitem(METHODS._items, "nan_dm", spec)
    out, ckpt = tmp_path / "set.pt", tmp_path / "run.ckpt"
    code = main(
        [
            "distill",
            "--method",
            "nan_dm",
            "--data",
            str(data_file),
            "--ipc",
            "1",
            "--iterations",
            "6",
            "--batch-real",
            "4",
            "--model",
            "convnet_w32",
            "--checkpoint",
            str(ckpt),
            "--checkpoint-every",
            "1",
            "--device",
            "cpu",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert code == 2 and len(err) == 1 and "diverged at iteration 3" in err[0] and "no set was written" in err[0]
    assert not out.exists()
    saved = torch.load(ckpt, weights_only=True)
    assert saved["next_iteration"] == 3 and torch.isfinite(saved["state"]["images"]).all()  # written after iteration 2, never after 3
    assert all(math.isfinite(loss) for loss in saved["losses"])


def test_a_diverged_evaluation_network_is_counted_and_shown_not_averaged(data_file, small_set, tmp_path, monkeypatch):
    import condense.training.evaluation as evaluation

    real = evaluation.train_network
    calls = {"n": 0}

    def first_diverges(*args, **kwargs):
        stats = real(*args, **kwargs)
        calls["n"] += 1
        return {**stats, "train_loss": float("nan")} if calls["n"] == 1 else stats

    monkeypatch.setattr(evaluation, "train_network", first_diverges)
    out = tmp_path / "eval.json"
    assert (
        main(
            [
                "evaluate",
                "--data",
                str(data_file),
                "--set",
                str(small_set),
                "--model",
                "convnet_w32",
                "--num-nets",
                "2",
                "--epochs",
                "2",
                "--device",
                "cpu",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    result = json.loads(out.read_text())
    assert [r["diverged"] for r in result["runs"]] == [True, False]
    assert result["n"] == 1 and result["diverged"] == 1
    assert result["mean"] == pytest.approx(100 * result["runs"][1]["test_acc"])  # the diverged network is left out
    md, csv = tmp_path / "t.md", tmp_path / "t.csv"
    assert main(["table", str(out), "--out-md", str(md), "--out-csv", str(csv)]) == 0
    assert "(1), diverged 1 of 2" in md.read_text()


def test_deferred_loss_reads_give_the_same_run_and_still_catch_divergence(data_file, tmp_path, capsys, monkeypatch):
    """On CUDA the loop reads losses only where a hook needs them; forced here on the CPU: the same set, losses,
    snapshots and checkpoint as reading every iteration, and a divergence is still stopped before a checkpoint."""
    from condense.methods import loop

    def distill(out, *extra):
        return main(
            [
                "distill",
                "--method",
                "dm",
                "--data",
                str(data_file),
                "--ipc",
                "1",
                "--iterations",
                "7",
                "--batch-real",
                "4",
                "--model",
                "convnet_w32",
                "--device",
                "cpu",
                "--log-every",
                "3",
                "--seed",
                "5",
                "--out",
                str(out),
                "--quiet",
                *extra,
            ]
        )

    outs = {}
    for deferred in (False, True):
        monkeypatch.setattr(loop, "defers", lambda device, d=deferred: d)
        snaps = tmp_path / f"snaps{deferred}"
        assert distill(tmp_path / f"set{deferred}.pt", "--snapshot-at", "2,5", "--snapshots", str(snaps)) == 0
        outs[deferred] = (read_set(tmp_path / f"set{deferred}.pt"), [read_set(snaps / f"it{i}.pt") for i in (2, 5)])
    (final_a, snaps_a), (final_b, snaps_b) = outs[False], outs[True]
    assert torch.equal(final_a[0], final_b[0]) and final_a[2].losses == final_b[2].losses and len(final_b[2].losses) == 8
    for a, b in zip(snaps_a, snaps_b):
        assert torch.equal(a[0], b[0]) and a[2].losses == b[2].losses
    # images poisoned after iteration 4's step: iteration 5's loss is nan; the checkpoint of iteration 3 stays
    spec = MethodSpec("nan_dm", "NaN DM", DMSettings, nan_at(4), "dsa", "loss", lambda s, c: c * s.batch_real)
    monkeypatch.setitem(METHODS._items, "nan_dm", spec)
    ckpt, out = tmp_path / "run.ckpt", tmp_path / "nan.pt"
    capsys.readouterr()
    code = main(
        [
            "distill",
            "--method",
            "nan_dm",
            "--data",
            str(data_file),
            "--ipc",
            "1",
            "--iterations",
            "9",
            "--batch-real",
            "4",
            "--model",
            "convnet_w32",
            "--checkpoint",
            str(ckpt),
            "--checkpoint-every",
            "4",
            "--log-every",
            "100",
            "--device",
            "cpu",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert code == 2 and len(err) == 1 and "diverged at iteration 5" in err[0] and not out.exists()
    saved = torch.load(ckpt, weights_only=True)
    assert saved["next_iteration"] == 4 and torch.isfinite(saved["state"]["images"]).all()
