"""Figures from hand-made evaluation JSONs and set files: PNG + PDF written, bad inputs a one-line error."""

import pytest
import torch
from conftest import write_record

from condense.cli import main
from condense.data.records import MaskInfo, Provenance, SyntheticSet


def write_eval(tmp_path, name, model, method, ipc, ratio, accs, label="fcn, mean fill, soft, fixed"):
    return write_record(tmp_path / f"{name}.json", accs, model=model, method=method, ipc=ipc, ratio=ratio, mask_label=label)


def write_set(tmp_path, method, ipc, ratio=0.0, losses=(3.0, 2.0, 1.5, 1.2), seed=0):
    path = tmp_path / f"{method}-{ratio}_ipc{ipc}_seed{seed}.pt"
    labels = torch.arange(3).repeat_interleave(ipc)
    mask = MaskInfo(f"fcn-r{ratio}-mean-soft-fixed", "fcn, mean fill, soft, fixed", ratio, True, "fcn", "mean") if ratio else None
    made = Provenance("fashionmnist", method, ipc, seed, mask=mask, losses=tuple(losses or ()))
    SyntheticSet(torch.randn(labels.numel(), 1, 28, 28), labels, made).save(path)
    return path


def draw(tmp_path, figure, inputs, *extra):
    out = tmp_path / "fig" / f"{figure}.png"
    code = main(["figures", figure, *map(str, inputs), "--out", str(out), "--quiet", *extra])
    return code, out


def assert_written(out):
    pdf = out.with_suffix(".pdf")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 1000
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 1000


def test_mask_ratio_figure(tmp_path):
    paths = [
        write_eval(tmp_path, f"{model}{r}", model, "dsa", 1, r, [0.40 + r / 10, 0.42])
        for model in ("convnet", "alexnet")
        for r in (0.0, 0.5, 1.0)
    ]
    paths.append(write_eval(tmp_path, "random", "convnet", "random", 1, 0.0, [0.3]))  # no masked variant: no line
    code, out = draw(tmp_path, "mask_ratio", paths)
    assert code == 0
    assert_written(out)


def test_a_source_has_one_colour_and_a_fill_one_line_style_in_every_panel(tmp_path):
    """Panels with different sets of variants (DSA: fcn only; DM: fcn and gt) still share the colours and styles."""
    from condense.reporting.figures import FigureContext
    from condense.reporting.figures.mask_ratio import draw_mask_ratio

    def masked(name, method, ratio, label):
        return write_eval(tmp_path, name, "convnet", method, 1, ratio, [0.4, 0.42], label=label)

    paths = [
        write_eval(tmp_path, "dsa0", "convnet", "dsa", 1, 0.0, [0.4]),
        write_eval(tmp_path, "dm0", "convnet", "dm", 1, 0.0, [0.4]),
        masked("dsa_fcn", "dsa", 1.0, "fcn, other fill, soft, fixed"),
        masked("dm_fcn", "dm", 1.0, "fcn, other fill, soft, fixed"),
        masked("dm_fcn_mean", "dm", 1.0, "fcn, mean fill, soft, fixed"),
        masked("dm_gt", "dm", 1.0, "gt, mean fill, soft, fixed"),
    ]
    fig = draw_mask_ratio(paths, FigureContext())
    looks = {}
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            looks.setdefault(label.split(" (n")[0], set()).add((handle[0].get_color(), handle[0].get_linestyle()))
    assert all(len(seen) == 1 for seen in looks.values()), looks  # the same look in every panel
    (fcn_other,), (fcn_mean,), (gt_mean,) = (
        looks[k] for k in ("fcn, other fill, soft, fixed", "fcn, mean fill, soft, fixed", "gt, mean fill, soft, fixed")
    )
    assert fcn_other[0] == fcn_mean[0] != gt_mean[0]  # colour = source
    assert fcn_mean[1] == gt_mean[1] != fcn_other[1]  # line style = fill


