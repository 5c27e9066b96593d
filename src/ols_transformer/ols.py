"""Ordinary least squares by three routes, and a high-precision reference.

- ``qr``: Householder QR of X (error ~ cond(X) * eps on the fitted values);
- ``normal_equations``: solves (X^T X) beta = X^T y (error ~ cond(X)^2 * eps), the same
  covariance route the OLS-Transformer takes;
- ``reference_ols``: the normal equations in mpmath at many digits, exact enough to serve as
  the truth for float64 and float32 inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np


class RankDeficientError(ValueError):
    """X does not have full column rank (or is numerically singular in the working dtype)."""


class IllConditionedError(RankDeficientError):
    """X has full numerical column rank, but a route cannot resolve it in its dtype (the
    covariance route when cond(X)^2 reaches ~1 / (p eps)). A subclass of RankDeficientError
    so that every caller that records a refused design records this one too; its message
    gives X's singular values and says X is not rank deficient."""


def check_design(X: np.ndarray, y: np.ndarray | None = None) -> None:
    """Refuse inputs for which OLS is undefined, with a message that names the problem."""
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D matrix, got shape {X.shape}")
    n, p = X.shape
    if p > n:
        raise RankDeficientError(
            f"X has p={p} columns but only n={n} rows: OLS needs n >= p (add rows or drop columns)"
        )
    if not np.all(np.isfinite(X)):
        raise ValueError(f"X contains {int(np.sum(~np.isfinite(X)))} NaN or infinite entries")
    if y is not None:
        if y.shape[0] != n:
            raise ValueError(f"y has {y.shape[0]} entries but X has {n} rows")
        if not np.all(np.isfinite(y)):
            raise ValueError(f"y contains {int(np.sum(~np.isfinite(y)))} NaN or infinite entries")
    singular_values = np.linalg.svd(X, compute_uv=False)
    tol = max(n, p) * np.finfo(X.dtype).eps * singular_values[0]
    rank = int(np.sum(singular_values > tol))
    if rank < p:
        raise RankDeficientError(
            f"X (n={n}, p={p}) has numerical rank {rank} < p (smallest singular value "
            f"{singular_values[-1]:.3g}, tolerance {tol:.3g}): (X^T X)^-1 does not exist. "
            "Drop collinear columns, or use a pseudo-inverse method, which the OLS-Transformer "
            "construction does not cover."
        )


