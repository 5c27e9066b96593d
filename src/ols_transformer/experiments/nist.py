"""The OLS-Transformer against NIST's certified regressions (StRD, 11 linear datasets).

For every dataset and route, the digits (LRE, ``nist.lre``) of the fitted values - the
transformer's output - and of the coefficients, the residual SD and R^2 the route's fit gives.
Routes:

- ``transformer_<whitening>[_scaled]`` in each dtype of the config: construction.py's forward
  pass (eq. 8, homogeneous input) with the slow memory W from the eigen-decomposition of Sigma
  (``eigh``: the OLS-Transformer as the paper writes it, forward in the default order) or from
  the SVD of X (``svd``: W = V diag(sqrt(n) / S), forward scores-first so that Sigma is never
  formed); ``_scaled``: the columns scaled to unit norm first, X D^-1 (a diagonal change of
  basis), undone in the coefficients, beta = D^-1 W c;
- ``qr``: ``ols.ols_qr`` (Householder QR), float64;
- ``lstsq``: numpy's ``lstsq`` (SVD, default rcond), float64: the routine every user has.

A route that refuses a design keeps its row: status ``refused: <error>`` and the reason (the
singular values and the rank tolerance) in ``refusal``, with NaN digits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from .. import nist
from ..construction import (
    Order,
    Whitening,
    cross_moment,
    forward,
    homogeneous_weights,
    spectral_whitener,
)
from ..ols import RankDeficientError, ols_qr

DTYPES = {"float32": (np.float32, torch.float32), "float64": (np.float64, torch.float64)}
# How fast each route's error grows with cond(X): through Sigma, cond^2; from X itself, cond.
COND_POWER = {"eigh": 2, "svd": 1, "qr": 1, "lstsq": 1}


@dataclass(frozen=True)
class Route:
    name: str  # transformer_eigh, transformer_svd_scaled, qr, lstsq, ...
    method: str  # transformer / qr / lstsq
    whitening: str  # eigh / svd for the transformer; the method otherwise
    scaled: bool
    dtype: str
    order: str  # the transformer's association order; "" otherwise


def routes(dtypes: list[str]) -> list[Route]:
    """Every transformer route in each dtype, then QR and lstsq in float64."""
    order: dict[str, Order] = {"eigh": "moment", "svd": "scores"}
    out = [Route(f"transformer_{w}{'_scaled' if s else ''}", "transformer", w, s, dtype,
                 order[w])
           for dtype in dtypes for w in ("eigh", "svd") for s in (False, True)]
    return out + [Route("qr", "qr", "qr", False, "float64", ""),
                  Route("lstsq", "lstsq", "lstsq", False, "float64", "")]


@torch.no_grad()
def transformer_fit(X: np.ndarray, y: np.ndarray, whitening: Whitening, scaled: bool,
                    order: Order) -> tuple[np.ndarray, np.ndarray]:
    """(beta_hat (p), fitted values (n)) of the OLS-Transformer in X's dtype: W from
    ``spectral_whitener``, eq. 8's weights, construction's forward pass on the rows of X.

    With ``scaled`` the transformer is built for X D^-1 (D the column norms) and beta = D^-1 W c.
    """
    Xt, yt = torch.from_numpy(X.copy()), torch.from_numpy(y.copy())
    scale = torch.linalg.vector_norm(Xt, dim=0) if scaled else None
    Xs = Xt / scale if scale is not None else Xt
    W = spectral_whitener(Xs, whitening=whitening)
    weights = homogeneous_weights(W, cross_moment(Xs, yt))
    fitted = forward(Xs, Xs, weights, order=order).reshape(-1)
    beta = (W @ weights.W_O).reshape(-1)  # beta_hat = W c (paper eq. 6), c = W_O
    if scale is not None:
        beta = beta / scale
    return beta.numpy(), fitted.numpy()


def fit(route: Route, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """(beta_hat, fitted values, note) of ``route`` on (X, y) rounded to its dtype."""
    np_dtype, _ = DTYPES[route.dtype]
    X, y = X.astype(np_dtype), y.astype(np_dtype)
    if route.method == "transformer":
        beta, fitted = transformer_fit(X, y, route.whitening, route.scaled, route.order)
        return beta, fitted, ""
    if route.method == "qr":
        beta, fitted = ols_qr(X, y)
        return beta, fitted, ""
    beta, _, rank, _ = np.linalg.lstsq(X, y, rcond=None)
    note = "" if rank == X.shape[1] else (
        f"lstsq truncated to rank {rank} of {X.shape[1]} (rcond = max(n, p) eps)")
    return beta, X @ beta, note


def score(route: Route, data: nist.Dataset, certified: nist.Certified) -> dict[str, Any]:
    """One table row: the route's digits on one dataset, or its refusal and why."""
    model = data.model
    cond_used = float(certified.cond_scaled if route.scaled else certified.cond)
    eps = float(np.finfo(DTYPES[route.dtype][0]).eps)
    k = COND_POWER[route.whitening]
    row: dict[str, Any] = {
        "dataset": model.name, "difficulty": model.difficulty, "n": model.n, "p": model.p,
        "intercept": model.intercept, "cond": float(certified.cond), "route": route.name,
        "method": route.method, "whitening": route.whitening, "scaled": route.scaled,
        "dtype": route.dtype, "order": route.order, "cond_used": cond_used,
        # The rounding law's digits (0 to 15): via Sigma (k = 2) the error law the proof stage
        # fits, u (sqrt(n) p + 2 cond^2); from X (k = 1) eps cond.
        "cond_power": k, "digits_law": nist.law_digits(model.n, model.p, cond_used, eps, k),
    }
    X, y = data.design(np.float64)
    try:
        beta, fitted, note = fit(route, X, y)
    except RankDeficientError as err:  # IllConditionedError included
        return {**row, "status": f"refused: {type(err).__name__}", "refusal": str(err),
                "note": "", "lre_fitted": math.nan, "lre_fitted_min": math.nan,
                "lre_coef": math.nan, "lre_residual_sd": math.nan, "lre_r_squared": math.nan}
    y_used = y.astype(DTYPES[route.dtype][0])
    residual_sd, r_squared = nist.residual_statistics(y_used, fitted, model.p, model.intercept)
    return {**row, "status": "ok", "refusal": "", "note": note,
            "lre_fitted": nist.lre_norm(fitted, certified.fitted),
            "lre_fitted_min": nist.lre_vector(fitted, certified.fitted),
            "lre_coef": nist.lre_vector(beta, certified.coefficients),
            "lre_residual_sd": nist.lre(residual_sd, certified.residual_sd),
            "lre_r_squared": nist.lre(r_squared, certified.r_squared)}


def run(cfg: Mapping[str, Any],
        datasets: Mapping[str, tuple[nist.Dataset, nist.Certified]]) -> pd.DataFrame:
    """One row per (dataset, route), datasets in the order given (NIST's, by difficulty, from
    ``nist.load_validated``: loaded, certified and checked against the published values)."""
    rows = [score(route, data, certified)
            for data, certified in datasets.values()
            for route in routes(list(cfg["dtypes"]))]
    return pd.DataFrame(rows)
