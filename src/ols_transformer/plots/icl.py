"""Figures of the icl stage (in-context regression): tables in, matplotlib Figures out."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from ..shift import FAMILY_MAGNITUDE
from .common import plot

TASK_MAGNITUDE = "task scale c (w ~ N(0, c^2 I))"
BASELINES = {  # model -> (label, style, color)
    "gamma_star": ("Gamma* transformer (one-layer optimum)", "x--", "black"),
    "ols_transformer": ("OLS-Transformer, Lambda^-1", "+-.", "tab:gray"),
    "context_ols": ("in-context OLS", "s-", "tab:blue"),
    "ridge": ("ridge, lambda = sigma^2 (Bayes, training prior)", "^-", "tab:green"),
    "bayes": ("Bayes-optimal under the shifted law", "*-", "tab:red"),
}


DESIGN_STYLE = {  # design -> (label, marker, color)
    "softmax": ("softmax attention, one layer", "D", "tab:purple"),
    "multi_head": ("two-head linear attention", "v", "tab:olive"),
    "mlp": ("linear attention + GELU MLP", "P", "tab:cyan"),
}
NORM_STYLE = ("normalised stack (pre-norm LayerNorm + residual), L = {}", "h", "tab:brown")


def _figure(width: float, height: float, left: float, right: float, top: float, bottom: float,
            **spacing: float) -> Figure:
    """A figure with margins in inches. A fixed layout, not "constrained": constrained layout
    measures every label again at each save and makes saving these figures several times slower.
    """
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height,
                        bottom=bottom / height, **spacing)
    return fig


def _depth_colors(depths: list[int]) -> dict[int, tuple[float, ...]]:
    cmap = colormaps["plasma"]
    return {L: cmap(0.8 * i / max(1, len(depths) - 1)) for i, L in enumerate(depths)}


def _log_n_axis(ax: Axes, sizes: list[int]) -> None:
    """Log x axis with the grid's N as plain tick labels."""
    ax.set_xscale("log")
    ax.set_xticks(sizes)
    ax.set_xticklabels([str(n) for n in sizes])
    ax.xaxis.set_minor_formatter(NullFormatter())


def _lambdas(table: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(table["lambda"]))


def _lsa_band(ax: Axes, rows: pd.DataFrame, x: str, y: str, color: tuple[float, ...] | str,
              label: str, marker: str = "o") -> None:
    """Mean over seeds with the seeds' range shaded."""
    g = rows.groupby(x)[y]
    xs = np.asarray(g.mean().index, dtype=float)
    ax.fill_between(xs, g.min(), g.max(), color=color, alpha=0.15, lw=0)
    ax.plot(xs, g.mean(), marker + "-", color=color, label=label, ms=4)


def _mean(rows: pd.DataFrame, x: str, y: str) -> pd.Series:
    """Mean of ``y`` over seeds per ``x`` (an untrained baseline has a row per seed: each seed's
    own test tasks), sorted by ``x``."""
    return rows.groupby(x, sort=True)[y].mean()


