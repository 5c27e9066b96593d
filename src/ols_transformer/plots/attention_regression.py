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
def plot_r2(comparison: pd.DataFrame) -> Figure:
    """Test R^2 per design (panel) and model: ours as mean with 95% t interval, the paper's
    transcribed means as black markers; one group of points per (N, SNR) condition."""
    designs = list(dict.fromkeys(comparison["design"]))
    fig, axes = _panels(len(designs))
    models = [m for m in MODELS if m in set(comparison["model"])]
    for ax, design in zip(axes, designs, strict=True):
        rows = comparison[comparison["design"] == design]
        conditions = list(dict.fromkeys(zip(rows["n"], rows["snr"], strict=True)))
        width = 0.8 / max(1, len(conditions))
        for i, model in enumerate(models):
            for j, (n, snr) in enumerate(conditions):
                r = rows[(rows["model"] == model) & (rows["n"] == n) & (rows["snr"] == snr)]
                if r.empty:
                    continue
                r = r.iloc[0]
                x = i + (j - (len(conditions) - 1) / 2) * width
                err = [[r.r2_mean - r.ci_low], [r.ci_high - r.r2_mean]]
                ax.errorbar(x, r.r2_mean, yerr=None if np.isnan(r.ci_low) else err, fmt="o",
                            color=COLORS[model], ms=4, capsize=2)
                if np.isfinite(r.paper_r2):
                    ax.plot(x, r.paper_r2, "k_", ms=10, mew=2)
        ax.set_xticks(range(len(models)))
        ax.set_xticklabels(models, rotation=60, ha="right", fontsize=7)
        ax.set_title(design)
        ax.set_ylabel("test R^2")
        ax.set_ylim(max(-0.5, float(np.nanmin(rows["ci_low"].fillna(rows["r2_mean"]))) - 0.05),
                    1.0)
        ax.axhline(0, color="black", lw=0.5)
    fig.suptitle("Test R^2: ours (mean, 95% t interval) and the paper's (black bars)")
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


def figures(tables: dict[str, pd.DataFrame]) -> dict[str, Figure]:
    """Every figure of the stage by its output name (ar_<name>.png)."""
    return {"r2": plot_r2(tables["ar_comparison"]), "ceiling": plot_ceiling(tables["ar_r2"])}
