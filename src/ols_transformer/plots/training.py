"""Figure 1a (loss and distance to OLS), Figure 1b (w against w*) and the sensitivity heat maps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from .common import new_figure, plot

PAPER_EPOCHS = 1000  # "within the first 1000 epochs" (Sec. 2.3)


def _band(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """Median and min-max over seeds, per epoch."""
    return table.groupby("epoch")[column].agg(["median", "min", "max"])


@plot
def plot_fig1a(table: pd.DataFrame, alignment_tol: float) -> Figure:
    """Training MSE (left axis) and relative distance to OLS (right axis) per epoch: median over
    seeds and the min-max band; the OLS noise floor, the alignment tolerance and epoch 1000."""
    fig, (ax,) = new_figure(width=5.5)
    mse = _band(table, "mse")
    ax.plot(mse.index, mse["median"], color="C0", label="training MSE (median over seeds)")
    ax.fill_between(mse.index, mse["min"], mse["max"], color="C0", alpha=0.25, lw=0)
    floor = table.groupby("seed")["ols_mse"].first()
    ax.axhline(floor.mean(), color="C0", ls="--", lw=0.9,
               label=f"OLS noise floor (mean {floor.mean():.3g})")
    ax.axvline(PAPER_EPOCHS, color="gray", ls="-.", lw=0.8, label="epoch 1000 (the paper)")
    ax.set_yscale("log")
    ax.set_xlim(0, table["epoch"].max())
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
    """Each seed's |w(t)| / w*, its own w* = Sigma^{-1/2} being 1 on this axis."""
    fig, (ax,) = new_figure(width=5.5)
    for i, (seed, rows) in enumerate(table.groupby("seed", sort=True)):
        ax.plot(rows["epoch"], rows["w"].abs() / rows["w_star"], color=f"C{i % 10}", lw=1.0,
                label=f"seed {seed} (w* = {rows['w_star'].iloc[0]:.3f})")
    ax.axhline(1.0, color="k", ls="--", lw=0.8, label=r"$w^* = \Sigma^{-1/2}$")
    ax.axvline(PAPER_EPOCHS, color="gray", ls="-.", lw=0.8)
    ax.set_xlim(0, table["epoch"].max())
    ax.set_xlabel("epoch")
    ax.set_ylabel(r"$|w| / w^*$ (each seed against its own $w^*$)")
    ax.set_title("Figure 1b: structural emergence")
    ax.legend(loc="lower right", fontsize=7)
    return fig


def _edges(values: np.ndarray) -> np.ndarray:
    """Cell edges around geometrically spaced centres (log axes)."""
    logs = np.log(values)
    if len(values) == 1:
        return np.exp(logs[0] + np.array([-0.5, 0.5]))
    mids = (logs[1:] + logs[:-1]) / 2
    return np.exp(np.concatenate([[2 * logs[0] - mids[0]], mids, [2 * logs[-1] - mids[-1]]]))


def _heat_map(ax: Axes, rows: pd.DataFrame, epochs: int, norm: LogNorm) -> Any:
    """Median over seeds of the first aligned epoch over (learning rate, w0); never aligned
    counts as after the last epoch (grey), a diverged point is crossed."""
    aligned = rows["aligned_epoch"].where(rows["aligned_epoch"] >= 0, np.inf)
    grid = (rows.assign(aligned=aligned)
            .groupby(["w0", "learning_rate"])["aligned"].median().unstack("learning_rate"))
    rates, starts = grid.columns.to_numpy(dtype=float), grid.index.to_numpy(dtype=float)
    values = grid.to_numpy(dtype=float)
    shown = np.ma.masked_invalid(np.where(np.isinf(values), np.nan, np.maximum(values, 1)))
    ax.set_facecolor("0.8")  # never aligned (median): grey
    mesh = ax.pcolormesh(_edges(rates), _edges(starts), shown, norm=norm, cmap="viridis")
    if len(rates) > 1 and len(starts) > 1:
        finite = np.where(np.isinf(values), 10.0 * epochs, values)
        ax.contour(rates, starts, finite, levels=[PAPER_EPOCHS], colors="white",
                   linewidths=1.5)
    rose = rows.groupby(["w0", "learning_rate"])["mse_rises"].max().reset_index()
    rose = rose[rose["mse_rises"] > 0]
    ax.scatter(rose["learning_rate"], rose["w0"], marker=".", color="white", s=12, zorder=3)
    bad = rows[rows["diverged"].astype(bool)]
    ax.scatter(bad["learning_rate"], bad["w0"], marker="x", color="red", s=25, zorder=3)
    ax.set(xscale="log", yscale="log", xlabel="learning rate", ylabel="w0")
    ax.grid(False)
    return mesh


