"""Slow and fast memory under covariance shift (paper Section 3, eq. 10): the populations, the
shift families and the theory, in float64 numpy. The model itself, construction.py's
OLS-Transformer, is run by experiments/shift.py.

Train set (X, y), n rows; in-context set (X', y'), m rows; same beta:
    y = X beta + eps,   y' = X' beta + eps'.
Sigma = X^T X / n is the *uncentred* empirical second moment (the paper's "covariance"), so a
mean shift mu changes it: E[x x^T] = C + mu mu^T, with C the centred covariance.

Slow memory: W with W W^T = Sigma_tr^{-1}, fixed after training. Fast memory: the attention
scores (1/m) (X' W)(X' W)^T built from the context. The OLS-Transformer predicts in context

    y_hat' = (1/m) X' Sigma_tr^{-1} X'^T y'
           = X' Sigma_tr^{-1} Sigma_te beta + (1/m) X' Sigma_tr^{-1} X'^T eps'      (eq. 10)

with Sigma_te = X'^T X' / m the context's empirical second moment; then eq. 10 is an identity.
With the population matrices, Sigma_tr^{-1} Sigma_te -> D = S_tr^{-1} S_te up to sampling error
O(1/sqrt(m) + 1/sqrt(n)): D is the *predicted* distortion of the slow x fast product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

FAMILIES = ("isotropic_scale", "anisotropic", "rotation", "mean_shift")

# What the magnitude of each family means (axis labels, captions).
FAMILY_MAGNITUDE = {
    "isotropic_scale": "variance factor c (S_te = c S_tr)",
    "anisotropic": "log2 stretch of the eigenvalue spread",
    "rotation": "rotation angle of the eigenbasis (degrees)",
    "mean_shift": "Mahalanobis norm of the mean shift",
}

# Magnitude at which each family is no shift at all (S_te = S_tr).
NO_SHIFT = {"isotropic_scale": 1.0, "anisotropic": 0.0, "rotation": 0.0, "mean_shift": 0.0}
# The icl stage tests the same families plus a task shift, w ~ N(0, c^2 I) (no shift at c = 1).
TASK_SCALE = "task_scale"
ICL_NO_SHIFT = {**NO_SHIFT, TASK_SCALE: 1.0}  # family -> its magnitude without shift


@dataclass(frozen=True)
class Population:
    """A Gaussian input distribution x ~ N(mean, cov); cov is the centred covariance."""

    mean: np.ndarray
    cov: np.ndarray

    @property
    def second_moment(self) -> np.ndarray:
        """E[x x^T] = C + mu mu^T: what Sigma = X^T X / m estimates (no centring in the paper)."""
        return self.cov + np.outer(self.mean, self.mean)


@dataclass(frozen=True)
class BaseStructure:
    """Training distribution N(0, Q diag(eigenvalues) Q^T) and the fixed mean-shift direction."""

    eigenvalues: np.ndarray  # descending
    basis: np.ndarray  # orthonormal columns, eigenvectors of S_tr
    direction: np.ndarray  # unit vector, whitened direction of the mean shift

    @property
    def cov(self) -> np.ndarray:
        """The training covariance S_tr = Q diag(eigenvalues) Q^T, (p, p)."""
        return (self.basis * self.eigenvalues) @ self.basis.T

    @property
    def population(self) -> Population:
        """The training population: mean zeros (p,), covariance ``cov`` (p, p)."""
        return Population(mean=np.zeros(len(self.eigenvalues)), cov=self.cov)


def random_orthogonal(p: int, rng: np.random.Generator) -> np.ndarray:
    """Haar-random orthogonal matrix (QR of a Gaussian with the sign of diag(R) fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((p, p)))
    return q * np.sign(np.diag(r))


def base_structure(p: int, condition_number: float, rng: np.random.Generator) -> BaseStructure:
    """Eigenvalues from 1 down to 1/condition_number (geometric), random basis and direction."""
    if p < 1:
        raise ValueError(f"p={p}: need at least one regressor")
    eigenvalues = np.geomspace(1.0, 1.0 / condition_number, p)
    basis = random_orthogonal(p, rng)
    direction = rng.standard_normal(p)
    return BaseStructure(eigenvalues, basis, direction / np.linalg.norm(direction))