@plot
def plot_risk_vs_n(risk: pd.DataFrame) -> Figure:
    """Excess test risk E(y_hat - w^T x_q)^2 against the context size N (log-log), one panel per
    Lambda: trained LSA per depth, preconditioned GD per depth and the baselines."""
    names = _lambdas(risk)
    fig = _figure(5.2 * len(names), 5.6, left=0.8, right=0.2, top=0.7, bottom=1.8, wspace=0.25)
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    depths = sorted(int(L) for L in risk.loc[risk["model"] == "lsa", "depth"].unique())
    colors = _depth_colors(depths)
    for ax, name in zip(axes, names, strict=True):
        rows = risk[risk["lambda"] == name]
        for L in depths:
            _lsa_band(ax, rows[(rows["model"] == "lsa") & (rows["depth"] == L)], "N",
                      "excess_risk", colors[L], f"trained LSA, L = {L}")
            pgd = _mean(rows[(rows["model"] == "pgd") & (rows["depth"] == L)], "N", "excess_risk")
            ax.plot(pgd.index, pgd.to_numpy(), ":", color=colors[L], lw=1.5,
                    label=f"{L} step(s) of GD, preconditioner Gamma*")
        for design, (label, marker, color) in DESIGN_STYLE.items():
            trained = rows[rows["model"] == design]
            if len(trained):
                _lsa_band(ax, trained, "N", "excess_risk", color, label, marker)
        for model, (label, style, color) in BASELINES.items():
            base = rows[rows["model"] == model].astype({"excess_theory": float})
            mean = _mean(base, "N", "excess_risk")
            ax.plot(mean.index, mean.to_numpy(), style, color=color, label=label, ms=5)
            if base["excess_theory"].notna().any():
                theory = _mean(base, "N", "excess_theory")
                ax.plot(theory.index, theory.to_numpy(), "-", color=color, lw=0.6, alpha=0.8)
        _log_n_axis(ax, sorted(int(n) for n in rows["N"].unique()))
        ax.set_yscale("log")
        ax.set_xlabel("context size N")
        ax.set_ylabel("excess risk E (y_hat - w^T x_q)^2")
        ax.set_title(f"Lambda: {name}")
    legend: dict[str, object] = {}  # every panel's entries (the designs are in one panel)
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    fig.legend(list(legend.values()), list(legend), loc="lower center", ncol=4, fontsize=7,
               frameon=False)
    fig.suptitle("In-context regression: trained linear transformers against their optima "
                 "(thin lines: closed forms)")
    return fig


def _matrix(row: pd.Series, label: str) -> np.ndarray:
    d = int(round(np.sqrt(sum(1 for c in row.index if str(c).startswith(f"{label}_")))))
    return np.array([[row[f"{label}_{i}_{j}"] for j in range(d)] for i in range(d)], dtype=float)


