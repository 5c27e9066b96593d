"""Every figure of the registry, drawn from the committed reference run's tables
(docs/reference/), has no two texts on top of each other and no text outside its canvas.

The texts: the suptitle and figure texts, each panel's titles, axis labels and tick labels, and
each legend as one box; their extents come from matplotlib (``get_window_extent``) after the
figure is drawn at the size and resolution it is saved with (``plots.common.save_figure``).
Figure 1a/1b plot the per-epoch table, which the reference does not keep: it is trained here on
the reference's data settings, with fewer epochs.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from ols_transformer import checks, data, stages
from ols_transformer.checks import attention_regression as ar_checks
from ols_transformer.checks.training import FORMS, alignment_region, region_points
from ols_transformer.experiments import attention_regression as ar_experiment
from ols_transformer.experiments import hopfield, training
from ols_transformer.io import read_table
from ols_transformer.plots import attention_regression as ar_plots
from ols_transformer.plots import claims as claims_plots
from ols_transformer.plots import hopfield as hopfield_plots
from ols_transformer.plots import icl as icl_plots
from ols_transformer.plots import nist as nist_plots
from ols_transformer.plots import proof as proof_plots
from ols_transformer.plots import shift as shift_plots
from ols_transformer.plots import training as training_plots
from ols_transformer.plots.common import styled

REFERENCE = REPO / "docs" / "reference"
SAVED_DPI = 150  # save_figure's PNG
TOUCH = 0.5  # pixels: boxes that share an edge do not overlap


@functools.cache
def tables() -> dict[str, pd.DataFrame]:
    return {path.stem: read_table(path) for path in (REFERENCE / "tables").glob("*.csv")}


@functools.cache
def config() -> dict:
    return yaml.safe_load((REFERENCE / "config.resolved.yaml").read_text())


@functools.cache
def training_table() -> pd.DataFrame:
    cfg = {**config()["training"], "epochs": 300, "seeds": config()["training"]["seeds"][:2]}
    arrays = data.training_sets(cfg)
    return training.run(cfg, arrays["x"], arrays["y"])[0]


def figure1(name: str) -> Figure:
    table, cfg = training_table(), config()["training"]
    if name == "fig1a_convergence":
        return training_plots.plot_fig1a(table, cfg["alignment_tol"])
    return training_plots.plot_fig1b(table)


def alignment_region_figure() -> Figure:
    table, cfg = tables()["fig1_sensitivity"], config()["training"]
    limit = float(cfg["criteria"]["alignment_epochs"])
    forms = set(table["parameterisation"])
    regions = {form: alignment_region(table, limit, form) for form in FORMS if form in forms}
    return training_plots.plot_alignment_region(region_points(table, limit), regions,
                                                training.paper_points(cfg, table))


def hopfield_figure() -> Figure:
    table = tables()["hopfield_capacity"]
    return hopfield_plots.plot_capacity(table, hopfield.derived(table)["hopfield_amit"])


@functools.cache
def stage_figures(stage: str) -> dict[str, Figure]:
    """The figures of a stage that draws them all at once (its plots module's ``figures``)."""
    if stage == "icl":
        return icl_plots.figures(tables())
    # As workflow/scripts/attention_regression.py draws them: with the compared cells' verdicts.
    criteria = checks.criteria_with_defaults(config()["attention_regression"].get("criteria"),
                                             ar_checks.DEFAULTS)
    return ar_plots.figures(tables(), ar_checks.cell_verdicts(paper_grid_comparison(), criteria))


def paper_grid_comparison() -> pd.DataFrame:
    """ar_comparison over the paper's whole transcribed grid (the largest figure the stage
    draws): PAPER_REPEATS replicates per printed run, spread about its printed mean (cells
    marked x: the densest text). The reference run's tables predate the comparison's
    ``comparable`` column and compare fewer cells."""
    runs = ar_experiment.runs_table()
    offsets = np.linspace(-0.02, 0.02, ar_experiment.PAPER_REPEATS)
    r2 = pd.DataFrame([{"design": r.dgp, "n": int(r.n), "snr": float(r.snr), "model": r.model,
                        "base_seed": int(r.base_seed), "replicate": k,
                        "r2_test": r.r2_mean + offset + 0.02 * (i % 4 - 1.5),
                        "r2_train": r.r2_mean + 0.05}
                       for i, r in enumerate(runs.itertuples())
                       for k, offset in enumerate(offsets)])
    return ar_experiment.comparison(r2, ar_experiment.PAPER_MLP_ENSEMBLE, runs)


# Figure name (the registry's) -> how its stage's script draws it, from the reference tables.
DRAW: dict[str, Callable[[], Figure]] = {
    "proof_error_vs_condition": lambda: proof_plots.plot_error_vs_condition(
        tables()["proof_check"], config()["proof"]["criteria"]["rounding_constant"]),
    "nist_lre": lambda: nist_plots.plot_lre(tables()["nist_lre"]),
    "fig1a_convergence": lambda: figure1("fig1a_convergence"),
    "fig1b_w_vs_wstar": lambda: figure1("fig1b_w_vs_wstar"),
    "fig1_sensitivity": lambda: training_plots.plot_sensitivity(tables()["fig1_sensitivity"],
                                                                config()["training"]),
    "fig1_alignment_region": alignment_region_figure,
    "shift_error": lambda: shift_plots.plot_error_vs_magnitude(tables()["covariance_shift"]),
    "shift_distortion": lambda: shift_plots.plot_distortion_agreement(
        tables()["covariance_shift"]),
    "hopfield_capacity": hopfield_figure,
    **{f"icl_{name}": functools.partial(lambda name: stage_figures("icl")[name], name)
       for name in stages.ICL_FIGURES},
    **{f"ar_{name}": functools.partial(lambda name: stage_figures("ar")[name], name)
       for name in ("r2", "ceiling")},
    "claims_overview": lambda: claims_plots.plot_claims_overview(
        read_table(REFERENCE / "claims" / "claims.csv")),
}


def test_every_figure_of_the_registry_is_drawn_here() -> None:
    registry = {name for stage in stages.STAGES.values() for name in stage.figures()}
    assert set(DRAW) == registry


def texts(fig: Figure) -> list[tuple[str, Bbox]]:
    """Every text of ``fig`` that must stand alone, with its extent in pixels, as saved."""
    fig.set_dpi(SAVED_DPI)
    canvas = FigureCanvasAgg(fig)
    with styled():
        canvas.draw()  # runs the constrained layout, as savefig does
    renderer = canvas.get_renderer()
    found: list[tuple[str, Text | object]] = []
    # the suptitle is also one of fig.texts: named once
    found += [("suptitle" if t is fig._suptitle else f"figure text {t.get_text()!r}", t)
              for t in fig.texts]
    found += [(f"figure legend {i}", legend) for i, legend in enumerate(fig.legends)]
    for index, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        where = f"panel {index}"
        found += [(f"{where} title {t.get_text()!r}", t)
                  for t in (ax.title, ax._left_title, ax._right_title)]
        found += [(f"{where} {axis.axis_name}label {axis.label.get_text()!r}", axis.label)
                  for axis in (ax.xaxis, ax.yaxis)]
        for axis in (ax.xaxis, ax.yaxis):
            if not axis.get_visible():  # a twin's shared axis
                continue
            # the ticks drawn (inside the view), major and minor (matplotlib's own selection)
            found += [(f"{where} {axis.axis_name} tick {label.get_text()!r}", label)
                      for tick in axis._update_ticks() for label in (tick.label1, tick.label2)]
        if ax.get_legend() is not None:
            found.append((f"{where} legend", ax.get_legend()))
    boxes = []
    for label, artist in found:
        if not artist.get_visible() or (isinstance(artist, Text) and not artist.get_text()):
            continue
        boxes.append((label, artist.get_window_extent(renderer)))
    return boxes


def problems(fig: Figure) -> list[str]:
    """Pairs of texts that overlap, and texts that leave the canvas."""
    boxes = texts(fig)
    canvas = fig.bbox
    found = [f"{label} runs outside the canvas ({box.x0:.0f}..{box.x1:.0f} x "
             f"{box.y0:.0f}..{box.y1:.0f} of {canvas.width:.0f} x {canvas.height:.0f} px)"
             for label, box in boxes
             if box.x0 < -TOUCH or box.y0 < -TOUCH or box.x1 > canvas.width + TOUCH
             or box.y1 > canvas.height + TOUCH]
    for (label_a, a), (label_b, b) in itertools.combinations(boxes, 2):
        width = min(a.x1, b.x1) - max(a.x0, b.x0)
        height = min(a.y1, b.y1) - max(a.y0, b.y0)
        if width > TOUCH and height > TOUCH:
            found.append(f"{label_a} and {label_b} overlap ({width:.0f} x {height:.0f} px)")
    return found


@pytest.mark.parametrize("name", sorted(DRAW))
def test_no_text_overlaps_or_leaves_the_canvas(name: str) -> None:
    found = problems(DRAW[name]())
    assert not found, f"{name}.png:\n" + "\n".join(found)


def test_the_check_finds_an_overlap_and_a_text_outside() -> None:
    """The check itself: a suptitle forced onto a panel title, and a title past the edge."""
    fig = Figure(figsize=(4, 3), layout="constrained")
    ax = fig.subplots()
    ax.set_title("a panel title")
    ax.set_xlabel("x")
    assert not problems(fig)
    fig.suptitle("a suptitle on top of it", y=ax.get_position().y1 + 0.02)
    assert any("suptitle and panel 0 title" in p for p in problems(fig))
    fig = Figure(figsize=(4, 3), layout="constrained")
    fig.subplots().set_title("a title far too long to fit into a figure four inches wide")
    assert any("runs outside the canvas" in p for p in problems(fig))