def sym_sqrt(S: np.ndarray) -> np.ndarray:
    """Symmetric PSD square root (eigenvalues clipped at 0 against rounding)."""
    vals, vecs = np.linalg.eigh(S)
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def pair_rotation(p: int, degrees: float) -> np.ndarray:
    """Rotate eigenvector pairs (0, p-1), (1, p-2), ... by the same angle.

    Pairing the largest with the smallest eigenvalue makes 90 degrees the largest shift (it
    swaps them); with odd p the middle eigenvector stays put.
    """
    R = np.eye(p)
    theta = np.deg2rad(degrees)
    c, s = np.cos(theta), np.sin(theta)
    for i in range(p // 2):
        j = p - 1 - i
        R[i, i], R[i, j], R[j, i], R[j, j] = c, -s, s, c
    return R


def shifted_population(family: str, magnitude: float, base: BaseStructure) -> Population:
    """The context (test) distribution for one shift family and magnitude.

    isotropic_scale: C = c S_tr (c = magnitude > 0).
    anisotropic:     eigenvalue i times 2^(t z_i), z from +1/2 to -1/2: the condition number
                     grows by 2^t and the determinant is unchanged (no isotropic part).
    rotation:        eigenbasis Q -> Q R(theta), see :func:`pair_rotation`.
    mean_shift:      mean mu = t S_tr^{1/2} u (Mahalanobis norm t), C = S_tr, so the uncentred
                     second moment is S_tr + mu mu^T.
    """
    p = len(base.eigenvalues)
    zero = np.zeros(p)
    if family == "isotropic_scale":
        if magnitude <= 0:
            raise ValueError(f"isotropic_scale magnitude {magnitude}: variance factor must be > 0")
        return Population(zero, magnitude * base.cov)
    if family == "anisotropic":
        contrast = np.linspace(0.5, -0.5, p) if p > 1 else np.zeros(1)
        eigenvalues = base.eigenvalues * 2.0 ** (magnitude * contrast)
        return Population(zero, (base.basis * eigenvalues) @ base.basis.T)
    if family == "rotation":
        rotated = base.basis @ pair_rotation(p, magnitude)
        return Population(zero, (rotated * base.eigenvalues) @ rotated.T)
    if family == "mean_shift":
        mean = magnitude * (sym_sqrt(base.cov) @ base.direction)
        return Population(mean, base.cov)
    raise ValueError(f"unknown shift family {family!r}; known: {', '.join(FAMILIES)}")


def sample(population: Population, standard_normal: np.ndarray) -> np.ndarray:
    """Rows x = mu + C^{1/2} z from standard normal rows z (common random numbers across
    families: the same z give every family's context, so curves differ by the shift only)."""
    return population.mean + standard_normal @ sym_sqrt(population.cov)


def second_moment(X: np.ndarray) -> np.ndarray:
    """Sigma = X^T X / rows, uncentred, as in the paper. Shape: (m, p) -> (p, p)."""
    return X.T @ X / X.shape[0]


def eq10_terms(
    context: np.ndarray, beta: np.ndarray, noise: np.ndarray, sigma_tr: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The two terms of eq. 10, with Sigma_te = X'^T X' / m:
    X' Sigma_tr^{-1} Sigma_te beta  and  (1/m) X' Sigma_tr^{-1} X'^T eps'."""
    m = context.shape[0]
    signal = context @ np.linalg.solve(sigma_tr, second_moment(context) @ beta)
    noise_term = context @ np.linalg.solve(sigma_tr, context.T @ noise) / m
    return signal, noise_term


def noise_term_rms(context: np.ndarray, sigma_tr: np.ndarray, noise_sigma: float) -> float:
    """Expected norm of eq. 10's noise term: sigma ||(1/m) X' Sigma_tr^{-1} X'^T||_F."""
    m = context.shape[0]
    operator = context @ np.linalg.solve(sigma_tr, context.T) / m
    return float(noise_sigma * np.linalg.norm(operator))


def distortion(sigma_tr: np.ndarray, sigma_te: np.ndarray) -> np.ndarray:
    """Sigma_tr^{-1} Sigma_te: the linear map eq. 10 applies to beta (identity when equal)."""
    return np.linalg.solve(sigma_tr, sigma_te)


def distortion_norm(operator: np.ndarray) -> float:
    """||operator - I||_F: 0 when the slow memory matches the context."""
    return float(np.linalg.norm(operator - np.eye(operator.shape[0])))


def effective_beta(context: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Regress predictions on X': the coefficient vector the model effectively uses."""
    return np.linalg.lstsq(context, predictions, rcond=None)[0]


def ols_relative_rmse_theory(
    noise_sigma: float, n: int, s_tr: np.ndarray, s_te: np.ndarray, beta: np.ndarray
) -> float:
    """Static OLS at test inputs:
    E (x'^T (beta_hat - beta))^2 = sigma^2 tr(S_tr^{-1} S_te) / (n-p-1)
    (exact for Gaussian train rows: E (X^T X)^{-1} = S_tr^{-1} / (n-p-1)), relative to the signal
    beta^T S_te beta. Not distorted: O(1/n) for any shift."""
    p = len(beta)
    if n <= p + 1:
        raise ValueError(f"n={n} must exceed p + 1 = {p + 1} for E (X^T X)^-1 to exist")
    variance = noise_sigma**2 * np.trace(np.linalg.solve(s_tr, s_te)) / (n - p - 1)
    return float(np.sqrt(variance / (beta @ s_te @ beta)))


def transformer_relative_rmse_theory(
    s_tr: np.ndarray, s_te: np.ndarray, beta: np.ndarray
) -> float:
    """Population eq. 10: relative error of X' D beta against X' beta, D = S_tr^{-1} S_te."""
    gap = (distortion(s_tr, s_te) - np.eye(len(beta))) @ beta
    return float(np.sqrt((gap @ s_te @ gap) / (beta @ s_te @ beta)))


def no_shift_sampling_rmse(p: int, m: int, n: int, noise_sigma: float, signal: float) -> float:
    """Relative RMS distance between the OLS-Transformer and static OLS when S_te = S_tr.

    Gaussian inputs x ~ N(0, S), signal = beta^T S beta, queries = the context (in-sample);
    in whitened coordinates (S = I), with the two sources independent:
    - context (Isserlis, the j = i token included): ((m-1)(p+1) + p^2 + 4p + 5) / m^2 for the
      signal and sigma^2 p (m + p + 1) / m^2 for eps';
    - slow memory Sigma_tr^{-1} (inverse Wishart, exact): E[V^-2] - 2 E[V^-1] + 1 with
      E[V^-1] = n / (n-p-1), E[V^-2] = n^2 (n-1) / ((n-p)(n-p-1)(n-p-3));
    - static OLS: sigma^2 p / (n - p - 1).
    Leading order: (1/m + 1/n)(p + 1 + p sigma^2 / signal). Cross terms O(1/(mn)) are left out.
    """
    if n <= p + 3:
        raise ValueError(f"n={n} must exceed p + 3 = {p + 3} for the inverse-Wishart moments")
    context = ((m - 1) * (p + 1) + p**2 + 4 * p + 5) / m**2
    context_noise = noise_sigma**2 * p * (m + p + 1) / m**2 / signal
    inv1 = n / (n - p - 1)
    inv2 = n**2 * (n - 1) / ((n - p) * (n - p - 1) * (n - p - 3))
    slow_memory = inv2 - 2 * inv1 + 1
    ols = noise_sigma**2 * p / (n - p - 1) / signal
    return float(np.sqrt(context + context_noise + slow_memory + ols))


def relative_error(prediction: np.ndarray, target: np.ndarray) -> float:
    """||prediction - target|| / ||target|| (Frobenius norm), for arrays of one shape."""
    return float(np.linalg.norm(prediction - target) / np.linalg.norm(target))


GROWTH_COLUMNS = ["model", "depth", "family", "magnitude", "growth"]


def error_growth(shift: pd.DataFrame) -> pd.DataFrame:
    """icl_growth: error growth under shift, relative error / at no shift (means over seeds),
    per (model, depth, family, magnitude), from icl_shift's rows (columns model, depth, family,
    magnitude, no_shift, relerr). Models and families in the order they first appear, magnitudes
    sorted; a family without its no-shift rows is left out. The icl checks judge it and the icl
    figures draw it."""
    tables = []
    for (model, depth), rows in shift.groupby(["model", "depth"], sort=False):
        mean = rows.groupby(["family", "magnitude"], sort=True)["relerr"].mean()
        no_shift = rows["no_shift"].astype(str).str.lower().isin({"true", "1", "1.0"})
        still = rows[no_shift].groupby("family")["relerr"].mean()
        for family in dict.fromkeys(rows["family"]):
            if family in still.index:
                ratio = (mean.loc[family] / still[family])
                tables.append(pd.DataFrame({"model": model, "depth": int(depth), "family": family,
                                            "magnitude": ratio.index, "growth": ratio.to_numpy()}))
    return (pd.concat(tables, ignore_index=True) if tables
            else pd.DataFrame(columns=GROWTH_COLUMNS))
