"""Figures of the covariance-shift study: tables in, matplotlib Figures out."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..shift import FAMILIES, FAMILY_MAGNITUDE, NO_SHIFT
from .common import plot

FAMILY_COLORS = dict(zip(FAMILIES, ("tab:blue", "tab:orange", "tab:green", "tab:red"),
                         strict=True))
M_MARKERS = ("o", "s", "^", "D", "v", "P", "X")
ZERO = 1e-10  # below this a relative error is rounding of an exact 0


def _fixed_margins(fig: Figure, left: float, right: float, top: float, bottom: float,
                   **spacing: float) -> None:
    """Margins in inches. A fixed layout, not "constrained": constrained layout redraws every
    tick label to measure it and doubles the time to save these many-panel figures."""
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height,
                        bottom=bottom / height, **spacing)


def _families(table: pd.DataFrame) -> list[str]:
    present = set(table["family"])
    return [f for f in FAMILIES if f in present]


def _error_panel(ax: Axes, rows: pd.DataFrame) -> None:
    """Error vs magnitude for one (family, m): measured means over seeds, theory as lines."""
    g = rows.groupby("magnitude")
    x = np.asarray(g.size().index, dtype=float)
    tf = g["relerr_transformer"]
    ax.fill_between(x, tf.min(), tf.max(), color="tab:red", alpha=0.15, lw=0)
    ax.plot(x, tf.mean(), "o-", color="tab:red", label="OLS-Transformer (seeds: mean, range)")
    ax.plot(x, g["relerr_eq10"].mean(), "x", color="black", ms=7,
            label="eq. 10 first term, empirical S_te")
    # The population theory is 0 at no shift (1e-16 after rounding): leave it off the log axis.
    theory = g["relerr_transformer_theory"].mean().where(lambda v: v > ZERO)
    ax.plot(x, theory, "--_", color="black", ms=12, label="eq. 10, population S_tr^-1 S_te")
    ax.plot(x, g["relerr_ols"].mean(), "s-", color="tab:blue", label="static OLS")
    ax.plot(x, g["relerr_ols_theory"].mean(), ":", color="tab:blue", label="static OLS theory")
    ax.plot(x, g["relerr_oracle"].mean(), "^-", color="tab:green",
            label="oracle W W^T = S_te^-1 (in-context OLS)")
    ax.axhline(rows["no_shift_band"].mean(), color="gray", lw=0.8, ls="-.",
               label="sampling band at no shift")
    ax.axvline(NO_SHIFT[rows["family"].iloc[0]], color="gray", lw=0.6, ls=":")
    ax.set_yscale("log", nonpositive="mask")  # eq.-10 theory is exactly 0 at no shift
    ax.grid(True, which="major", alpha=0.3)


@plot
def plot_error_vs_magnitude(table: pd.DataFrame) -> Figure:
    """Relative prediction error ||y_hat - X' beta|| / ||X' beta|| against shift magnitude:
    one column per family, one row per context size m."""
    families = _families(table)
    sizes = sorted(table["m"].unique())
    fig = Figure(figsize=(3.2 * len(families) + 0.8, 2.4 * len(sizes) + 1.6))
    # top: the suptitle (at 0.1 in from the edge) above the first row's panel titles
    _fixed_margins(fig, left=0.9, right=0.15, top=0.8, bottom=1.25, wspace=0.08, hspace=0.3)
    axes = fig.subplots(len(sizes), len(families), squeeze=False, sharey=True)
    for i, m in enumerate(sizes):
        for j, family in enumerate(families):
            ax = axes[i, j]
            _error_panel(ax, table[(table["family"] == family) & (table["m"] == m)])
            if i == 0:
                ax.set_title(family.replace("_", " "))
            if i == len(sizes) - 1:
                ax.set_xlabel(FAMILY_MAGNITUDE[family], fontsize=8)
            if j == 0:
                ax.set_ylabel(f"m = {m}\nrelative error")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle("Covariance shift: static OLS is undistorted, the OLS-Transformer follows eq. 10",
                 y=1 - 0.1 / fig.get_size_inches()[1], va="top")
    return fig


def _agreement_panel(ax: Axes, table: pd.DataFrame, predicted: str, measured: str) -> None:
    sizes = sorted(table["m"].unique())
    for family in _families(table):
        for k, m in enumerate(sizes):
            rows = table[(table["family"] == family) & (table["m"] == m)]
            ax.scatter(rows[predicted], rows[measured], s=16, alpha=0.7,
                       color=FAMILY_COLORS[family], marker=M_MARKERS[k % len(M_MARKERS)],
                       linewidths=0)
    top = 1.05 * float(max(table[predicted].max(), table[measured].max()))
    ax.plot([0, top], [0, top], color="black", lw=0.8, label="45 degrees")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_aspect("equal")
    ax.grid(True, alpha=0.3)


@plot
def plot_distortion_agreement(table: pd.DataFrame) -> Figure:
    """Measured vs predicted distortion on 45-degree plots: the operator ||D - I||_F (probed from
    the model) and the coefficients ||beta_eff - beta|| / ||beta|| (from its noisy predictions)."""
    fig = Figure(figsize=(10, 5.6))
    _fixed_margins(fig, left=0.7, right=0.2, top=0.6, bottom=1.2, wspace=0.25)
    left, right = fig.subplots(1, 2)
    _agreement_panel(left, table, "distortion_predicted", "distortion_measured")
    left.set_xlabel("predicted ||S_tr^-1 S_te - I||_F (population)")
    left.set_ylabel("measured ||M - I||_F (M probed from the model)")
    worst = float(table["probe_residual"].max())
    left.set_title(f"operator (probe = empirical S_tr^-1 S_te to {worst:.1e})", fontsize=9)
    _agreement_panel(right, table, "coef_distortion_predicted", "coef_distortion_measured")
    right.set_xlabel("predicted ||(D - I) beta|| / ||beta||")
    right.set_ylabel("measured ||beta_eff - beta|| / ||beta||")
    right.set_title("coefficients (includes eq. 10 noise term)", fontsize=9)
    handles = [left.scatter([], [], color=c, label=f.replace("_", " "))
               for f, c in FAMILY_COLORS.items() if f in set(table["family"])]
    handles += [left.scatter([], [], color="gray", marker=M_MARKERS[k % len(M_MARKERS)],
                             label=f"m = {m}")
                for k, m in enumerate(sorted(table["m"].unique()))]
    # families and context sizes, each in its own row where they fit (the canvas is 10 in wide)
    fig.legend(handles=handles, loc="lower center", ncol=max(len(FAMILY_COLORS), 5), fontsize=8,
               frameon=False)
    fig.suptitle("Measured vs predicted distortion (eq. 10); spread above the diagonal is "
                 "sampling error O(1/sqrt(m))", fontsize=10)
    return fig
