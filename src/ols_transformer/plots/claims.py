"""The ledger at a glance: every row's estimate over its threshold, by verdict and section.

The ratio r = estimate / threshold is drawn on a log axis, one line per ledger row, rows grouped
by the paper's section; a row judged on an interval over replicates draws it as a bar (its
ends over the threshold), and INCONCLUSIVE (an interval straddling the threshold) has a colour
of its own. What r must do to pass depends on the row's ``sense``:

- ``<=`` (an upper bound): r <= 1 passes (marker pointing left);
- ``>=`` (a lower bound): r >= 1 passes (marker pointing right);
- ``range`` (a band around the value the theory predicts, e.g. a slope of 2): r = measured /
  predicted, 1 is the prediction itself; how far from 1 passes is the row's band (circle);
- other rows (a check written out otherwise): r as is (diamond).

A row without a ratio (no threshold: REPORTED; nothing measured: MISSING; a zero or negative
threshold or value) sits hollow on the left edge, below every ratio drawn.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .common import plot

VERDICT_COLOURS = {"PASS": "tab:green", "CONDITIONAL": "tab:orange",
                   "INCONCLUSIVE": "tab:purple", "FAIL": "tab:red", "MISSING": "tab:gray",
                   "REPORTED": "tab:blue"}
MARKERS = {"<=": "<", ">=": ">", "range": "o"}


def ratio(measured: float, threshold: float) -> float:
    """measured / threshold, NaN where it is not a positive finite number."""
    if not (math.isfinite(measured) and math.isfinite(threshold)) or threshold == 0:
        return math.nan
    r = measured / threshold
    return r if r > 0 else math.nan


def _column(ledger: pd.DataFrame, name: str, old: str = "", empty: object = math.nan
            ) -> pd.Series:
    """``ledger[name]`` (``old``: its name in ledgers written before the rename), else empty."""
    for column in (name, old):
        if column and column in ledger.columns:
            return ledger[column]
    return pd.Series(empty, index=ledger.index)


def overview_points(ledger: pd.DataFrame) -> pd.DataFrame:
    """One row per ledger row, in ledger order grouped by section (first appearance): the
    claim, its section, verdict, sense, ratio of the estimate (NaN where none), the ratios of
    its interval's ends (``ratio_low``, ``ratio_high``; NaN without one) and its y position
    (top down). Reads ledgers from before the ``estimate`` column (``measured``).

    Shape: ledger (rows, ledger columns) -> (rows, 9)."""
    estimate = _column(ledger, "estimate", "measured")
    threshold = ledger["threshold"]
    points = pd.DataFrame({
        "claim_id": ledger["claim_id"].astype(str),
        "section": ledger["section"].astype(str),
        "verdict": ledger["verdict"].astype(str),
        "sense": _column(ledger, "sense", empty="").fillna("").astype(str),
        "ratio": [ratio(float(m), float(t)) for m, t in zip(estimate, threshold, strict=True)],
        "ratio_low": [ratio(float(m), float(t)) for m, t in
                      zip(_column(ledger, "ci_low"), threshold, strict=True)],
        "ratio_high": [ratio(float(m), float(t)) for m, t in
                       zip(_column(ledger, "ci_high"), threshold, strict=True)],
    })
    order = {s: i for i, s in enumerate(dict.fromkeys(points["section"]))}
    points = (points.assign(_section=points["section"].map(order))
              .sort_values("_section", kind="stable").drop(columns="_section")
              .reset_index(drop=True))
    return points.assign(y=np.arange(len(points))[::-1].astype(float))


@plot
def plot_claims_overview(ledger: pd.DataFrame) -> Figure:
    """Every ledger row's measured / threshold (log x), coloured by verdict, grouped by section
    (see the module docstring for what passes on each side of 1)."""
    points = overview_points(ledger)
    height = 1.8 + 0.24 * max(len(points), 1)
    fig = Figure(figsize=(9.5, height))
    # Fixed margins in inches (claim ids left, section names right): a constrained layout
    # measures every label again on save and triples the claims job's time.
    fig.subplots_adjust(left=3.0 / 9.5, right=1 - 1.9 / 9.5, top=1 - 0.4 / height,
                        bottom=1.05 / height)
    ax = fig.subplots()
    finite = pd.concat([points["ratio"], points["ratio_low"], points["ratio_high"]]).dropna()
    low = min(1e-3, float(finite.min()) / 10) if len(finite) else 1e-3
    high = max(10.0, float(finite.max()) * 3) if len(finite) else 10.0
    edge = low * 2  # rows without a ratio
    bars = points.dropna(subset=["ratio_low", "ratio_high"])
    for row in bars.itertuples(index=False):  # each row's interval over replicates
        ax.plot([row.ratio_low, row.ratio_high], [row.y, row.y], lw=2.2, alpha=0.55,
                color=VERDICT_COLOURS.get(row.verdict, "k"), solid_capstyle="butt", zorder=2)
    for (verdict, sense), group in points.groupby(["verdict", "sense"], sort=True):
        colour = VERDICT_COLOURS.get(verdict, "k")
        marker = MARKERS.get(sense, "D")
        has = group["ratio"].notna()
        ax.scatter(group.loc[has, "ratio"], group.loc[has, "y"], color=colour, marker=marker,
                   s=36, zorder=3)
        ax.scatter(np.full(int((~has).sum()), edge), group.loc[~has, "y"],
                   facecolors="none", edgecolors=colour, marker=marker, s=36, zorder=3)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ax.set_yticks(points["y"], points["claim_id"], fontsize=7)
    ax.set_ylim(-0.7, len(points) - 0.3)
    # sections: a line above each group and its name at the right
    for section, group in points.groupby("section", sort=False):
        top = float(group["y"].max())
        ax.axhline(top + 0.5, color="0.6", lw=0.6)
        ax.text(1.01, top, section, ha="left", va="center", fontsize=7, color="0.3",
                transform=ax.get_yaxis_transform())
    for verdict, colour in VERDICT_COLOURS.items():
        ax.scatter([], [], color=colour, marker="s", label=verdict)
    for sense, marker in (("<=: passes left of 1", "<"), (">=: passes right of 1", ">"),
                          ("band around the prediction", "o")):
        ax.scatter([], [], color="k", marker=marker, label=sense)
    # below the axes: inside, it would hide the last rows
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.45 / (height - 1.35)), fontsize=7,
              ncols=4)
    ax.set_xlabel("estimate / threshold (band rows: / predicted value), bar: 95% interval over "
                  "replicates; hollow, left: none", labelpad=2)
    ax.set_title("Claims ledger: each row against its threshold")
    ax.grid(axis="y", visible=False)
    return fig
