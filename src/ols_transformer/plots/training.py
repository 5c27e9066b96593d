"""Figure 1a (loss and distance to OLS) and Figure 1b (w against w*)."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from .common import new_figure, plot


def _band(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """Median and min-max over seeds, per epoch."""
    return table.groupby("epoch")[column].agg(["median", "min", "max"])


@plot
def plot_fig1a(table: pd.DataFrame, alignment_tol: float) -> Figure:
    fig, (ax,) = new_figure(width=5.5)
    mse = _band(table, "mse")
    ax.plot(mse.index, mse["median"], color="C0", label="training MSE (median over seeds)")
    ax.fill_between(mse.index, mse["min"], mse["max"], color="C0", alpha=0.25, lw=0)
    floor = table.groupby("seed")["ols_mse"].first()
    ax.axhline(floor.mean(), color="C0", ls="--", lw=0.9,
               label=f"OLS noise floor (mean {floor.mean():.3g})")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training MSE", color="C0")

    ax2 = ax.twinx()
    dist = _band(table, "rel_dist_to_ols")
    ax2.plot(dist.index, dist["median"], color="C3", label="relative distance to OLS")
    ax2.fill_between(dist.index, dist["min"].clip(lower=1e-17), dist["max"], color="C3",
                     alpha=0.25, lw=0)
    ax2.axhline(alignment_tol, color="C3", ls=":", lw=0.9, label=f"alignment tol {alignment_tol:g}")
    ax2.set_yscale("log")
    ax2.set_ylabel(r"$\|\hat y - \hat y_{OLS}\| / \|\hat y_{OLS}\|$", color="C3")
    ax2.grid(False)
    handles = ax.get_legend_handles_labels()
    handles2 = ax2.get_legend_handles_labels()
    ax.legend(handles[0] + handles2[0], handles[1] + handles2[1], loc="upper right")
    ax.set_title("Figure 1a: functional convergence")
    return fig


@plot
def plot_fig1b(table: pd.DataFrame) -> Figure:
    fig, (ax,) = new_figure(width=5.5)
    w = table.assign(w=table["w"].abs())
    band = _band(w, "w")
    ax.plot(band.index, band["median"], color="C2", label=r"$|w|$ (median over seeds)")
    ax.fill_between(band.index, band["min"], band["max"], color="C2", alpha=0.25, lw=0)
    stars = table.groupby("seed")["w_star"].first()
    for i, value in enumerate(stars):
        ax.axhline(value, color="k", ls="--", lw=0.7,
                   label=r"$w^* = \Sigma^{-1/2}$ (one per seed)" if i == 0 else None)
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlabel("epoch")
    ax.set_ylabel("w")
    ax.set_title("Figure 1b: structural emergence")
    ax.legend(loc="lower right")
    return fig
