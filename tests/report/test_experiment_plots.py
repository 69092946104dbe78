"""The reports' experiment figures: what each draws (axes, scales, curves, legends), read off the figure."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from bench.report.experiment_plots import (
    TOP_GRID_POINTS,
    class_distribution_figure,
    convergence_figure,
    log_mel_figure,
    lr_find_figure,
    overfit_figure,
    sweep_figure,
    write_experiment_plots,
)
from bench.report.plots import PlotOutcome


def _finder() -> dict:
    lrs = [1e-6 * 10 ** (i / 10) for i in range(50)]
    losses = [2.3 - 0.02 * i if i < 40 else 2.3 + 0.5 * (i - 40) for i in range(50)]
    return {"model": "mnist-mlp", "lrs": lrs, "losses": losses, "smoothed": losses,
            "suggested_lr": 1e-3, "min_loss_lr": 1e-2, "stopped_early": True}


def test_the_lr_finder_draws_loss_against_a_log_rate_axis_with_the_suggestion():
    fig = lr_find_figure(_finder())
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    raw, smoothed, suggested, lowest = ax.get_lines()
    assert list(raw.get_xdata()) == _finder()["lrs"]
    assert suggested.get_xdata()[0] == 1e-3 and lowest.get_xdata()[0] == 1e-2
    assert "stopped early" in ax.get_title()
    assert "learning rate" in ax.get_xlabel() and "loss" in ax.get_ylabel()


def test_overfitting_a_batch_draws_its_loss_on_a_log_axis_and_its_accuracy():
    history = [{"epoch": e, "train_loss": 2.0 / e**2, "train_acc": min(1.0, e / 10)} for e in range(1, 21)]
    sanity = {"model": "esc50-cnn", "overfit": {"samples": 32, "epochs": 20, "lr": 1e-3, "weight_decay": 0.0,
                                                "final_train_loss": 0.005, "final_train_acc": 1.0,
                                                "history": history}}
    loss_ax, acc_ax = overfit_figure(sanity).axes
    assert loss_ax.get_yscale() == "log"
    assert list(acc_ax.get_lines()[0].get_ydata()) == [h["train_acc"] for h in history]
    assert "32 samples" in overfit_figure(sanity).get_suptitle()


def test_a_grid_search_colours_its_best_points_in_rank_order_and_greys_the_rest():
    rows = [{"name": f"p{i}", "values": {"lr": 0.001 * (i + 1), "model_kwargs.width": 16},
             "val_acc": 0.1 * i, "history": [{"epoch": e, "val_acc": 0.01 * i * e, "val_loss": 3 - 0.1 * e}
                                             for e in (1, 2, 3)]} for i in range(8)]
    fig = sweep_figure({"model": "cifar100-bottleneck", "rows": rows})
    acc_ax, _loss_ax = fig.axes
    assert len(acc_ax.get_lines()) == 8
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(labels) == TOP_GRID_POINTS
    assert labels[0].startswith("#1 lr 0.008, width 16: 0.700")  # the best first, prefix dropped
    grey = [line for line in acc_ax.get_lines() if line.get_color() == "#CCCCCC"]
    assert len(grey) == 8 - TOP_GRID_POINTS


def test_the_convergence_race_uses_test_accuracy_when_scored_and_draws_the_target():
    scored = [{"epoch": e, "val_acc": 0.9, "test_acc": 0.95 + 0.01 * e, "elapsed_s": 30.0 * e}
              for e in (1, 2, 3)]
    unscored = [{"epoch": e, "val_acc": 0.96 + 0.005 * e, "elapsed_s": 20.0 * e} for e in (1, 2, 3)]
    fig = convergence_figure("race", [("mnist-cnn@adam", scored)], 0.97)
    epoch_ax, time_ax = fig.axes
    assert "test accuracy" in epoch_ax.get_ylabel()
    assert list(time_ax.get_lines()[0].get_xdata()) == [30.0, 60.0, 90.0]
    assert list(epoch_ax.get_lines()[-1].get_ydata()) == [0.97, 0.97]  # the target line
    assert "validation" in convergence_figure("race", [("x", unscored)], None).axes[0].get_ylabel()


def test_the_esc50_class_distribution_stacks_folds_and_log_mel_examples_are_in_seconds():
    clips = [(fold, target, f"class{target}") for fold in range(1, 6) for target in range(3)
             for _ in range(2)]
    (ax,) = class_distribution_figure(clips).axes
    tops = {}
    for bar in ax.patches:
        x = round(bar.get_x() + bar.get_width() / 2)
        tops[x] = max(tops.get(x, 0), bar.get_y() + bar.get_height())
    assert tops == {0: 10, 1: 10, 2: 10}
    assert [t.get_text() for t in ax.get_xticklabels()] == ["class0", "class1", "class2"]
    fig = log_mel_figure([("dog", np.zeros((64, 501)))], 5, 0.01)
    assert fig.axes[0].get_xlim() == (0.0, 5.0) and "(s)" in fig.axes[0].get_xlabel()


def test_figures_follow_the_files_on_disk_and_name_what_is_missing(tmp_path):
    results, data = tmp_path / "results", tmp_path / "data"
    (results / "lr_find").mkdir(parents=True)
    (results / "lr_find" / "mnist-mlp.json").write_text(json.dumps(_finder()))
    (results / "sanity").mkdir()
    (results / "sanity" / "mnist-cnn.json").write_text(json.dumps(  # written before curves were kept
        {"model": "mnist-cnn", "overfit": {"samples": 32, "epochs": 5}}))
    meta = data / "esc50" / "meta"
    meta.mkdir(parents=True)
    with open(meta / "esc50.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["filename", "fold", "target", "category", "esc10", "src_file", "take"])
        writer.writerow(["1-1-A-0.wav", 1, 0, "dog", "True", 1, "A"])
    outcome = PlotOutcome()
    write_experiment_plots(results, ["mnist", "esc50"], data, {}, outcome)
    names = sorted(p.name for p in outcome.written)
    assert names == ["esc50_classes.png", "esc50_classes.svg", "lr_find_mnist-mlp.png",
                     "lr_find_mnist-mlp.svg"]
    assert all(Path(p).stat().st_size > 1000 for p in outcome.written)
    assert any(s.startswith("overfit_mnist-cnn: ") and "rerun `bench sanity mnist-cnn`" in s
               for s in outcome.skipped)
    assert any(s.startswith("esc50_log_mel: no audio") for s in outcome.skipped)