@plot
def plot_preconditioner(pre: pd.DataFrame) -> Figure:
    """Heat maps of the learned one-layer Gamma (first seed, smallest N), Gamma* and Lambda^-1,
    one row per Lambda, and the relative Frobenius distances against N."""
    names = _lambdas(pre)
    fig = _figure(15, 3.4 * len(names) + 0.4, left=0.2, right=0.3, top=0.8, bottom=0.5,
                  wspace=0.3, hspace=0.45)
    axes = fig.subplots(len(names), 4, squeeze=False)
    for r, name in enumerate(names):
        rows = pre[pre["lambda"] == name]
        first = rows.sort_values(["N", "seed"]).iloc[0]
        mats = [(_matrix(first, "learned"), f"learned Gamma (seed {first['seed']})"),
                (_matrix(first, "star"), "Gamma* (closed form)"),
                (_matrix(first, "inverse"), "Lambda^-1 (OLS-Transformer)")]
        top = max(float(np.abs(m).max()) for m, _ in mats)
        for ax, (m, title) in zip(axes[r, :3], mats, strict=True):
            image = ax.imshow(m, cmap="RdBu_r", vmin=-top, vmax=top)
            for (i, j), v in np.ndenumerate(m):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6)
            ax.set_title(f"{title}\nLambda {name}, N = {first['N']}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
        fig.colorbar(image, ax=list(axes[r, :3]), shrink=0.8, pad=0.02)
        ax = axes[r, 3]
        _lsa_band(ax, rows, "N", "dist_to_gamma_star", "tab:red", "learned vs Gamma*")
        _lsa_band(ax, rows, "N", "dist_to_inverse", "tab:blue", "learned vs Lambda^-1", "s")
        theory = rows.groupby("N")["star_dist_to_inverse"].mean()
        ax.plot(theory.index, theory.to_numpy(), "k--", label="Gamma* vs Lambda^-1 (theory)")
        _log_n_axis(ax, [int(n) for n in theory.index])
        ax.set_yscale("log")
        ax.set_xlabel("context size N")
        ax.set_ylabel("relative Frobenius distance")
        ax.legend(fontsize=7)
    fig.suptitle("One trained LSA layer learns Gamma*, not the OLS-Transformer's Lambda^-1; "
                 "Gamma* -> Lambda^-1 as N grows")
    return fig


@plot
def plot_risk_vs_depth(risk: pd.DataFrame) -> Figure:
    """Excess test risk against the number of layers L, one panel per Lambda, one colour per N:
    trained LSA (mean and range over seeds), L steps of preconditioned GD (dotted), ridge
    (dashed, the Bayes risk)."""
    names = _lambdas(risk)
    fig = _figure(5.2 * len(names), 4.9, left=0.8, right=0.2, top=0.7, bottom=1.05, wspace=0.25)
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    sizes = sorted(int(n) for n in risk["N"].unique())
    cmap = colormaps["viridis"]
    colors = {n: cmap(0.85 * i / max(1, len(sizes) - 1)) for i, n in enumerate(sizes)}
    for ax, name in zip(axes, names, strict=True):
        rows = risk[risk["lambda"] == name]
        for n in sizes:
            at = rows[rows["N"] == n]
            _lsa_band(ax, at[at["model"] == "lsa"], "depth", "excess_risk", colors[n],
                      f"trained LSA, N = {n}")
            pgd = _mean(at[at["model"] == "pgd"], "depth", "excess_risk")
            ax.plot(pgd.index, pgd.to_numpy(), ":", color=colors[n], lw=1.5)
            tuned = _mean(at[at["model"] == "gd_tuned"], "depth", "excess_risk")
            ax.plot(tuned.index, tuned.to_numpy(), "-.", color=colors[n], lw=1.0)
            ridge = at.loc[at["model"] == "ridge", "excess_risk"]
            if len(ridge):
                ax.axhline(float(ridge.mean()), color=colors[n], ls="--", lw=0.8)
        ax.set_yscale("log")
        ax.set_xticks(sorted(int(L) for L in rows.loc[rows["model"] == "lsa", "depth"].unique()))
        ax.set_xlabel("layers L")
        ax.set_ylabel("excess risk")
        ax.set_title(f"Lambda: {name}")
    # one legend for both panels, below them: the colours (N) and the line styles (in the
    # panel titles they ran into each other and off the canvas; inside, they hid the lines)
    for style, label in ((":", "L steps of GD with Gamma*"),
                         ("-.", "L steps, tuned per-step diagonal preconditioners"),
                         ("--", "ridge (the Bayes risk)")):
        axes[0].plot([], [], style, color="0.3", lw=1.2, label=label)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=7, frameon=False)
    fig.suptitle("Deeper linear transformers: risk against depth")
    return fig


ZERO = 1e-10  # a relative error below this is rounding of an exact 0 (no log)


