"""Error of each OLS route versus the condition number of X."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .common import new_figure, plot

MARKERS = {"transformer": "o", "transformer_in_context": "s", "normal_equations": "^",
           "qr_lstsq": "D"}


@plot
def plot_error_vs_condition(table: pd.DataFrame, rounding_constant: float | None = None
                            ) -> Figure:
    """One panel per dtype: max relative error of the prediction (worst over n, p) against
    cond(X), with eps*cond^2 (covariance route) and eps*cond (QR) for reference and, given
    ``rounding_constant`` c, the bound c cond^2 u the theorem is judged against (u = eps/2)."""
    # the floating-point cases only (the mpmath rows of the exact identities are ~1e-38)
    pred = table[(table["quantity"] == "prediction")
                 & table["dtype"].isin(["float64", "float32", "float16"])]
    dtypes = sorted(pred["dtype"].unique(), reverse=True)  # float64 first
    fig, axes = new_figure(len(dtypes))
    for ax, dtype in zip(axes, dtypes, strict=False):
        sub = pred[pred["dtype"] == dtype]
        for method, group in sub.groupby("method", sort=True):
            worst = group.groupby("cond")["max_rel_err"].max().dropna()
            ax.loglog(worst.index, worst.values, marker=MARKERS.get(method, "x"), ls="-",
                      label=method)
            refused = group[group["status"] != "ok"]["cond"].unique()
            if len(refused):
                ax.scatter(refused, np.ones_like(refused), marker="x", color="k", zorder=3,
                           label="refused (Sigma singular)" if method == "transformer" else None)
        cond = np.geomspace(sub["cond"].min(), sub["cond"].max(), 50)
        eps = float(np.finfo(dtype).eps)
        ax.loglog(cond, eps * cond**2, "k--", lw=0.8, label=r"$\epsilon\,\kappa^2$")
        ax.loglog(cond, eps * cond, "k:", lw=0.8, label=r"$\epsilon\,\kappa$")
        if rounding_constant is not None:
            ax.loglog(cond, rounding_constant * eps / 2 * cond**2, color="tab:red", lw=0.8,
                      label=rf"bound ${rounding_constant:g}\,\kappa^2 u$")
        ax.set_ylim(eps / 10, 10)
        ax.set_xlabel(r"condition number $\kappa(X)$")
        ax.set_ylabel("max relative error of prediction")
        ax.set_title(f"{dtype}: OLS-Transformer vs OLS routes")
        ax.legend(loc="upper left")
    return fig
