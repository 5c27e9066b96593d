"""Figure of the Hopfield capacity study (Section 4): capacity against N with theory curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..hopfield_theory import MODEL_NAMES, theory_capacity
from .common import plot

MODEL_COLORS = dict(zip(MODEL_NAMES, ("tab:blue", "tab:orange", "tab:green", "tab:red",
                                      "tab:purple", "tab:cyan"), strict=True))
MODEL_MARKERS = dict(zip(MODEL_NAMES, ("o", "s", "D", "^", "v", "x"), strict=True))
THEORY_STYLES = ("--", ":")
EXPONENTIAL = ("exponential", "softmax")


def _models(table: pd.DataFrame) -> list[str]:
    present = set(table["model"])
    return [m for m in MODEL_NAMES if m in present]


def _measured(ax: Axes, rows: pd.DataFrame, model: str) -> None:
    """Mean over seeds with its t-interval as error bars; seeds as faint dots."""
    stats = rows.drop_duplicates("N").sort_values("N")
    mean = stats["capacity_mean"].to_numpy(dtype=float)
    low = np.clip(mean - stats["ci_low"].to_numpy(dtype=float), 0, None)
    high = np.clip(stats["ci_high"].to_numpy(dtype=float) - mean, 0, None)
    errors = np.nan_to_num(np.vstack([np.minimum(low, 0.999 * mean), high]))  # stay above 0
    color = MODEL_COLORS[model]
    ax.errorbar(stats["N"], mean, yerr=errors, color=color, marker=MODEL_MARKERS[model], ms=5,
                capsize=2, lw=1.2, label=f"{model} (mean, t-interval)")
    seeds = rows[rows["capacity"] > 0]
    ax.scatter(seeds["N"], seeds["capacity"], color=color, s=8, alpha=0.35, linewidths=0)


def _theory(ax: Axes, model: str, N: np.ndarray, rho: float, labelled: set[str]) -> None:
    grid = np.geomspace(N.min(), N.max(), 60)
    for style, (label, values) in zip(THEORY_STYLES, theory_capacity(model, grid, rho).items(),
                                      strict=False):
        text = f"theory {model}: {label}"
        ax.plot(grid, values, style, color=MODEL_COLORS[model], lw=0.9, alpha=0.8,
                label=None if text in labelled else text)
        labelled.add(text)


@plot
def plot_capacity(table: pd.DataFrame) -> Figure:
    """Left: every model on log-log axes (a power law N^k is a line of slope k). Right: the
    exponential models on semi-log axes (exp(alpha N) is a line). Dashed/dotted: theory."""
    rho = float(table["rho"].iloc[0])
    fig = Figure(figsize=(12, 5.6))
    fig.subplots_adjust(left=0.07, right=0.98, top=0.9, bottom=0.36, wspace=0.22)
    loglog, semilog = fig.subplots(1, 2)
    labelled: set[str] = set()
    for model in _models(table):
        rows = table[table["model"] == model]
        N = np.sort(rows["N"].unique()).astype(float)
        for ax in (loglog, semilog) if model in EXPONENTIAL else (loglog,):
            _measured(ax, rows, model)
            _theory(ax, model, N, rho, labelled)
    loglog.set(xscale="log", yscale="log", xlabel="N (neurons)",
               ylabel="capacity M (largest M retrieved)", title="log-log: power laws are lines")
    semilog.set(yscale="log", xlabel="N (neurons)", ylabel="capacity M",
                title="semi-log: exponential growth is a line (exponential, softmax)")
    ymax = 3 * float(table["capacity"].max())
    for ax in (loglog, semilog):
        ax.set_ylim(0.5, ymax)
        ax.grid(True, which="major", alpha=0.3)
    handles, labels = loglog.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7, frameon=False)
    threshold = float(table["threshold"].iloc[0])
    fig.suptitle(f"Hopfield capacity: success rate >= {threshold:g} from cues with rho = {rho:g} "
                 "of bits flipped", fontsize=10)
    return fig
