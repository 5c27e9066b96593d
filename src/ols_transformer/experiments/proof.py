"""Analytical proof check: every step of the OLS-Transformer construction, measured.

For each data case (n, p, cond) and dtype, the transformer's forward pass, its in-context form,
the normal equations and QR least squares are compared with a high-precision reference OLS of
the same (dtype-rounded) inputs. The proof's intermediate identities are checked too:
W W^T = Sigma^{-1}, beta_hat = W c, attention scores = hat matrix. So is Sec. 2.1's length
invariance (the 1/n factor): with every context pair duplicated, each form's prediction is
compared with the same model's prediction on the context as given (quantity
``DUPLICATED``). Where the construction refuses (Sigma singular in the dtype), the row stays,
with NaN errors and the reason. A case's further draws (``data.replicates``) measure the
float64 predictions only: what the error-growth slopes, judged on their interval over draws,
are fitted on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import mpmath
import numpy as np
import pandas as pd
import torch

from ..construction import coordinates, in_context_predict, ols_transformer, spectral_whitener
from ..ols import (
    RankDeficientError,
    check_design,
    hat_matrix,
    ols_normal_equations,
    ols_qr,
    reference_ols,
    rounding_bound,
)
from ..progress import Report, tracked

DTYPES = {"float32": (np.float32, torch.float32), "float64": (np.float64, torch.float64)}
# Routes through Sigma = X^T X / n square the condition number; QR does not.
SCALING = {"transformer": 2, "transformer_in_context": 2, "normal_equations": 2, "qr_lstsq": 1}
# The proof's intermediate identities all go through Sigma as well.
IDENTITY_SCALING = 2
PREDICTION = "prediction"
# Sec. 2.1: the 1/n factor makes the attention invariant to the sequence length.
DUPLICATED = "duplicated context"
# The construction run in mpmath (``exact_rows``): its dtype label is EXACT + the digits.
EXACT = "mpmath"


def relative_error(value: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """(max abs error, max abs error / max |reference|)."""
    abs_err = float(np.max(np.abs(np.asarray(value, dtype=np.float64) - reference)))
    return abs_err, abs_err / float(np.max(np.abs(reference)))


def _predictions(X: np.ndarray, y: np.ndarray, torch_dtype: torch.dtype) -> dict[str, Callable]:
    Xt, yt = torch.from_numpy(X).to(torch_dtype), torch.from_numpy(y).to(torch_dtype)

    def transformer() -> np.ndarray:
        with torch.no_grad():
            return ols_transformer(Xt, yt)(Xt).reshape(-1).numpy()

    def transformer_in_context() -> np.ndarray:
        return in_context_predict(spectral_whitener(Xt), Xt, yt, Xt).numpy()

    return {
        "transformer": transformer,
        "transformer_in_context": transformer_in_context,
        "normal_equations": lambda: ols_normal_equations(X, y)[1],
        "qr_lstsq": lambda: ols_qr(X, y)[1],
    }


def _duplicated_context(X: np.ndarray, y: np.ndarray, torch_dtype: torch.dtype
                        ) -> dict[str, tuple[Callable[[], np.ndarray], Callable[[], np.ndarray]]]:
    """Sec. 2.1's length invariance: method -> (prediction with every context pair duplicated,
    the same model's prediction on the context as given). The weights (the slow memory W and,
    for eq. 8, W_O = c) are those of (X, y) in both; only the context the attention sums over
    doubles, so with the 1/n factor the two differ by rounding alone."""
    Xt, yt = torch.from_numpy(X).to(torch_dtype), torch.from_numpy(y).to(torch_dtype)
    X2, y2 = torch.cat([Xt, Xt]), torch.cat([yt, yt])

    @torch.no_grad()
    def homogeneous(context: torch.Tensor) -> np.ndarray:
        return ols_transformer(Xt, yt)(Xt, context).reshape(-1).numpy()

    def in_context(context: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
        return in_context_predict(spectral_whitener(Xt), context, labels, Xt).numpy()

    return {
        "transformer": (lambda: homogeneous(X2), lambda: homogeneous(Xt)),
        "transformer_in_context": (lambda: in_context(X2, y2), lambda: in_context(Xt, yt)),
    }


def _identity_steps(X: np.ndarray, y: np.ndarray, torch_dtype: torch.dtype,
                    beta_ref: np.ndarray, sigma_inv_ref: np.ndarray
                    ) -> dict[str, tuple[Callable[[], np.ndarray], np.ndarray, str]]:
    """The proof's steps: quantity -> (compute, reference, reference name)."""
    Xt, yt = torch.from_numpy(X).to(torch_dtype), torch.from_numpy(y).to(torch_dtype)

    @torch.no_grad()
    def wwt() -> np.ndarray:
        W = spectral_whitener(Xt)
        return (W @ W.T).numpy()

    @torch.no_grad()
    def beta() -> np.ndarray:
        W = spectral_whitener(Xt)
        return (W @ coordinates(W, Xt, yt)).numpy()

    @torch.no_grad()
    def scores() -> np.ndarray:
        return ols_transformer(Xt, yt).attention_scores(Xt, Xt).numpy()

    return {
        "W W^T = Sigma^-1": (wwt, sigma_inv_ref, "mpmath"),
        "beta_hat = W c": (beta, beta_ref, "mpmath"),
        "scores = hat matrix": (scores, hat_matrix(X.astype(np.float64)), "float64 QR"),
    }