def ols_qr(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(beta_hat, y_hat) by Householder QR, in the dtype of X."""
    Q, R = np.linalg.qr(X, mode="reduced")
    beta = np.linalg.solve(R, Q.T @ y)
    return beta, X @ beta


def ols_normal_equations(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(beta_hat, y_hat) from the normal equations, in the dtype of X."""
    beta = np.linalg.solve(X.T @ X, X.T @ y)
    return beta, X @ beta


def hat_matrix(X: np.ndarray) -> np.ndarray:
    """H = X (X^T X)^{-1} X^T = Q Q^T, computed through QR (the accurate route)."""
    Q, _ = np.linalg.qr(X, mode="reduced")
    return Q @ Q.T


def reference_ols(
    X: np.ndarray, y: np.ndarray, digits: int = 40
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(beta_hat, y_hat, Sigma^{-1}) of the exact inputs, computed with ``digits`` digits.

    Float inputs convert to mpmath exactly, so the only error is the mpmath rounding,
    ~cond(X)^2 * 10^-digits: far below float64's eps for any cond this pipeline uses.
    """
    n, p = X.shape
    with mpmath.workdps(digits):
        cols = [[mpmath.mpf(float(v)) for v in X[:, j]] for j in range(p)]
        ys = [mpmath.mpf(float(v)) for v in y]
        gram = mpmath.matrix(p, p)
        for i in range(p):
            for j in range(i, p):
                gram[i, j] = gram[j, i] = mpmath.fdot(cols[i], cols[j])
        xty = mpmath.matrix([mpmath.fdot(cols[j], ys) for j in range(p)])
        beta = mpmath.lu_solve(gram, xty)
        fitted = [mpmath.fdot([cols[j][i] for j in range(p)], beta) for i in range(n)]
        sigma_inv = mpmath.inverse(gram / n)
        return (
            np.array([float(b) for b in beta]),
            np.array([float(v) for v in fitted]),
            np.array([[float(sigma_inv[i, j]) for j in range(p)] for i in range(p)]),
        )


# ---- the floating-point error law of the covariance route -----------------------------------

def rounding_bound(n: Any, p: Any, cond: Any, u: Any, a: float = 1.0, b: float = 1.0) -> Any:
    """The error law of a route through Sigma = X^T X / n, relative to the result:
    u (a sqrt(n) p + b cond(X)^2). The first term is the rounding of sums of n terms in p
    dimensions (random rounding grows like sqrt(n); Higham & Mary 2019), the second the
    perturbation of Sigma amplified by cond(Sigma) = cond(X)^2; a and b are of order 1.
    Elementwise over numpy arrays or pandas Series (n, p, cond, u broadcast)."""
    return u * (a * np.sqrt(n) * p + b * cond**2)


def fit_rounding_law(n: Any, p: Any, cond: Any, u: Any, err: Any) -> tuple[float, float]:
    """The smallest order-1 constants (a, b) of ``rounding_bound`` that cover every error:
    b from the cases where cond^2 dominates (cond^2 > 10 sqrt(n) p), the largest err / (u
    cond^2); then a the largest (err / u - b cond^2) / (sqrt(n) p) over every case (at least
    0). NaN errors are left out; an infinite one makes the constants infinite. Shapes: all
    (k,) or scalars."""
    n, p, cond, u, err = (np.asarray(v, dtype=float) for v in (n, p, cond, u, err))
    n, p, cond, u, err = np.broadcast_arrays(n, p, cond, u, err)
    if np.isinf(err).any():
        return math.inf, math.inf
    keep = np.isfinite(err)
    n, p, cond, u, err = n[keep], p[keep], cond[keep], u[keep], err[keep]
    if not len(err):
        return math.nan, math.nan
    size, amplified = np.sqrt(n) * p, cond**2
    dominated = amplified > 10 * size
    b = float(np.max(err[dominated] / (u[dominated] * amplified[dominated]))) \
        if dominated.any() else 0.0
    a = float(max(0.0, np.max((err / u - b * amplified) / size)))
    return a, b


# ---- a line fit, for growth laws and trends (checks and experiments) -------------------------

@dataclass(frozen=True)
class Fit:
    """Least-squares line y = slope x + intercept over the points kept."""

    slope: float
    intercept: float
    r2: float
    used: int
    dropped: int  # points left out: non-finite, or not positive where logs are taken

    @property
    def note(self) -> str:
        """'<used> points[, <dropped> dropped]', for a detail text."""
        return f"{self.used} points" + (f", {self.dropped} dropped" if self.dropped else "")


def fit_line(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray,
             log_x: bool = False, log_y: bool = False) -> Fit:
    """Least-squares line of y on x (natural logs where asked), counting the points it cannot
    use (non-finite, or not positive where a log is taken); NaN slope with fewer than two
    distinct x. Shapes: x, y (n,) (a pandas Series is taken as its values)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    if log_x:
        keep &= x > 0
    if log_y:
        keep &= y > 0
    fx = np.log(x[keep]) if log_x else x[keep]
    fy = np.log(y[keep]) if log_y else y[keep]
    dropped = int(len(x) - keep.sum())
    if len(np.unique(fx)) < 2:
        return Fit(math.nan, math.nan, math.nan, int(keep.sum()), dropped)
    design = np.column_stack([fx, np.ones_like(fx)])
    (slope, intercept), *_ = np.linalg.lstsq(design, fy, rcond=None)
    resid = fy - (slope * fx + intercept)
    total = float(((fy - fy.mean()) ** 2).sum())
    r2 = 1.0 - float((resid**2).sum()) / total if total > 0 else math.nan
    return Fit(float(slope), float(intercept), r2, int(keep.sum()), dropped)