@plot
def plot_shift(shift: pd.DataFrame) -> Figure:
    """Relative error ||y_hat - w^T x_q|| / ||w^T x_q|| under covariate shift (shift.py's
    families) and task shift, one column per family. Top: the one-layer model (mean and range
    over seeds) next to eq. 10's population prediction and the baselines; bottom: every depth
    (the deeper stacks are polynomials of higher degree in the context and can leave the scale)."""
    families = list(dict.fromkeys(shift["family"]))
    fig = _figure(3.6 * len(families), 7.4, left=0.9, right=0.2, top=0.6, bottom=1.0,
                  wspace=0.08, hspace=0.25)
    axes = fig.subplots(2, len(families), squeeze=False, sharey="row")
    depths = sorted(int(L) for L in shift.loc[shift["model"] == "lsa", "depth"].unique())
    colors = _depth_colors(depths)
    for top, bottom, family in zip(axes[0], axes[1], families, strict=True):
        rows = shift[shift["family"] == family]
        lsa = rows[rows["model"] == "lsa"]
        one = lsa[lsa["depth"] == min(depths)]
        _lsa_band(top, one, "magnitude", "relerr", colors[min(depths)],
                  f"trained LSA, L = {min(depths)}")
        for L in depths:
            _lsa_band(bottom, lsa[lsa["depth"] == L], "magnitude", "relerr", colors[L],
                      f"trained LSA, L = {L}")
        norm = rows[rows["model"] == "lsa_norm"]
        for L in sorted(int(v) for v in norm["depth"].unique()):
            sel = norm[norm["depth"] == L].groupby("magnitude")["relerr"].mean()
            bottom.plot(sel.index, sel.to_numpy(), NORM_STYLE[1] + "--", color=colors.get(
                L, NORM_STYLE[2]), ms=4, lw=1.0, label=NORM_STYLE[0].format(L))
        for model in ("ols_transformer", "context_ols", "ridge", "bayes"):
            label, style, color = BASELINES[model]
            base = _mean(rows[rows["model"] == model], "magnitude", "relerr")
            for ax in (top, bottom):
                ax.plot(base.index, base.to_numpy(), style, color=color, label=label, ms=4)
        at = rows.groupby("magnitude")
        x = np.asarray(at.size().index, dtype=float)
        top.plot(x, at["eq10_predicted"].mean().where(lambda v: v > ZERO), "k--", lw=1,
                 label="eq. 10, slow memory Lambda^-1 (N -> inf)")
        top.plot(x, one.groupby("magnitude")["eq10_learned"].mean().where(lambda v: v > ZERO),
                 ":", color="tab:red", lw=1.5, label="eq. 10, slow memory = learned Gamma")
        for ax in (top, bottom):
            ax.set_yscale("log")
        top.set_title(family.replace("_", " "))
        bottom.set_xlabel(FAMILY_MAGNITUDE.get(family, TASK_MAGNITUDE), fontsize=7)
    axes[0, 0].set_ylabel("relative error, one layer")
    axes[1, 0].set_ylabel("relative error, every depth")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    more = [(h, lab) for h, lab in zip(*axes[1, 0].get_legend_handles_labels(), strict=True)
            if lab not in labels]
    fig.legend(handles + [h for h, _ in more], labels + [lab for _, lab in more],
               loc="lower center", ncol=5, fontsize=7, frameon=False)
    fig.suptitle("Trained LSA at test-time shift: covariate shift distorts the one-layer model "
                 "as eq. 10 says, task shift does not")
    return fig


@plot
def plot_training(training: pd.DataFrame) -> Figure:
    """Training and validation loss (excess risk on the batch / on held-out tasks) against the
    step, one panel per trained model at the setting tested under shift (the designs' one),
    one line per seed; the last point is where the model stopped."""
    designs = training[training["model"] != "lsa"]
    at = (designs.iloc[0]["lambda"], designs.iloc[0]["N"]) if len(designs) else (
        training.iloc[0]["lambda"], training.iloc[0]["N"])
    rows = training[(training["lambda"] == at[0]) & (training["N"] == at[1])]
    models = list(dict.fromkeys(zip(rows["model"], rows["depth"], strict=True)))
    fig = _figure(3.2 * len(models), 3.6, left=0.8, right=0.2, top=0.7, bottom=0.6, wspace=0.3)
    axes = fig.subplots(1, len(models), squeeze=False, sharey=True)[0]
    for ax, (model, depth) in zip(axes, models, strict=True):
        sel = rows[(rows["model"] == model) & (rows["depth"] == depth)]
        for i, (seed, run) in enumerate(sel.groupby("seed")):
            color = colormaps["tab10"](i)
            ax.plot(run["step"], run["train_loss"], "--", color=color, lw=0.8,
                    label=f"seed {seed} train")
            ax.plot(run["step"], run["valid_loss"], "-", color=color, lw=1.2,
                    label=f"seed {seed} validation")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        title = (f"linear, L = {depth}" if model == "lsa" else NORM_STYLE[0].format(depth)
                 if model == "lsa_norm" else DESIGN_STYLE.get(model, (model,))[0])
        ax.set_title(title.replace(" (pre-norm", "\n(pre-norm"), fontsize=8)
    axes[0].set_ylabel("excess risk")
    axes[0].legend(fontsize=6)
    fig.suptitle(f"Training (dashed) and validation (solid) loss, Lambda {at[0]}, N = {at[1]}; "
                 "each line ends where early stopping stopped it")
    return fig


