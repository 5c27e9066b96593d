"""Figures of the attention_regression stage (the second seed paper): tables in, Figures out."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .common import plot

MODELS = ("OLS", "RF", "GBM", "MLP", "NW", "AttReg_M5", "AttReg_M5_validation",
          "AttReg_M5_masked")
COLORS = dict(zip(MODELS, ("tab:gray", "tab:green", "tab:olive", "tab:purple", "tab:cyan",
                           "tab:red", "tab:orange", "tab:brown"), strict=True))


def _panels(count: int, width: float = 3.2, height: float = 3.0) -> tuple[Figure, list]:
    cols = min(count, 3)
    rows = int(np.ceil(count / cols))
    fig = Figure(figsize=(width * cols, height * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, list(axes[:count])


@plot
def plot_paper_diff(cells: pd.DataFrame, designs: list[str] | None = None) -> Figure:
    """The paper's layout (rows design x N, columns SNR), one panel per model: our run mean
    minus the paper's printed one (averaged over the runs compared), failing cells marked x
    (OLS, RF, GBM: off its printed digits; Attention Regression, MLP: not shown equivalent).
    ``cells``: checks.attention_regression.cell_verdicts's table."""
    models = [m for m in ("OLS", "RF", "GBM", "AttReg_M5", "MLP") if m in set(cells["model"])]
    if not models:
        fig = Figure(figsize=(5, 2))
        fig.text(0.5, 0.5, "no condition comparable with the paper's runs", ha="center")
        return fig
    designs = designs or list(dict.fromkeys(cells["design"]))
    rows = [(d, n) for d in designs for n in sorted(set(cells["n"]))
            if ((cells["design"] == d) & (cells["n"] == n)).any()]
    snrs = sorted(set(cells["snr"]))
    fig = Figure(figsize=(1.6 + 0.75 * len(models) * max(2, len(snrs)),
                          2.0 + 0.3 * len(rows)), layout="constrained")
    axes = fig.subplots(1, len(models), squeeze=False, sharey=True)[0]
    for ax, model in zip(axes, models, strict=True):
        # Each panel its own scale: OLS, RF and GBM differ by 1e-4, the fitted models by 1e-2.
        limit = max(1e-5, float(np.nanmax(np.abs(cells.loc[cells["model"] == model, "diff"]))))
        grid = np.full((len(rows), len(snrs)), np.nan)
        failed = np.zeros_like(grid, dtype=bool)
        for i, (d, n) in enumerate(rows):
            for j, snr in enumerate(snrs):
                c = cells[(cells["model"] == model) & (cells["design"] == d) & (cells["n"] == n)
                          & (cells["snr"] == snr)]
                if not c.empty:
                    grid[i, j] = float(c["diff"].mean())
                    failed[i, j] = bool((c["verdict"] != "PASS").any())
        image = ax.imshow(grid, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
        for i, j in zip(*np.nonzero(failed), strict=True):
            ax.text(j, i, "x", ha="center", va="center", fontsize=9)
        ax.grid(False)
        ax.set_xticks(range(len(snrs)), [f"{s:g}" for s in snrs], fontsize=7)
        ax.set_xlabel("SNR", fontsize=8)
        ax.set_title(model, fontsize=9)
        bar = fig.colorbar(image, ax=ax, orientation="horizontal", pad=0.02, aspect=12)
        bar.ax.tick_params(labelsize=6, rotation=45)
    axes[0].set_yticks(range(len(rows)), [f"{d} {n}" for d, n in rows], fontsize=7)
    axes[0].set_ylabel("design, N", fontsize=8)
    fig.suptitle("Test R^2: our run means minus the paper's printed ones (each panel its own "
                 "scale)\nx: off its printed digits (OLS, RF, GBM) or not shown equivalent "
                 "(TOST: AttReg, MLP)", fontsize=9)
    return fig


@plot
def plot_ceiling(r2: pd.DataFrame) -> Figure:
    """Training against test R^2 per replicate and model, with the noise ceiling SNR/(1+SNR):
    a model above it in training fits the noise (Attention Regression sees its own label)."""
    fig = Figure(figsize=(5.5, 4.5), layout="constrained")
    ax = fig.subplots()
    for model in [m for m in MODELS if m in set(r2["model"])]:
        rows = r2[r2["model"] == model]
        ax.scatter(rows["r2_test"].clip(lower=-0.5), rows["r2_train"].clip(lower=-0.5), s=12,
                   color=COLORS[model], label=model, alpha=0.8)
    for ceiling in sorted(set(r2["ceiling"])):
        ax.axhline(ceiling, color="black", ls="--", lw=0.8)
        ax.axvline(ceiling, color="black", ls=":", lw=0.8)
    ax.plot([-0.5, 1], [-0.5, 1], color="gray", lw=0.5)
    ax.set_xlabel("test R^2 (clipped at -0.5)")
    ax.set_ylabel("training R^2 (clipped at -0.5)")
    ax.set_title("Training vs test R^2; dashed: noise ceiling SNR/(1+SNR)")
    ax.legend(fontsize=7, loc="lower right")
    return fig


def figures(tables: dict[str, pd.DataFrame], cells: pd.DataFrame) -> dict[str, Figure]:
    """Every figure of the stage by its output name (ar_<name>.png); ``cells``: the compared
    cells' verdicts (checks.attention_regression.cell_verdicts)."""
    return {"r2": plot_paper_diff(cells), "ceiling": plot_ceiling(tables["ar_r2"])}