def test_image_grid_and_loss_figures_show_the_sets_and_their_losses(tmp_path, data_file):
    import numpy as np
    from conftest import read_set

    from condense.data.store import read_stored
    from condense.reporting.figures import FIGURES, FigureContext
    from condense.reporting.figures.synthetic_images import set_grid

    dm_losses = [float(v) for v in range(60, 0, -1)]
    sets = [
        write_set(tmp_path, "dsa", 1),
        write_set(tmp_path, "dsa", 2),
        write_set(tmp_path, "dsa", 1, ratio=1.0),
        write_set(tmp_path, "dm", 2, losses=dm_losses),
    ]
    for figure, extra in (("synthetic_images", ["--data", str(data_file)]), ("matching_loss", [])):
        code, out = draw(tmp_path, figure, sets, *extra)
        assert code == 0
        assert_written(out)
    # the grid: one panel per (method variant, IPC), each showing exactly its set, de-normalised
    fig = FIGURES.get("synthetic_images").draw(sets, FigureContext(data=data_file, order=("dsa", "dm")))
    stored = read_stored(data_file)
    shown = [im.get_array() for ax in fig.axes for im in ax.get_images()]
    assert len(shown) == 3 * 2  # rows DSA, DSA + mask, DM x columns IPC 1, 2 ("not run" cells are blank)
    for path in sets:
        images, labels, _ = read_set(path)
        grid = set_grid(images, labels, stored["mean"], stored["std"], 3)
        assert sum(a.shape == grid.shape and np.array_equal(np.asarray(a), grid) for a in shown) == 1, path.name
    assert sum(np.all(np.asarray(a) == 1.0) for a in shown) == 2  # DSA + mask and DM have one IPC each
    # the losses: one panel per base method; DM's 60 points raw and as a running mean of 60 // 20 = 3
    fig = FIGURES.get("matching_loss").draw(sets, FigureContext(order=("dsa", "dm")))
    dsa, dm = fig.axes
    assert [list(line.get_ydata()) for line in dsa.get_lines()] == [[3.0, 2.0, 1.5, 1.2]] * 3
    raw, smooth = dm.get_lines()
    assert list(raw.get_ydata()) == dm_losses
    np.testing.assert_allclose(smooth.get_ydata(), [(a + b + c) / 3 for a, b, c in zip(dm_losses, dm_losses[1:], dm_losses[2:])])
    assert dm.get_yscale() == "log"  # every loss positive


def one_error_line(capsys):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("figure", ["mask_ratio", "synthetic_images", "matching_loss"])
def test_no_inputs_is_a_one_line_error(tmp_path, capsys, figure):
    code, out = draw(tmp_path, figure, [])
    assert code == 2 and not out.exists()
    assert one_error_line(capsys).startswith(f"error: figure {figure} needs input files")


def test_missing_or_unsuitable_inputs_are_one_line_errors(tmp_path, data_file, capsys):
    code, out = draw(tmp_path, "mask_ratio", [tmp_path / "nope.json"])
    assert code == 2 and not out.exists()
    line = one_error_line(capsys)
    assert "input file" in line and "nope.json" in line and "does not exist" in line
    good = write_set(tmp_path, "dsa", 1)
    code, _ = draw(tmp_path, "synthetic_images", [good])  # no --data
    assert code == 2 and "needs --data" in one_error_line(capsys)
    coreset = write_set(tmp_path, "random", 1, losses=None)
    code, _ = draw(tmp_path, "matching_loss", [coreset])
    assert code == 2 and "has no loss curve" in one_error_line(capsys)
    empty = tmp_path / "empty.json"
    empty.write_text("")
    code, _ = draw(tmp_path, "mask_ratio", [empty])
    assert code == 2 and "not valid JSON" in one_error_line(capsys)
    assert not (tmp_path / "fig").exists() or not list((tmp_path / "fig").iterdir())