@plot
def plot_sensitivity(table: pd.DataFrame, cfg: Mapping[str, Any]) -> Figure:
    """Heat maps of the first aligned epoch (median over seeds) over (learning rate, w0) at the
    main run's input scale (``cfg['x_scale']``; the other scales are in the alignment-region
    figure): one column per parameterisation, one row per n; white: the 1000-epoch contour;
    star: the main run's setting (at its n)."""
    shown_scale = float(cfg["x_scale"])
    if "x_scale" in table.columns:  # one input scale: the main run's, if the sweep has it
        scales = table["x_scale"].astype(float)
        if not np.isclose(scales, shown_scale).any():
            shown_scale = float(scales.min())
        table = table[np.isclose(scales, shown_scale)]
    forms = [f for f in ("eq8", "eq5") if f in set(table["parameterisation"])]
    sizes = sorted(table["n"].unique())
    epochs = int(table["epochs"].iloc[0])
    fig = Figure(figsize=(4.6 * len(forms) + 1.2, 3.4 * len(sizes) + 0.8), layout="constrained")
    axes = fig.subplots(len(sizes), len(forms), squeeze=False)
    norm = LogNorm(vmin=1, vmax=epochs)
    mesh = None
    for i, n in enumerate(sizes):
        for j, form in enumerate(forms):
            ax = axes[i, j]
            rows = table[(table["parameterisation"] == form) & (table["n"] == n)]
            mesh = _heat_map(ax, rows, epochs, norm)
            if form == cfg["parameterisation"] and n == cfg["n"]:
                ax.scatter([cfg["learning_rate"]], [cfg["w0"]], marker="*", s=160,
                           color="orange", edgecolors="black", zorder=4,
                           label="main run (Figure 1)")
                ax.legend(loc="lower left", fontsize=7)
            ax.set_title(f"{form}, n = {n}, x_scale = {shown_scale:g}", fontsize=9)
    if mesh is not None:
        fig.colorbar(mesh, ax=axes, label="first epoch aligned with OLS (median over seeds)")
    fig.suptitle(f"When does Figure 1 align within {PAPER_EPOCHS} epochs? (white contour; white "
                 f"dot: the MSE rose in some epoch; grey: not within {epochs}; red x: diverged)",
                 fontsize=9)
    return fig


# Point classes of the alignment-region figure: (column test, label, marker style).
REGION_CLASSES = (
    ("holds", "aligned within 1000 epochs, MSE never rose", dict(color="C2", marker="o")),
    ("rose", "aligned within 1000 epochs, but the MSE rose", dict(color="C1", marker="^")),
    ("late", "not aligned within 1000 epochs", dict(color="0.6", marker="x")),
)


def region_class(points: pd.DataFrame) -> pd.Series:
    """Each point's class in the figure: holds, rose (aligned, not monotone) or late."""
    return pd.Series(np.where(points["holds"], "holds",
                              np.where(points["aligned"], "rose", "late")), index=points.index)


@plot
def plot_alignment_region(points: pd.DataFrame, regions: Mapping[str, Any],
                          paper: tuple[str, np.ndarray]) -> Figure:
    """Where Figure 1's "aligned within ~1000 epochs, monotone decay" holds, per form, in the
    plane (lr/w*, w0/w*) in which Adam's 1-D path lives: every training of the sweep (its own
    w*) by class (``region_class``), the region derived from them (``checks.training.
    alignment_region``: a box, open sides drawn to the axes' edge) and the paper's setting as we
    read it (``paper``: its form and its points (k, 2) of (lr/w*, w0/w*), one per seed).

    ``points``: ``checks.training.region_points`` of the sweep; ``regions``: form -> Region.
    """
    forms = [f for f in ("eq8", "eq5") if f in set(points["parameterisation"])]
    fig, axes = new_figure(ncols=len(forms), width=5.0, height=4.8)
    classes = region_class(points)
    r_col, s_col = "lr_over_w_star", "w0_over_w_star"
    r_lim = (points[r_col].min() / 1.5, points[r_col].max() * 1.5)
    s_lim = (points[s_col].min() / 1.5, points[s_col].max() * 1.5)
    for ax, form in zip(axes, forms, strict=True):
        mine = points["parameterisation"] == form
        for name, label, style in REGION_CLASSES:
            rows = points[mine & (classes == name)]
            ax.scatter(rows[r_col], rows[s_col], s=14, alpha=0.8, lw=0.8, label=label,
                       gid=f"{form}:{name}", **style)
        region = regions.get(form)
        if region is not None and region.inside > 0:
            lo_r, hi_r = (max(region.r_bounds[0], r_lim[0]), min(region.r_bounds[1], r_lim[1]))
            lo_s, hi_s = (max(region.s_bounds[0], s_lim[0]), min(region.s_bounds[1], s_lim[1]))
            ax.fill([lo_r, hi_r, hi_r, lo_r], [lo_s, lo_s, hi_s, hi_s], color="C2", alpha=0.15,
                    lw=1.2, ec="C2", label="region (box of the holding points)",
                    gid=f"{form}:region")
        if paper[0] == form:
            ax.scatter(paper[1][:, 0], paper[1][:, 1], marker="*", s=160, color="gold",
                       edgecolors="black", zorder=5,
                       label="the paper's setting (lr 1e-3 ours), each seed", gid=f"{form}:paper")
        ax.set(xscale="log", yscale="log", xlim=r_lim, ylim=s_lim, xlabel=r"$lr / w^*$",
               ylabel=r"$w_0 / w^*$")
        words = region.words if region is not None else f"{form}: not in the sweep"
        ax.set_title(f"{form}\n{_wrap(words)}", fontsize=7)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=7)
    fig.suptitle(f"Figure 1's claim over (lr/w*, w0/w*): aligned within {PAPER_EPOCHS} epochs "
                 "with no MSE rise", fontsize=9)
    return fig


def _wrap(text: str, width: int = 70) -> str:
    """``text`` broken into lines of about ``width`` characters at spaces."""
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])
