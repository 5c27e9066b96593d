"""Shared figure style. Figures are built from tables only, with a fixed backend and style so
the same table gives the same bytes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

STYLE = {
    "figure.dpi": 100,
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 8,
    "svg.hashsalt": "ols-transformer",
    "path.simplify": False,
}
plt.rcParams.update(STYLE)


def new_figure(ncols: int = 1, width: float = 4.5, height: float = 3.4) -> tuple[Figure, list]:
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False,
                             layout="constrained")
    return fig, list(axes[0])
