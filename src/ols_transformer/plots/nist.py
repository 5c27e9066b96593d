"""Digits (LRE) of the fitted values per NIST StRD dataset and route."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..nist import digits_by_route
from .common import new_figure, plot

F64_ROUTES = ("transformer_eigh", "transformer_eigh_scaled", "transformer_svd",
              "transformer_svd_scaled", "qr")
F32_ROUTES = tuple(f"{r} (f32)" for r in F64_ROUTES[:4])
MARKERS = {"transformer_eigh": "o", "transformer_eigh_scaled": "s", "transformer_svd": "^",
           "transformer_svd_scaled": "D", "qr": "v"}
FLOAT64_LIMIT = -np.log10(np.finfo(np.float64).eps)  # 15.65 digits
FLOAT32_LIMIT = -np.log10(np.finfo(np.float32).eps)  # 6.92


@plot
def plot_lre(table: pd.DataFrame) -> Figure:
    """Two panels (float64, float32 routes): digits of the fitted values per dataset, in NIST's
    order of difficulty, per route; lstsq's digits (float64) as a line, the dtype's limit
    -log10 eps dashed; a refused route is an x at 0."""
    wide = digits_by_route(table)
    status = table.assign(label=table["route"] + np.where(table["dtype"] == "float32", " (f32)",
                                                          "")).pivot_table(
        index="dataset", columns="label", values="status", aggfunc="first", sort=False
    ).reindex(wide.index)
    difficulty = table.drop_duplicates("dataset").set_index("dataset")["difficulty"]
    x = np.arange(len(wide))
    panels = [("float64", F64_ROUTES, FLOAT64_LIMIT)]
    if any(r in wide.columns for r in F32_ROUTES):
        panels.append(("float32", F32_ROUTES, FLOAT32_LIMIT))
    fig, axes = new_figure(len(panels), width=6.0, height=4.6)
    for ax, (dtype, routes, limit) in zip(axes, panels, strict=True):
        if "lstsq" in wide.columns:
            ax.plot(x, wide["lstsq"], "k-", lw=1.2, label="numpy lstsq (float64)", zorder=3)
        for i, route in enumerate(r for r in routes if r in wide.columns):
            base = route.removesuffix(" (f32)")
            offset = (i - 2) * 0.08  # side by side, so equal digits stay visible
            ax.plot(x + offset, wide[route], marker=MARKERS[base], ls="none", label=base)
            refused = status[route].fillna("").str.startswith("refused").to_numpy()
            ax.scatter(x[refused] + offset, np.zeros(refused.sum()), marker="x", color="k",
                       s=18, zorder=4, label="refused" if i == 0 else None)
        ax.axhline(limit, color="k", ls="--", lw=0.8, label=f"{dtype} limit -log10 eps")
        # upright: the boxes of slanted two-line labels overlap their neighbours'
        ax.set_xticks(x, [f"{d}\n{difficulty[d]}" for d in wide.index], rotation=90, fontsize=7)
        ax.set_ylim(-0.8, 16.5)
        ax.set_ylabel("digits of the fitted values (LRE)")
        ax.set_title(f"NIST StRD: {dtype} routes")
        # below the upright dataset names, inside the canvas
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.26), fontsize=6, ncol=4)
    return fig
