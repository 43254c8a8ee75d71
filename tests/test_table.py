import json

import pandas as pd

from condense.cli import main
from condense.table import MISSING, load_rows, summarize


def write_eval(path, dataset, model, method, ipc, accs):
    path.write_text(json.dumps({
        "dataset": dataset, "model": model, "method": method, "ipc": ipc,
        "runs": [{"net": i, "test_acc": a} for i, a in enumerate(accs)],
    }))
    return path


def test_cells_are_exact_and_published_values_labelled(tmp_path):
    a = write_eval(tmp_path / "a.json", "fashionmnist", "convnet", "random", 1, [0.50, 0.52, 0.54])
    b = write_eval(tmp_path / "b.json", "fashionmnist", "convnet", "herding", 10, [0.70])
    c = write_eval(tmp_path / "c.json", "fashionmnist", "convnet", "full", None, [0.90])
    table = summarize(load_rows([a, b, c])).set_index(["method", "ipc"])
    # mean 52.0, population std sqrt(8/3) = 1.633
    assert table.loc[("random", "1"), "ours"] == "52.0 ± 1.6 (3)"
    assert table.loc[("random", "1"), "published"] == "51.4"
    assert table.loc[("random", "1"), "source"] == "Zhao et al. 2021 (DC)"
    assert table.loc[("random", "1"), "delta"] == "+0.6"
    # nothing published for herding here: never filled in
    assert table.loc[("herding", "10"), "published"] == MISSING
    assert table.loc[("herding", "10"), "delta"] == MISSING
    assert table.loc[("full", "whole"), "ours"] == "90.0 ± 0.0 (1)"


def test_stage_writes_csv_and_markdown(tmp_path):
    a = write_eval(tmp_path / "a.json", "cifar10", "alexnet", "dsa+mask", 50, [0.60, 0.58])
    md, csv = tmp_path / "t.md", tmp_path / "t.csv"
    assert main(["table", str(a), "--out-md", str(md), "--out-csv", str(csv), "--caption", "reduced epochs"]) == 0
    text = md.read_text()
    assert "reduced epochs" in text
    assert "59.0 ± 1.0 (2)" in text and "58.5 ± 0.6" in text and "Kim & Bae 2022" in text and "+0.5" in text
    frame = pd.read_csv(csv)
    assert frame.loc[0, "mean"] == 59.0 and frame.loc[0, "n"] == 2


def test_masked_rows_compare_with_the_papers_mask_column_only_at_ratio_one(tmp_path):
    paths = []
    for i, ratio in enumerate((1.0, 0.5)):
        path = write_eval(tmp_path / f"m{i}.json", "cifar10", "alexnet", "dsa", 10, [0.45])
        result = json.loads(path.read_text())
        result["mask_ratio"] = ratio
        path.write_text(json.dumps(result))
        paths.append(path)
    table = summarize(load_rows(paths)).set_index("mask_ratio")
    assert table.loc[1.0, "published"] == "44.9 ± 1.0" and table.loc[1.0, "delta"] == "+0.1"
    assert table.loc[0.5, "published"] == MISSING
