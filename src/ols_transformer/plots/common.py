"""Shared figure style. Figures are built from tables only, as matplotlib ``Figure`` objects
(no pyplot, no backend, no global state), in one style applied while they are drawn and saved,
so the same table gives the same bytes."""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..io import atomic_path

STYLE = {
    "figure.dpi": 100,
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 8,
    "svg.hashsalt": "ols-transformer",
    "path.simplify": False,
}

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def styled() -> Iterator[None]:
    """Matplotlib's settings set to STYLE inside the block, restored after it."""
    with matplotlib.rc_context(STYLE):
        yield


def plot(function: Callable[P, R]) -> Callable[P, R]:
    """Decorator for every plot function: build its figure in the shared style."""
    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with styled():
            return function(*args, **kwargs)
    return wrapper


def new_figure(ncols: int = 1, width: float = 4.5, height: float = 3.4
               ) -> tuple[Figure, list[Axes]]:
    """A figure with one row of ``ncols`` panels, constrained layout."""
    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)
    return fig, list(axes[0])


def to_png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (for notebooks), in the shared style, without metadata."""
    buffer = io.BytesIO()
    with styled():
        fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def save_figure(fig: Figure, pdf_path: str | os.PathLike[str],
                png_path: str | os.PathLike[str]) -> None:
    """Save a figure as PDF and PNG without timestamps (identical bytes run after run),
    atomically, in the shared style."""
    with styled():
        with atomic_path(pdf_path) as tmp:
            fig.savefig(tmp, format="pdf", metadata={"CreationDate": None, "ModDate": None})
        with atomic_path(png_path) as tmp:
            fig.savefig(tmp, format="png", dpi=150, metadata={"Software": None})
