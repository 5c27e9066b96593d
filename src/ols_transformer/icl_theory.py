"""The theory of the icl stage: the tasks, the one-layer optimum Gamma*, closed-form excess
risks, eq. 10's population error, and the baselines a trained model is held against (in-context
OLS and ridge, preconditioned gradient descent as a polynomial in its step size).

Tasks: w ~ N(0, I_d) (or N(0, c^2 I) under task shift), x ~ N(0, Lambda), N context pairs and a
query, y = w^T x + eps, eps ~ N(0, sigma^2). Pure numpy, except ``wishart_moments`` (torch: it
is differentiated through in training).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from . import shift as sm
from .shift import relative_error

PGD_STEPS = np.linspace(0.001, 2.0, 2000)  # step sizes tried for the preconditioned-GD baseline


def eigenvalues(spec: Mapping[str, float], d: int) -> np.ndarray:
    """Lambda's diagonal: geometric from ``largest`` down to ``smallest``. Shape: (d,)."""
    return np.geomspace(float(spec["largest"]), float(spec["smallest"]), d)


def gamma_star(lam: np.ndarray, N: int, sigma: float) -> np.ndarray:
    """The one-layer optimum ((1 + 1/N) Lambda + (tr Lambda + sigma^2)/N I)^-1. (d,) -> (d, d)."""
    return np.diag(1.0 / ((1 + 1 / N) * lam + (lam.sum() + sigma**2) / N))


def gamma_excess_risk(gamma: np.ndarray, lam: np.ndarray, N: int, sigma: float) -> float:
    """E (x_q^T Gamma h - x_q^T w)^2 for y_hat = x_q^T Gamma h, h = X^T y / N, in closed form:
    tr(Lambda Gamma Lambda M Gamma^T) - 2 tr(Lambda Gamma Lambda) + tr Lambda, with
    E h h^T = Lambda M, M = (1 + 1/N) Lambda + (tr Lambda + sigma^2)/N I. Gamma (d, d)."""
    L = np.diag(lam)
    M = (1 + 1 / N) * L + (lam.sum() + sigma**2) / N * np.eye(len(lam))
    return float(np.trace(L @ gamma @ L @ M @ gamma.T) - 2 * np.trace(L @ gamma @ L) + lam.sum())


def ols_excess_risk(d: int, N: int, sigma: float) -> float:
    """In-context OLS: sigma^2 tr(Lambda E (X^T X)^-1) = sigma^2 d / (N - d - 1) (N > d + 1)."""
    return sigma**2 * d / (N - d - 1)