def check_case(
    case: str, X: np.ndarray, y: np.ndarray, dtype: str, digits: int, cond_target: float,
    replicate: int = 0,
) -> list[dict[str, Any]]:
    """Rows for one case and dtype: every prediction route and proof step, each with its error
    or, where the construction refuses (Sigma singular in this dtype), the reason. Another
    draw of a case (``replicate`` > 0) measures the predictions only: the error-growth slopes
    are judged on their interval over draws; the steps and the length invariance on draw 0.

    ``cond`` is the case's target condition number (what cases are grouped by); the bound uses
    ``cond_measured``, cond(X) of the data set before rounding to dtype."""
    np_dtype, torch_dtype = DTYPES[dtype]
    s = np.linalg.svd(X, compute_uv=False)
    cond = float(s[0] / s[-1])
    X, y = X.astype(np_dtype), y.astype(np_dtype)
    n, p = X.shape
    eps = float(np.finfo(np_dtype).eps)
    beta_ref, fitted_ref, sigma_inv_ref = reference_ols(X, y, digits)
    base = {"case": case, "replicate": int(replicate), "n": n, "p": p,
            "cond": float(cond_target), "cond_measured": cond, "dtype": dtype}
    rows = []

    def add(method: str, quantity: str, compute: Callable[[], np.ndarray],
            ref: np.ndarray | Callable[[], np.ndarray], scaling: int, reference: str) -> None:
        row = {**base, "method": method, "quantity": quantity, "reference": reference}
        # Worst-case rounding constant (n p eps, inner products of length n in p dimensions)
        # times cond^k: k = 2 for routes through Sigma = X^T X / n, k = 1 for QR.
        bound = n * p * eps * cond**scaling
        try:
            abs_err, rel_err = relative_error(compute(), ref() if callable(ref) else ref)
            status = "ok" if np.isfinite(rel_err) else "non-finite"
        except (RankDeficientError, np.linalg.LinAlgError) as err:
            abs_err = rel_err = np.nan
            status = f"refused: {type(err).__name__}"
        rows.append({**row, "max_abs_err": abs_err, "max_rel_err": rel_err,
                     "expected_bound": bound, "within_bound": bool(rel_err <= bound),
                     "status": status})

    reference = f"mpmath {digits} digits"
    for method, compute in _predictions(X, y, torch_dtype).items():
        add(method, PREDICTION, compute, fitted_ref, SCALING[method], reference)
    if replicate:
        return rows
    for method, (doubled, given) in _duplicated_context(X, y, torch_dtype).items():
        add(method, DUPLICATED, doubled, given, SCALING[method],
            "same model, context as given")
    for quantity, (compute, ref, source) in _identity_steps(
            X, y, torch_dtype, beta_ref, sigma_inv_ref).items():
        add("transformer", quantity, compute, ref, IDENTITY_SCALING,
            reference if source == "mpmath" else source)
    return rows


def _mp(values: np.ndarray) -> np.ndarray:
    """A float array as an object array of mpf (exact: every float is an mpf)."""
    return np.vectorize(mpmath.mpf, otypes=[object])(np.asarray(values, dtype=np.float64))


def _mp_relative(value: np.ndarray, reference: np.ndarray) -> float:
    """max |value - reference| / max |reference|, computed in mpmath, as a float."""
    top = max(abs(r) for r in reference.ravel())
    return float(max(abs(v - r) for v, r in zip(value.ravel(), reference.ravel(),
                                                   strict=True)) / top)


