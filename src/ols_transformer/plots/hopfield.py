"""Figure of the Hopfield capacity study (Section 4): capacity against N, with theory curves.

It draws tables and fits nothing: Amit's finite-size fits come from ``hopfield_amit``
(``experiments.hopfield.amit_table``), each curve drawn from its tabled alpha_inf and a."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..hopfield_theory import FIT_FORMS, FORM_LABELS, INV_SQRT_N, MODELS, theory_capacity
from .common import plot

COLORS = ("tab:red", "tab:pink", "tab:blue", "tab:cyan", "tab:olive", "tab:orange",
          "tab:green", "tab:purple", "tab:brown", "tab:gray")
MARKERS = ("*", "P", "x", "o", "h", "s", "D", "^", "v", "<")
THEORY_STYLES = ("--", ":")
FIT_STYLES = {"sqrt": "-", "n23": "-.", "n1": (0, (1, 1))}


def _style(runs: list[str]) -> dict[str, tuple[str, str]]:
    return {run: (COLORS[i % len(COLORS)], MARKERS[i % len(MARKERS)])
            for i, run in enumerate(runs)}


def _stats(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """N, mean capacity over seeds and its t-interval as error-bar lengths (kept above 0)."""
    stats = rows.drop_duplicates("N").sort_values("N")
    mean = stats["capacity_mean"].to_numpy(dtype=float)
    low = np.clip(mean - stats["ci_low"].to_numpy(dtype=float), 0, None)
    high = np.clip(stats["ci_high"].to_numpy(dtype=float) - mean, 0, None)
    errors = np.nan_to_num(np.vstack([np.minimum(low, 0.999 * mean), high]))
    return stats["N"].to_numpy(dtype=float), mean, errors


def _measured(ax: Axes, rows: pd.DataFrame, run: str, style: tuple[str, str],
              x: np.ndarray | None = None) -> None:
    """Mean over seeds with its t-interval as error bars; seeds as faint dots."""
    N, mean, errors = _stats(rows)
    xs = N if x is None else x
    color, marker = style
    ax.errorbar(xs, mean, yerr=errors, color=color, marker=marker, ms=5, capsize=2, lw=1.2,
                label=f"{run} (mean, t-interval)")
    seeds = rows[rows["capacity"] > 0]
    seed_x = seeds["N"].to_numpy(dtype=float)
    if x is not None:
        seed_x = np.sqrt(seed_x)
    ax.scatter(seed_x, seeds["capacity"], color=color, s=8, alpha=0.35, linewidths=0)


def _theory(ax: Axes, rows: pd.DataFrame, color: str, drawn: set[str]) -> None:
    """The theory curves of the run's model, each drawn once per panel (models that share a
    theory, such as the classical network and Hebbian linear attention, share its line)."""
    model, rho = str(rows["model"].iloc[0]), float(rows["rho"].iloc[0])
    N = rows["N"].to_numpy(dtype=float)
    grid = np.geomspace(N.min(), N.max(), 60)
    for style, (label, values) in zip(THEORY_STYLES, theory_capacity(model, grid, rho).items(),
                                      strict=False):
        key = f"{id(ax)} {label}"
        if key in drawn:
            continue
        drawn.add(key)
        ax.plot(grid, values, style, color=color, lw=0.9, alpha=0.8, label=f"theory: {label}")


def _runs(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {str(run): rows for run, rows in table.groupby("run", sort=False)}


@plot
def plot_capacity(table: pd.DataFrame, amit: pd.DataFrame) -> Figure:
    """(a) log-log, the power-law runs (a power law N^k is a line of slope k); (b) semi-log, the
    exponential runs at a fixed temperature (exp(alpha N) is a line); (c) softmax at the
    transformer's beta = 1/sqrt(N) against sqrt(N) (exp(b sqrt N) is a line), iterated to a
    fixed point and by one update (a transformer layer); (d) the classical network at Amit's
    criterion, C/N against N with 0.138 and the fits alpha_inf + a/N^p of ``amit`` (the
    hopfield_amit table). Dashed/dotted: theory."""
    runs = _runs(table)
    styles = _style(list(runs))
    fig = Figure(figsize=(13, 10.5))
    fig.subplots_adjust(left=0.07, right=0.98, top=0.94, bottom=0.27, wspace=0.2, hspace=0.3)
    (loglog, semilog), (root, amit_ax) = fig.subplots(2, 2)
    drawn: set[str] = set()
    exact = {r: rows for r, rows in runs.items() if (rows["min_overlap"] >= 1).all()}
    for run, rows in exact.items():
        model = str(rows["model"].iloc[0])
        scaled = (rows["beta"].astype(str) == INV_SQRT_N).all()
        if MODELS[model].law != "exponential":
            _measured(loglog, rows, run, styles[run])
            _theory(loglog, rows, styles[run][0], drawn)
        elif scaled:
            _measured(root, rows, run, styles[run], x=np.sqrt(rows.drop_duplicates("N")
                                                               .sort_values("N")["N"]
                                                               .to_numpy(dtype=float)))
        else:
            _measured(semilog, rows, run, styles[run])
            _theory(semilog, rows, styles[run][0], drawn)
    loglog.set(xscale="log", yscale="log", xlabel="N (neurons)",
               ylabel="capacity M (largest M retrieved)",
               title="(a) log-log: power laws are lines", ylim=(0.5, None))
    semilog.set(yscale="log", xlabel="N (neurons)", ylabel="capacity M",
                title="(b) semi-log: exp(alpha N) is a line", ylim=(0.5, None))
    root.set(yscale="log", xlabel="sqrt(N)", ylabel="capacity M")
    root.set_title("(c) softmax at beta = 1/sqrt(N), fixed point and one update (a layer): "
                   "exp(b sqrt N) is a line", fontsize=9)
    _amit_panel(amit_ax, amit, styles)
    for ax in (loglog, semilog, root, amit_ax):
        ax.grid(True, which="major", alpha=0.3)
    handles, labels = [], []
    for ax in (loglog, semilog, root, amit_ax):
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7, frameon=False)
    rho, threshold = float(table["rho"].iloc[0]), float(table["threshold"].iloc[0])
    fig.suptitle(f"Hopfield capacity: largest M retrieved (exact recall by >= {threshold:g} of "
                 f"the cues, rho = {rho:g} of bits flipped, unless a run says otherwise)",
                 fontsize=10)
    return fig


def _amit_panel(ax: Axes, amit: pd.DataFrame, styles: dict[str, tuple[str, str]]) -> None:
    """C/N per N of each Amit run and its three finite-size fits, drawn from the table's
    alpha_inf_f and a_f to 4 N_max (where they part), with Amit et al.'s 0.138."""
    groups = [] if amit.empty else list(amit.groupby("run", sort=False))
    for run, rows in groups:
        rows = rows.sort_values("N")
        N = rows["N"].to_numpy(dtype=float)
        color, marker = styles.get(str(run), ("k", "o"))
        ax.plot(N, rows["alpha"].to_numpy(dtype=float), marker=marker, color=color, ls="none",
                label=f"{run}: C/N (mean over seeds)")
        grid = np.geomspace(N.min(), 4 * N.max(), 60)
        for form, p in FIT_FORMS.items():
            alpha_inf = float(rows[f"alpha_inf_{form}"].iloc[0])
            a = float(rows[f"a_{form}"].iloc[0])
            ax.plot(grid, alpha_inf + a * grid ** -p, ls=FIT_STYLES[form], color=color, lw=0.9,
                    label=f"fit {FORM_LABELS[form]}: alpha_inf = {alpha_inf:.3f}")
        at = rows.iloc[0]
        ax.set_title(f"(d) classical, Amit's criterion (overlap >= {at['min_overlap']:g}, "
                     f"rho = {at['rho']:g}, {at['threshold']:g} of cues)", fontsize=9)
    ax.axhline(0.138, color="k", ls="--", lw=0.9, label="0.138, Amit et al. 1985")
    ax.set(xscale="log", xlabel="N (neurons)", ylabel="capacity / N")