@plot
def plot_designs(shift: pd.DataFrame) -> Figure:
    """Robustness as a user meets it: the absolute error (RMS of y_hat - w^T x_q, mean over
    seeds) under each shift family and magnitude, of the one-layer linear model (thick), the
    Sec. 5 designs, the normalised stacks and the Bayes-optimal predictor under the same shift.
    Bottom: the same over the linear model's error (below 1: the design is better there)."""
    families = list(dict.fromkeys(shift["family"]))
    fig = _figure(3.4 * len(families), 7.0, left=0.9, right=0.2, top=0.6, bottom=1.2,
                  wspace=0.1, hspace=0.3)
    axes = fig.subplots(2, len(families), squeeze=False, sharey="row")
    norm = sorted(int(L) for L in shift.loc[shift["model"] == "lsa_norm", "depth"].unique())
    models = [("lsa", 1, "linear, L = 1", "o", "black")] + [
        (d, 1, label, marker, color) for d, (label, marker, color) in DESIGN_STYLE.items()
        if (shift["model"] == d).any()] + [
        ("lsa_norm", L, NORM_STYLE[0].format(L), NORM_STYLE[1],
         colormaps["copper"](0.2 + 0.6 * i / max(1, len(norm) - 1))) for i, L in enumerate(norm)
    ] + [("bayes", 0, BASELINES["bayes"][0], "*", "tab:red")]
    for col, family in enumerate(families):
        rows = shift[shift["family"] == family]
        base = rows[(rows["model"] == "lsa") & (rows["depth"] == 1)].groupby(
            "magnitude")["rmse"].mean()
        for model, depth, label, marker, color in models:
            sel = rows[(rows["model"] == model) & (rows["depth"] == depth)].groupby(
                "magnitude")["rmse"].mean()
            if sel.empty:
                continue
            thick = 2.0 if (model, depth) == ("lsa", 1) else 1.0
            axes[0, col].plot(sel.index, sel.to_numpy(), marker + "-", color=color, label=label,
                              ms=4, lw=thick)
            axes[1, col].plot(sel.index, (sel / base.reindex(sel.index)).to_numpy(),
                              marker + "-", color=color, ms=4, lw=thick)
        for ax in axes[:, col]:
            ax.set_yscale("log")
        axes[1, col].axhline(1.0, color="gray", lw=0.8)
        axes[0, col].set_title(family.replace("_", " "))
        axes[1, col].set_xlabel(FAMILY_MAGNITUDE.get(family, TASK_MAGNITUDE), fontsize=7)
    axes[0, 0].set_ylabel("absolute error (RMS)")
    axes[1, 0].set_ylabel("error / linear layer's")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7, frameon=False)
    fig.suptitle("Sec. 5's designs under test-time shift: absolute error next to the one-layer "
                 "linear model (thick) and the Bayes-optimal predictor")
    return fig


def figures(tables: dict[str, pd.DataFrame]) -> dict[str, Figure]:
    """Every figure of the stage by its output name (icl_<name>.png)."""
    return {"risk": plot_risk_vs_n(tables["icl_risk"]),
            "preconditioner": plot_preconditioner(tables["icl_preconditioner"]),
            "depth": plot_risk_vs_depth(tables["icl_risk"]),
            "shift": plot_shift(tables["icl_shift"]),
            "training": plot_training(tables["icl_training"]),
            "designs": plot_designs(tables["icl_shift"])}