def exact_rows(case: str, X: np.ndarray, y: np.ndarray, digits: int,
               cond_target: float) -> list[dict[str, Any]]:
    """The construction of Sec. 2.2 run in ``digits``-digit arithmetic on the exact float64
    inputs, against OLS by the normal equations solved in the same arithmetic (mpmath's LU):
    W = U Lambda^-1/2 from mpmath's symmetric eigensolver, c = W^T (1/n) X^T y, the eq.-8
    forward pass (1/n)(x W)(X W)^T (X W) c, the in-context form x W W^T (1/n) X^T y, and each
    with every context pair duplicated (n -> 2n; same W and c). An identity leaves only the
    rounding of ``digits`` digits (~cond(X)^2 10^-digits); a false one differs at O(1) or,
    were it exact only in float64, at ~1e-16. Shapes: X (n, p), y (n,)."""
    n, p = X.shape
    s = np.linalg.svd(X, compute_uv=False)
    base = {"case": case, "replicate": 0, "n": n, "p": p, "cond": float(cond_target),
            "cond_measured": float(s[0] / s[-1]), "dtype": f"{EXACT}{digits}",
            "reference": f"mpmath LU of the normal equations, {digits} digits"}
    with mpmath.workdps(digits):
        Xm, ym = _mp(X), _mp(y)
        gram = Xm.T @ Xm
        eigenvalues, U = mpmath.eigsy(mpmath.matrix((gram / n).tolist()))
        W = np.array(U.tolist(), dtype=object) * np.array(
            [1 / mpmath.sqrt(e) for e in eigenvalues], dtype=object)
        c = W.T @ (Xm.T @ ym / n)
        beta = mpmath.lu_solve(mpmath.matrix(gram.tolist()), mpmath.matrix((Xm.T @ ym).tolist()))
        fitted = Xm @ np.array([beta[i] for i in range(p)], dtype=object)
        doubled, y2 = np.concatenate([Xm, Xm]), np.concatenate([ym, ym])

        def eq8(context: np.ndarray) -> np.ndarray:
            tokens = context @ W  # keys = values = context W; the moment (1/n) K^T V first
            return (Xm @ W) @ ((tokens.T @ tokens) / len(context)) @ c

        def in_context(context: np.ndarray, labels: np.ndarray) -> np.ndarray:
            return Xm @ (W @ (W.T @ (context.T @ labels / len(context))))

        measured = {
            ("transformer", PREDICTION): (eq8(Xm), fitted),
            ("transformer_in_context", PREDICTION): (in_context(Xm, ym), fitted),
            ("transformer", DUPLICATED): (eq8(doubled), eq8(Xm)),
            ("transformer_in_context", DUPLICATED): (in_context(doubled, y2),
                                                     in_context(Xm, ym)),
        }
        rows = []
        for (method, quantity), (value, reference) in measured.items():
            rel = _mp_relative(value, reference)
            rows.append({**base, "method": method, "quantity": quantity,
                         "max_abs_err": rel * float(max(abs(r) for r in reference)),
                         "max_rel_err": rel,
                         "expected_bound": float(rounding_bound(n, p, base["cond_measured"],
                                                                0.5 * 10.0 ** (1 - digits))),
                         "within_bound": True, "status": "ok"})
    for row in rows:
        row["within_bound"] = bool(row["max_rel_err"] <= row["expected_bound"])
    return rows


def run(cfg: Mapping[str, Any], cases: Mapping[str, Mapping[str, np.ndarray]],
        progress: Report | None = None) -> pd.DataFrame:
    """One row per (case, dtype, method, quantity); see module docstring. ``progress`` gets a
    line with the time left after each case (``progress.tracked``)."""
    for name, case in cases.items():
        try:
            check_design(case["X"], case["y"])
        except ValueError as err:  # RankDeficientError included
            raise ValueError(f"data case {name}: {err}") from err
    rows = [
        row
        for name in tracked(list(cases), "data cases", progress)
        for dtype in _dtypes(cfg["dtypes"], int(cases[name].get("replicate", 0)))
        for row in check_case(name, cases[name]["X"], cases[name]["y"], dtype,
                              cfg["reference_digits"], float(cases[name]["cond"]),
                              int(cases[name].get("replicate", 0)))
    ]
    # The exact identities on the small cases (draw 0, n <= exact_max_n): cheap in mpmath.
    rows += [row for name, case in cases.items()
             if not int(case.get("replicate", 0)) and case["X"].shape[0] <= cfg["exact_max_n"]
             for row in exact_rows(name, case["X"], case["y"], cfg["reference_digits"],
                                   float(case["cond"]))]
    return pd.DataFrame(rows)


def _dtypes(dtypes: list[str], replicate: int) -> list[str]:
    """Draw 0: every dtype; another draw: float64 alone (where the slopes are fitted), or the
    first dtype of a config without it."""
    if not replicate:
        return list(dtypes)
    return ["float64"] if "float64" in dtypes else list(dtypes[:1])