def relative_frobenius(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b||_F / ||b||_F (the package's one relative error, ``shift.relative_error``)."""
    return relative_error(np.asarray(a), np.asarray(b))


def eq10_relative_error(D: np.ndarray, s_te: np.ndarray) -> float:
    """Population relative error of x^T D w against x^T w, w ~ N(0, c^2 I), E x x^T = S_te:
    sqrt(tr((D - I)^T S_te (D - I)) / tr S_te) (eq. 10's first term, N -> infinity)."""
    gap = D - np.eye(len(D))
    return float(np.sqrt(np.trace(gap.T @ s_te @ gap) / np.trace(s_te)))


@dataclass(frozen=True)
class Tasks:
    """B regression tasks in tokens. Shape: X (B, N, d), y (B, N), xq (B, d), yq (B), w (B, d)."""

    X: np.ndarray
    y: np.ndarray
    xq: np.ndarray
    yq: np.ndarray
    w: np.ndarray
    task_scale: float = 1.0  # c of the task prior w ~ N(0, c^2 I) they were drawn from

    @property
    def truth(self) -> np.ndarray:
        """w^T x_q, the noise-free target. Shape: (B,)."""
        return np.einsum("bd,bd->b", self.xq, self.w)

    def context(self) -> torch.Tensor:
        """Context tokens (x_i, y_i). Shape: (B, N, d + 1)."""
        return torch.from_numpy(np.concatenate([self.X, self.y[..., None]], -1))

    def queries(self) -> torch.Tensor:
        """Query tokens (x_q, 0). Shape: (B, 1, d + 1)."""
        return torch.from_numpy(np.concatenate([self.xq, np.zeros_like(self.yq)[:, None]],
                                               -1)[:, None, :])


def draw_tasks(rng: np.random.Generator, lam: np.ndarray, N: int, sigma: float, count: int,
               population: sm.Population | None = None, task_scale: float = 1.0) -> Tasks:
    """``count`` tasks: w ~ N(0, task_scale^2 I), x ~ N(0, diag(lam)) or ``population`` (shared
    standard-normal draws: one rng gives every population the same z, as in ``shift.py``)."""
    d = len(lam)
    z = rng.standard_normal((count, N + 1, d))
    w = rng.standard_normal((count, d))
    eps = sigma * rng.standard_normal((count, N + 1))
    x = z * np.sqrt(lam) if population is None else sm.sample(population, z)
    w = task_scale * w
    y = np.einsum("bnd,bd->bn", x, w) + eps
    return Tasks(x[:, :N], y[:, :N], x[:, N], y[:, N], w, float(task_scale))


def token_tasks(rng: np.random.Generator, lam: np.ndarray, N: int, queries: int, sigma: float,
                count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``count`` tasks as tokens with ``queries`` queries each (w ~ N(0, I), x ~ N(0, Lambda)).
    Shape: -> context (count, N, p), query tokens (count, queries, p) with y slot 0, and the
    noise-free targets w^T x_q (count, queries)."""
    d = len(lam)
    x = rng.standard_normal((count, N + queries, d)) * np.sqrt(lam)
    w = rng.standard_normal((count, d))
    y = np.einsum("bnd,bd->bn", x[:, :N], w) + sigma * rng.standard_normal((count, N))
    context = np.concatenate([x[:, :N], y[..., None]], -1)
    query = np.concatenate([x[:, N:], np.zeros((count, queries, 1))], -1)
    return context, query, np.einsum("bqd,bd->bq", x[:, N:], w)


def moment_draws(rng: np.random.Generator, N: int, count: int, d: int) -> np.ndarray:
    """Raw draws of ``count`` tasks for ``wishart_moments``: d task-vector entries, the p(p-1)/2
    below-diagonal normals and the p chi-square draws (dof N - i) of Bartlett's decomposition.
    Shape: (count, d + p(p - 1)/2 + p), p = d + 1."""
    p = d + 1
    normals = rng.standard_normal((count, d + p * (p - 1) // 2))
    return np.concatenate([normals, rng.chisquare(N - np.arange(p), size=(count, p))], -1)


def wishart_moments(draws: torch.Tensor, lam: torch.Tensor, N: torch.Tensor,
                    sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The context second moment S = Z^T Z / N of each task, drawn exactly, and its w.

    Tokens are z = C xi with xi ~ N(0, I_p), C = [[D, 0], [w^T D, sigma]], D = Lambda^{1/2}, so
    sum_i z_i z_i^T = C G C^T with G ~ Wishart(N, I_p) = A A^T (Bartlett: A lower triangular,
    A_ii^2 ~ chi^2(N - i), A_ij ~ N(0, 1) below the diagonal).

    Shape: draws (..., B, d + p(p-1)/2 + p) from ``moment_draws``, lam (..., 1, d), N (..., 1, 1)
    -> S (..., B, p, p), w (..., B, d).
    """
    d = lam.shape[-1]
    p = d + 1
    w, low, chi = draws[..., :d], draws[..., d:-p], draws[..., -p:]
    rows, cols = torch.tril_indices(p, p, -1)
    A = torch.diag_embed(chi.sqrt())
    A[..., rows, cols] = low
    G = A @ A.transpose(-1, -2) / N.unsqueeze(-1)
    root = lam.sqrt()
    Dw = root * w
    Gxx, gxy, gyy = G[..., :d, :d], G[..., :d, d], G[..., d, d]
    t = (Gxx * Dw.unsqueeze(-2)).sum(-1)  # Gxx D w
    Sxx = Gxx * root.unsqueeze(-1) * root.unsqueeze(-2)
    Sxy = root * (t + sigma * gxy)
    Syy = (Dw * t).sum(-1) + 2 * sigma * (Dw * gxy).sum(-1) + sigma**2 * gyy
    top = torch.cat([Sxx, Sxy.unsqueeze(-1)], -1)
    bottom = torch.cat([Sxy, Syy.unsqueeze(-1)], -1).unsqueeze(-2)
    return torch.cat([top, bottom], -2), w


def ridge(X: np.ndarray, y: np.ndarray, penalty: float) -> np.ndarray:
    """(X^T X + penalty I)^-1 X^T y on each context; with penalty = sigma^2 the posterior mean of
    w ~ N(0, I) (Bayes-optimal here; ``bayes_ridge``), with 0 least squares (N > d: X has full
    column rank almost surely). Shape: X (B, N, d), y (B, N) -> (B, d)."""
    gram = X.transpose(0, 2, 1) @ X + penalty * np.eye(X.shape[-1])
    return np.linalg.solve(gram, np.einsum("bnd,bn->bd", X, y)[..., None])[..., 0]


def bayes_ridge(X: np.ndarray, y: np.ndarray, sigma: float, task_scale: float = 1.0
                ) -> np.ndarray:
    """The posterior mean of w ~ N(0, c^2 I) given a context, c = ``task_scale``: ridge with
    penalty sigma^2 / c^2, the Bayes-optimal predictor of the query under that prior whatever
    the law of x (x is ancillary: covariate shift leaves it unchanged). Shape: (B, N, d), (B, N)
    -> (B, d)."""
    return ridge(X, y, sigma**2 / task_scale**2)


def context_ols(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares on each context by Householder QR, ``ols.ols_qr``'s route batched over
    tasks (N >= d + 2, validated). Shape: (B, N, d), (B, N) -> (B, d)."""
    Q, R = np.linalg.qr(X, mode="reduced")
    return np.linalg.solve(R, Q.transpose(0, 2, 1) @ y[..., None])[..., 0]


def pgd_polynomial(X: np.ndarray, y: np.ndarray, gamma: np.ndarray, steps: int) -> np.ndarray:
    """Preconditioned gradient descent w <- w - eta Gamma X^T (X w - y) / N from w = 0, as a
    polynomial in the step size: after ``steps`` steps w = sum_k eta^(k+1) P[k].

    Shape: X (B, N, d), y (B, N), gamma (d, d) -> P (steps, B, d).
    """
    N = X.shape[1]
    gamma_s = gamma @ (X.transpose(0, 2, 1) @ X) / N  # Gamma S_xx, (B, d, d)
    grad0 = np.einsum("bnd,bn->bd", X, y) / N @ gamma.T  # Gamma h
    P = np.zeros((steps, *grad0.shape))
    for _ in range(steps):
        # w + eta Gamma (h - S w): power k of w feeds power k + 1 through -Gamma S
        down = -np.einsum("bik,ebk->ebi", gamma_s, P[:-1])
        P = P + np.concatenate([grad0[None], down])
    return P


def pgd_weights(P: np.ndarray, eta: float) -> np.ndarray:
    """w = sum_k eta^(k+1) P[k]. Shape: (steps, B, d) -> (B, d)."""
    return np.einsum("k,kbd->bd", eta ** np.arange(1, len(P) + 1), P)


def tune_pgd(tasks: Tasks, lam: np.ndarray, gamma: np.ndarray,
             depths: Sequence[int]) -> dict[int, float]:
    """Per depth L: the step size of PGD_STEPS with the least excess risk (w_L - w)^T Lambda
    (w_L - w) on ``tasks`` (tuning tasks, apart from the test tasks; a polynomial in the step:
    the whole grid at once)."""
    count, steps = len(tasks.w), {}
    for depth in sorted(int(L) for L in depths):
        P = pgd_polynomial(tasks.X, tasks.y, gamma, depth)
        gram = np.einsum("jbd,d,kbd->jk", P, lam, P) / count
        cross = np.einsum("jbd,d,bd->j", P, lam, tasks.w) / count
        powers = PGD_STEPS[:, None] ** np.arange(1, depth + 1)  # (E, depth)
        risk = np.einsum("ej,jk,ek->e", powers, gram, powers) - 2 * powers @ cross
        steps[depth] = float(PGD_STEPS[int(np.argmin(risk))])
    return steps


def gd_steps(X: torch.Tensor, y: torch.Tensor, D: torch.Tensor) -> torch.Tensor:
    """L steps of gradient descent with a diagonal preconditioner of its own per step,
    w_{k+1} = w_k + D_k * (h - S w_k) from w_0 = 0, h = X^T y / N, S = X^T X / N.
    Shape: X (B, N, d), y (B, N), D (L, d) -> (B, d)."""
    N = X.shape[-2]
    S = X.transpose(-1, -2) @ X / N
    h = (X * y[..., None]).sum(-2) / N
    w = torch.zeros_like(h)
    for step in D:
        w = w + step * (h - (S @ w[..., None])[..., 0])
    return w


def tune_gd_steps(tasks: Tasks, lam: np.ndarray, start: np.ndarray,
                  iterations: int = 60) -> np.ndarray:
    """Per-step diagonal preconditioners D (L, d) of ``gd_steps`` with the least excess risk
    (w_L - w)^T Lambda (w_L - w) on ``tasks`` (tuning tasks, apart from the test tasks), by
    L-BFGS from ``start`` (L, d) (e.g. every step Gamma*'s diagonal times PGD's tuned step).
    Deterministic: full-batch, float64."""
    X, y, w = (torch.from_numpy(a) for a in (tasks.X, tasks.y, tasks.w))
    weight = torch.from_numpy(lam)
    D = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([D], lr=1.0, max_iter=iterations, tolerance_grad=1e-12,
                            tolerance_change=1e-14, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        gap = gd_steps(X, y, D) - w
        loss = (gap * gap * weight).sum(-1).mean()
        loss.backward()
        return loss

    opt.step(closure)
    return D.detach().numpy()
