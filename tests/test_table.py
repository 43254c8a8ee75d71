import math

import pandas as pd
import pytest
from conftest import write_record

from condense.cli import main
from condense.reporting.tables import MISSING, load_rows, summarize


def write_eval(path, dataset, model, method, ipc, accs):
    return write_record(path, accs, dataset=dataset, model=model, method=method, ipc=ipc)


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
        paths.append(write_record(tmp_path / f"m{i}.json", [0.45], dataset="cifar10", model="alexnet", method="dsa", ipc=10, ratio=ratio))
    table = summarize(load_rows(paths)).set_index("mask_ratio")
    assert table.loc[1.0, "published"] == "44.9 ± 1.0" and table.loc[1.0, "delta"] == "+0.1"
    assert table.loc[0.5, "published"] == MISSING


# ---------------------------------------------------------------- paper layouts


def write_result(tmp_path, name, dataset, model, method, ipc, accs, ratio=0.0):
    """An evaluation record as `condense evaluate` writes it (a full-baseline record for method 'full')."""
    return write_record(tmp_path / f"{name}.json", accs, dataset=dataset, model=model, method=method, ipc=ipc, ratio=ratio)


def markdown_rows(text):
    """The table of a Markdown file as {first cell: {header: cell}}."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    split = lambda line: [cell.strip() for cell in line.strip().strip("|").split("|")]
    header = split(lines[0])
    return {cells[0]: dict(zip(header, cells)) for cells in map(split, lines[2:])}


def build(tmp_path, layout, paths, caption="reduced profile"):
    out = {ext: tmp_path / f"{layout}.{ext}" for ext in ("md", "csv", "tex", "html")}
    args = [
        "table",
        *map(str, paths),
        "--layout",
        layout,
        "--caption",
        caption,
        *(arg for ext, path in out.items() for arg in (f"--out-{ext}", str(path))),
    ]
    assert main(args) == 0
    md = out["md"].read_text()
    csv = pd.read_csv(out["csv"], dtype=str, keep_default_na=False)
    return md, markdown_rows(md), csv.set_index(csv.columns[0]), out["tex"].read_text(), out["html"].read_text()


def test_paper_table1_dc_vs_dc_mask(tmp_path):
    paths = [
        write_result(tmp_path, "dc1", "cifar10", "alexnet", "dc", 1, [0.442, 0.462]),
        write_result(tmp_path, "dcm10", "cifar10", "alexnet", "dc", 10, [0.392, 0.412], ratio=1.0),
        write_result(tmp_path, "dcm10half", "cifar10", "alexnet", "dc", 10, [0.10], ratio=0.5),  # not in the table
        write_result(tmp_path, "conv", "cifar10", "convnet", "dc", 1, [0.10]),  # other model: not in the table
    ]
    md, rows, csv, tex, html = build(tmp_path, "table1", paths)
    lines = md.splitlines()
    assert lines[0].startswith("## Table 1 (Kim & Bae 2022)") and "cifar10" in lines[0] and lines[2] == "reduced profile"
    ipc1, ipc10 = rows["IPC 1"], rows["IPC 10"]
    assert ipc1["DC: ours"] == "45.2 ± 1.0 (2)"
    assert ipc1["DC: published (Kim & Bae 2022, Table 1)"] == "24.2 ± 0.9"  # docs/published-numbers.md: Table 1's DC 24.2 ± 0.9
    assert ipc1["DC: Δ ours − published"] == "+21.0"
    assert ipc10["DC: ours"] == MISSING and ipc10["DC: published (Kim & Bae 2022, Table 1)"] == "39.1 ± 1.2"
    assert ipc10["DC: Δ ours − published"] == MISSING
    assert ipc10["DC + mask: ours"] == "40.2 ± 1.0 (2)"
    assert ipc10["DC + mask: published (Kim & Bae 2022)"] == "40.1 ± 1.6" and ipc10["DC + mask: Δ ours − published"] == "+0.1"
    assert ipc1["DC + mask: ours"] == MISSING and ipc1["DC + mask: published (Kim & Bae 2022)"] == "24.5 ± 0.6"
    # DD is published only: our column stays "—", never filled in.
    dd = "DD: published (Wang et al. 2018 (DD), via Kim & Bae 2022)"
    assert ipc10[dd] == "36.8 ± 1.2" and ipc1[dd] == MISSING and ipc10["DD: ours"] == MISSING
    assert csv.loc["IPC 10", "DC + mask: ours"] == "40.2 ± 1.0 (2)" and csv.loc["IPC 1", "DC: Δ ours − published"] == "+21.0"
    assert "45.2 $\\pm$ 1.0 (2)" in tex and "40.1 $\\pm$ 1.6" in tex and "\\multicolumn{3}{c}{DC + mask}" in tex
    assert "\\caption{Table 1 (Kim \\& Bae 2022)" in tex and "reduced profile." in tex
    assert "<td>40.2 ± 1.0 (2)</td>" in html and "reduced profile" in html


def test_paper_table2_with_whole_dataset_row(tmp_path):
    paths = [
        write_result(tmp_path, "dsa10", "cifar10", "alexnet", "dsa", 10, [0.45]),
        write_result(tmp_path, "dsam50", "cifar10", "alexnet", "dsa", 50, [0.60, 0.58], ratio=1.0),
        write_result(tmp_path, "full", "cifar10", "alexnet", "full", None, [0.85]),
    ]
    md, rows, csv, tex, _ = build(tmp_path, "table2", paths)
    header = "published (Kim & Bae 2022)"
    assert rows["DSA"]["IPC 10: ours"] == "45.0 ± 0.0 (1)" and rows["DSA"][f"IPC 10: {header}"] == "44.5 ± 1.1"
    assert rows["DSA"]["IPC 10: Δ ours − published"] == "+0.5"
    assert rows["DSA + mask"]["IPC 50: ours"] == "59.0 ± 1.0 (2)" and rows["DSA + mask"][f"IPC 50: {header}"] == "58.5 ± 0.6"
    assert rows["DSA + mask"]["IPC 50: Δ ours − published"] == "+0.5"
    assert rows["DC"]["IPC 1: ours"] == MISSING and rows["DC"][f"IPC 1: {header}"] == "24.5 ± 0.6"
    assert rows["DC"][f"IPC 50: {header}"] == "47.4 ± 0.8"
    whole = rows["whole dataset"]
    assert whole["whole dataset: ours"] == "85.0 ± 0.0 (1)" and whole[f"whole dataset: {header}"] == "83.1 ± 0.2"
    assert whole["whole dataset: Δ ours − published"] == "+1.9"
    assert whole["IPC 1: ours"] == "" and rows["DC"]["whole dataset: ours"] == ""  # does not apply: empty, not "—"
    assert csv.loc["whole dataset", "whole dataset: ours"] == "85.0 ± 0.0 (1)" and csv.loc["DC", "whole dataset: ours"] == ""
    assert "59.0 $\\pm$ 1.0 (2)" in tex and "83.1 $\\pm$ 0.2" in tex


def test_paper_convnet_table_keeps_published_only_columns_and_drops_empty_ones(tmp_path):
    paths = [
        write_result(tmp_path, "r1", "fashionmnist", "convnet", "random", 1, [0.50, 0.52, 0.54]),
        write_result(tmp_path, "h10", "fashionmnist", "convnet", "herding", 10, [0.70]),
        write_result(tmp_path, "dsam1", "fashionmnist", "convnet", "dsa", 1, [0.49], ratio=1.0),
        write_result(tmp_path, "dm10", "fashionmnist", "convnet", "dm", 10, [0.80, 0.81]),
    ]
    md, rows, csv, tex, _ = build(tmp_path, "convnet", paths)
    pub1 = "IPC 1: published (Kim et al. 2022 (IDC), official README; Zhao & Bilen 2021 (DSA); Zhao et al. 2021 (DC))"
    assert rows["random"]["IPC 1: ours"] == "52.0 ± 1.6 (3)" and rows["random"][pub1] == "51.4"
    assert rows["random"]["IPC 1: Δ ours − published"] == "+0.6"
    assert rows["DC"][pub1] == "70.5" and rows["DC"]["IPC 1: ours"] == MISSING
    assert rows["DSA + mask"]["IPC 1: ours"] == "49.0 ± 0.0 (1)" and rows["DSA + mask"][pub1] == MISSING
    assert rows["herding"]["IPC 10: ours"] == "70.0 ± 0.0 (1)"
    assert rows["DM"]["IPC 10: ours"] == "80.5 ± 0.5 (2)" and rows["DM"]["IPC 10: Δ ours − published"] == MISSING
    # IPC 50: nothing measured but published values exist -> the column stays, our cells "—".
    assert rows["DSA"]["IPC 50: ours"] == MISSING and "88.7" in rows["DSA"].values()
    # whole dataset: neither measured nor published for FashionMNIST -> the column group is dropped.
    assert not any(h.startswith("whole dataset:") for h in csv.columns)
    assert rows["whole dataset"]["IPC 1: ours"] == ""
    assert list(csv.index) == [
        "random",
        "herding",
        "DC",
        "DC + mask",
        "DSA",
        "DSA + mask",
        "DM",
        "DM + mask",
        "DataDAM",
        "DataDAM + mask",
        "MTT",
        "MTT + mask",
        "CAFE",
        "CAFE + mask",
        "CAFE+DSA",
        "CAFE+DSA + mask",
        "IDC",
        "IDC + mask",
        "IDC-I",
        "IDC-I + mask",
        "whole dataset",
    ]
    assert rows["IDC"][pub1] == "81.0" and rows["IDC-I"][pub1] == "70.7"  # IDC's README (docs/published-numbers.md)


def test_paper_layout_takes_one_dataset(tmp_path, capsys):
    a = write_result(tmp_path, "a", "cifar10", "convnet", "dc", 1, [0.3])
    b = write_result(tmp_path, "b", "fashionmnist", "convnet", "dc", 1, [0.7])
    code = main(["table", str(a), str(b), "--layout", "convnet", "--out-md", str(tmp_path / "t.md"), "--out-csv", str(tmp_path / "t.csv")])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 2 and errors == ["error: a paper-layout table takes one dataset's results; found cifar10, fashionmnist"]
    assert not (tmp_path / "t.md").exists()


def test_a_layout_is_built_only_where_it_has_a_cell():
    from condense.reporting.layouts import LAYOUTS, has_cells

    table1, convnet = LAYOUTS.get("table1"), LAYOUTS.get("convnet")
    assert not has_cells(table1, "fmnist-bg-correlated", ["convnet"])  # AlexNet never evaluated, nothing published
    assert has_cells(table1, "fmnist-bg-correlated", ["convnet", "alexnet"])
    assert has_cells(table1, "cifar10", ["convnet"])  # the published column
    assert has_cells(convnet, "fmnist-bg-correlated", ["convnet"])


def test_the_cross_architecture_table_has_one_column_per_network_and_one_row_per_set(tmp_path):
    # what the workflow's cross_arch_table rule runs: every record of every network, masked sets as rows of their own
    records = [
        write_record(tmp_path / "dm_convnet.json", [0.70, 0.72], method="dm", model="convnet"),
        write_record(tmp_path / "dm_mlp.json", [0.40, 0.50], method="dm", model="mlp"),
        write_record(tmp_path / "dmm_convnet.json", [0.60], method="dm", model="convnet", ratio=1.0),
        write_record(tmp_path / "dm_s1_mlp.json", [0.60, 0.60], method="dm", model="mlp", seed=1),  # a second condensation seed
        write_record(tmp_path / "random_resnet.json", [0.30], method="random", model="resnet18"),
    ]
    md = tmp_path / "cross.md"
    argv = ["table", *map(str, records), "--layout", "pivot", "--rows", "method,mask_label,mask_ratio,ipc", "--columns", "model"]
    assert main([*argv, "--out-md", str(md), "--out-csv", str(tmp_path / "cross.csv")]) == 0
    frame = pd.read_csv(tmp_path / "cross.csv")
    assert list(frame.columns[-3:]) == ["model convnet", "model mlp", "model resnet18"]
    cells = {(r.method, r.mask_ratio): (r["model convnet"], r["model mlp"], r["model resnet18"]) for _, r in frame.iterrows()}
    # mlp: four networks over two seeds (0.4, 0.5, 0.6, 0.6): mean 52.5, population std 8.29
    assert cells[("dm", 0.0)] == ("71.0 ± 1.0 (2)", "52.5 ± 8.3 (4)", MISSING)
    assert cells[("dm", 1.0)] == ("60.0 ± 0.0 (1)", MISSING, MISSING)
    assert cells[("random", 0.0)] == (MISSING, MISSING, "30.0 ± 0.0 (1)")


def test_relative_scores_against_random_and_whole_data_are_dd_rankings_lrs(tmp_path):
    records = [
        write_record(tmp_path / "random1.json", [0.50, 0.52], method="random", ipc=1),
        write_record(tmp_path / "dm1.json", [0.70, 0.72], method="dm", ipc=1),
        write_record(tmp_path / "dc10.json", [0.80], method="dc", ipc=10),  # no random subset at IPC 10 was evaluated
        write_record(tmp_path / "full.json", [0.90], method="full"),
    ]
    csv = tmp_path / "relative.csv"
    assert main(["table", *map(str, records), "--layout", "relative", "--out-md", str(tmp_path / "r.md"), "--out-csv", str(csv)]) == 0
    rows = {r.method: r for _, r in pd.read_csv(csv, dtype=str, keep_default_na=False).iterrows()}
    assert set(rows) == {"dm", "dc"}  # the references are columns, not rows
    dm = rows["dm"]
    # IOR = 71 - 51 = 20 points, HLR = 90 - 71 = 19; alpha = 0.5 * 0.20 - 0.5 * 0.19 = 0.005;
    # LRS = (e^0.005 - e^-1) / (e - e^-1) = 0.6371331 / 2.3504024 = 0.27107
    assert (dm["random"], dm["whole data"], dm["IOR (points)"], dm["HLR (points)"], dm["LRS"]) == ("51.0", "90.0", "+20.0", "19.0", "0.271")
    dc = rows["dc"]
    assert (dc["random"], dc["IOR (points)"], dc["HLR (points)"], dc["LRS"]) == (MISSING, MISSING, "10.0", MISSING)


def test_the_label_robust_score_spans_zero_to_one_and_weighs_its_two_terms():
    from condense.reporting.relative import lrs

    assert lrs(1.0, 0.0, weight=1.0) == pytest.approx(1.0) and lrs(0.0, 1.0, weight=0.0) == pytest.approx(0.0)
    assert lrs(0.0, 0.0) == pytest.approx((1 - math.exp(-1)) / (math.e - math.exp(-1)))
    assert lrs(0.1, 0.3) < lrs(0.1, 0.2) < lrs(0.2, 0.2)  # a smaller gap to the whole data, or a larger gain over random, scores higher
