"""Does training find the OLS-Transformer? Linear transformers trained on in-context regression.

Tasks, fresh every training step: w ~ N(0, I_d), inputs x ~ N(0, Lambda) with Lambda diagonal
(eigenvalues geometric, ``icl.lambdas``), N context pairs and a query, y = w^T x + eps,
eps ~ N(0, sigma^2).

Model: L layers of linear self-attention (LSA) over row tokens z_i = (x_i, y_i) (p = d + 1
entries); the query token is (x_q, 0). A layer is construction.py's linear attention with a full
p x p key-query matrix W_KQ (as W_Q, W_K the identity) and projection-value matrix W_PV (as W_V),
with a residual; every token is updated, and only the N context tokens are keys and values:

    Z <- Z + linear_attention(Z, Z_context, W_KQ, None, W_PV) = Z + Z W_KQ S W_PV,
    S = Z_context^T Z_context / N.

The prediction is minus the query's y slot after the last layer (von Oswald et al. 2023, Ahn et
al. 2023): a layer that subtracts x_i^T Gamma h from every y_i is one step of preconditioned
gradient descent on the context and adds x_q^T Gamma h to the prediction. For one layer,

    y_hat = x_q^T Gamma h + nuisance,   h = (1/N) X^T y,
    Gamma = -(W_PV[d, d] W_KQ[:d, :d] + W_KQ[:d, d] W_PV[:d, d]^T)            (``read_gamma``)
    nuisance = -x_q^T (W_KQ[:d, :d] S_xx W_PV[:d, d] + W_KQ[:d, d] S_yy W_PV[d, d]),

and the population optimum is Gamma* = ((1 + 1/N) Lambda + (tr Lambda + sigma^2)/N I)^-1 with no
nuisance (Zhang, Frei & Bartlett 2023; Ahn et al. 2023). The OLS-Transformer with population slow
memory is Gamma = Lambda^-1.

The moment path. Each layer maps every token by the same matrix, Z <- Z (I + A_l) with
A_l = W_KQ S_l W_PV (``construction.moment_attention_map``; ``shared_attention_map`` computes it
for a stack of contexts under shared weights as two large products), so the context's second
moment follows S_{l+1} = (I + A_l)^T S_l (I + A_l) and the model sees its context through S
alone. The prediction is linear in the query, y_hat = x_q^T u. Training takes the query's
expectation exactly, E[(y_q - x_q^T u)^2 | task] = (w - u)^T Lambda (w - u) + sigma^2, and draws
S from its exact distribution (Bartlett's decomposition of the Wishart matrix of the N tokens),
so a step costs the same for every N. Evaluation draws test tokens and runs the moment path on
their S. Tests check the moment path against ``lsa_predict`` (``linear_attention`` on tokens).

Initialisation (Zhang, Frei & Bartlett 2023): per layer W_KQ[:d, :d] = s Theta Theta^T / d with
Theta a standard-normal d x d draw, W_PV[d, d] = -s, every other entry 0 (and trained). From a
fully random start about half of the one-layer runs stall at a worse stationary point that uses
the W_PV[:d, d] / W_KQ[:d, d] route; this start avoids it. Adam, learning rate with a 5 % linear
warm-up and a cosine decay to 0, each model's gradient norm clipped at ``grad_clip`` (rare
contexts with a large second moment give the deeper stacks gradient spikes that otherwise throw
single seeds off for good); all settings (Lambda, N, seed) and depths train in one loop
(Adam is elementwise, the loss a sum over independent models), each setting on its own stream of
tasks shared by its depths.

Baselines on the same test tasks: the OLS-Transformer (slow memory Lambda^-1) and the same with
Gamma* (``construction.in_context_predict``), in-context OLS (least squares, N >= d + 2), ridge
with lambda = sigma^2 (the posterior mean: Bayes-optimal here), and L steps of preconditioned
gradient descent on the context loss (1/2N) ||X w - y||^2 from w = 0 with preconditioner Gamma*
and one scalar step size, the best of ``PGD_STEPS`` on separate tuning tasks (at L = 1 and step 1
this is the Gamma* transformer).

Covariate shift (paper Sec. 3, ``shift.py``'s families) and task shift (w ~ N(0, c^2 I)) at test
time, for the models trained on ``shift.lambda`` at ``shift.context_size``: the relative error next
to eq. 10's population prediction, sqrt(tr((D - I)^T S_te (D - I)) / tr S_te) with
D = Lambda^-1 S_te (the OLS-Transformer) or D = Gamma_learned S_te (the one-layer model).

Randomness: numpy generators seeded [population_seed, stream, crc32(lambda name), N, seed, ...];
the tables are a function of the config.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from .. import checks
from .. import shift as sm
from ..checks import icl as icl_checks
from ..construction import (
    in_context_predict,
    linear_attention,
    second_moment,
    shared_attention_map,
    whitener,
)
from ..hopfield import resolve_device

TRAIN, INIT, TEST, TUNE, SHIFT = range(5)  # random streams
WARMUP = 0.05  # share of the steps with a linear warm-up of the learning rate
PGD_STEPS = np.linspace(0.001, 2.0, 2000)  # step sizes tried for the preconditioned-GD baseline
TASK_SCALE, NO_SHIFT = icl_checks.TASK_SCALE, icl_checks.NO_SHIFT
DTYPE = torch.float64


# ---- config ----------------------------------------------------------------------------------

def problems(cfg: Mapping[str, Any]) -> list[str]:
    """Everything wrong with an ``icl`` config section (``checks.icl.config_problems``: torch-free,
    so config validation can call it without importing torch)."""
    return icl_checks.config_problems(cfg)


def validate(cfg: Mapping[str, Any]) -> None:
    """ValueError naming every bad value of the ``icl`` section and its fix (before any job)."""
    found = problems(cfg)
    if found:
        raise ValueError("; ".join(found))


def eigenvalues(spec: Mapping[str, float], d: int) -> np.ndarray:
    """Lambda's diagonal: geometric from ``largest`` down to ``smallest``. Shape: (d,)."""
    return np.geomspace(float(spec["largest"]), float(spec["smallest"]), d)


def _rng(cfg: Mapping[str, Any], stream: int, *parts: int | str) -> np.random.Generator:
    key = [zlib.crc32(p.encode()) if isinstance(p, str) else int(p) for p in parts]
    return np.random.default_rng([int(cfg["population_seed"]), stream, *key])


# ---- theory ----------------------------------------------------------------------------------

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
    """||a - b||_F / ||b||_F."""
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def eq10_relative_error(D: np.ndarray, s_te: np.ndarray) -> float:
    """Population relative error of x^T D w against x^T w, w ~ N(0, c^2 I), E x x^T = S_te:
    sqrt(tr((D - I)^T S_te (D - I)) / tr S_te) (eq. 10's first term, N -> infinity)."""
    gap = D - np.eye(len(D))
    return float(np.sqrt(np.trace(gap.T @ s_te @ gap) / np.trace(s_te)))


# ---- tasks -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tasks:
    """B regression tasks in tokens. Shape: X (B, N, d), y (B, N), xq (B, d), yq (B), w (B, d)."""

    X: np.ndarray
    y: np.ndarray
    xq: np.ndarray
    yq: np.ndarray
    w: np.ndarray

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
    return Tasks(x[:, :N], y[:, :N], x[:, N], y[:, N], w)


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


# ---- the model -------------------------------------------------------------------------------

def lsa_coefficients(S: torch.Tensor, K: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """u with y_hat = x_q^T u for L LSA layers, from the context's second moment (the moment path:
    ``construction.shared_attention_map`` = ``moment_attention_map`` for weights shared by a
    stack of contexts).

    Shape: S (..., B, p, p), K = W_KQ and V = W_PV (..., L, p, p) -> (..., B, d).
    """
    p = S.shape[-1]
    maps = []
    for layer in range(K.shape[-3]):
        W_KQ, W_PV = K[..., layer, :, :], V[..., layer, :, :]
        if layer == K.shape[-3] - 1:
            # The query needs the last layer's y column only: T_{L-1} e_y = e_y + A e_y.
            column = shared_attention_map(S, W_KQ, W_PV[..., -1:])[..., 0]
            break
        A = shared_attention_map(S, W_KQ, W_PV)
        maps.append(A)
        ST = S + S @ A  # S T, T = I + A
        S = ST + A.transpose(-1, -2) @ ST  # T^T S T: the context after the layer
    e_y = torch.zeros(p, dtype=S.dtype, device=S.device)
    e_y[-1] = 1.0
    c = column + e_y
    for A in reversed(maps):  # T_0 ... T_{L-2} c
        c = c + (A * c.unsqueeze(-2)).sum(-1)
    return -c[..., :-1]


def lsa_predict(context: torch.Tensor, queries: torch.Tensor, K: torch.Tensor,
                V: torch.Tensor) -> torch.Tensor:
    """The LSA stack on tokens (the token path): every layer Z <- Z + linear_attention(Z,
    Z_context, W_KQ, None, W_PV), prediction = -(query's y slot).

    Shape: context (..., N, p), queries (..., q, p) with y slot 0, K, V (L, p, p) -> (..., q).
    """
    n = context.shape[-2]
    Z = torch.cat([context, queries], -2)
    for W_KQ, W_PV in zip(K, V, strict=True):
        Z = Z + linear_attention(Z, Z[..., :n, :], W_KQ, None, W_PV)
    return -Z[..., n:, -1]


def read_gamma(K: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """One layer's preconditioner: -(W_PV[d, d] W_KQ[:d, :d] + W_KQ[:d, d] W_PV[:d, d]^T), the
    matrix of its bilinear term x_q^T Gamma h. Shape: K, V (..., p, p) -> (..., d, d)."""
    Kx, ky = K[..., :-1, :-1], K[..., :-1, -1]
    vx, vy = V[..., :-1, -1], V[..., -1, -1]
    return -(vy[..., None, None] * Kx + ky.unsqueeze(-1) * vx.unsqueeze(-2))


def gamma_weights(gamma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One layer (W_KQ, W_PV) whose predictor is exactly x_q^T Gamma h: W_KQ = [[Gamma, 0],
    [0, 0]], W_PV = -e_y e_y^T. Shape: (d, d) -> (1, p, p) each."""
    d = gamma.shape[-1]
    K = torch.zeros(1, d + 1, d + 1, dtype=gamma.dtype, device=gamma.device)
    V = torch.zeros_like(K)
    K[0, :d, :d] = gamma
    V[0, d, d] = -1.0
    return K, V


def initial_weights(rng: np.random.Generator, depth: int, d: int,
                    scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Zhang-Frei-Bartlett start per layer: W_KQ[:d, :d] = s Theta Theta^T / d, W_PV[d, d] = -s.
    Shape: -> (depth, p, p) each."""
    theta = rng.standard_normal((depth, d, d))
    K = np.zeros((depth, d + 1, d + 1))
    V = np.zeros_like(K)
    K[:, :d, :d] = scale * theta @ theta.transpose(0, 2, 1) / d
    V[:, d, d] = -scale
    return K, V


# ---- training --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Setting:
    """One training task distribution and seed."""

    name: str  # key of icl.lambdas
    N: int
    seed: int


def settings(cfg: Mapping[str, Any]) -> list[Setting]:
    return [Setting(name, int(N), int(seed)) for name in cfg["lambdas"]
            for N in cfg["context_sizes"] for seed in cfg["seeds"]]


def learning_rate(cfg: Mapping[str, Any], step: int) -> float:
    """Linear warm-up over the first WARMUP share of the steps, then cosine decay to 0."""
    steps = int(cfg["steps"])
    warm = max(1, round(WARMUP * steps))
    scale = min(1.0, (step + 1) / warm) * 0.5 * (1 + math.cos(math.pi * step / steps))
    return float(cfg["learning_rate"]) * scale


def train(cfg: Mapping[str, Any], device: torch.device | None = None
          ) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """Train every depth of every setting (``settings(cfg)``, in that order) at once.

    Returns depth -> (W_KQ, W_PV), each (settings, depth, p, p) on the CPU. A loss that is NaN or
    infinite stops the run with FloatingPointError naming the setting.
    """
    device = device or torch.device("cpu")
    d, B, sigma = int(cfg["d"]), int(cfg["batch_size"]), float(cfg["noise_sigma"])
    runs = settings(cfg)
    depths = sorted(int(L) for L in cfg["depths"])
    lam = torch.tensor(np.stack([eigenvalues(cfg["lambdas"][s.name], d) for s in runs]),
                       dtype=DTYPE, device=device)[:, None, :]
    N = torch.tensor([s.N for s in runs], dtype=DTYPE, device=device)[:, None, None]
    streams = [_rng(cfg, TRAIN, s.name, s.N, s.seed) for s in runs]
    params: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    for L in depths:
        starts = [initial_weights(_rng(cfg, INIT, s.name, s.N, s.seed, L), L, d,
                                  float(cfg["init_scale"])) for s in runs]
        params[L] = tuple(torch.tensor(np.stack(w), dtype=DTYPE, device=device)
                          .requires_grad_(True) for w in zip(*starts, strict=True))
    clip = float(cfg["grad_clip"])
    optimizer = torch.optim.Adam([t for pair in params.values() for t in pair],
                                 lr=float(cfg["learning_rate"]))
    for step in range(int(cfg["steps"])):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(cfg, step)
        draws = torch.from_numpy(np.stack([moment_draws(rng, s.N, B, d)
                                           for rng, s in zip(streams, runs, strict=True)]))
        S, w = wishart_moments(draws.to(device), lam, N, sigma)
        losses = []
        for L in depths:
            gap = w - lsa_coefficients(S, *params[L])
            losses.append((gap * gap * lam).sum(-1).mean(-1))  # (settings,)
        loss = torch.stack(losses)  # (depths, settings)
        bad = ~torch.isfinite(loss.detach())
        if bad.any():
            i, j = (int(k) for k in torch.nonzero(bad)[0])
            s = runs[j]
            raise FloatingPointError(
                f"icl training diverged (loss {loss[i, j].item()}) at step {step} for "
                f"lambda={s.name}, N={s.N}, seed={s.seed}, depth={depths[i]} with "
                f"learning_rate={cfg['learning_rate']}, batch_size={B}, "
                f"init_scale={cfg['init_scale']}, grad_clip={cfg['grad_clip']}: lower "
                "icl.learning_rate or icl.init_scale, or clip (icl.grad_clip > 0)")
        optimizer.zero_grad()
        loss.sum().backward()
        if clip > 0:  # per model: the gradient norm over its W_KQ and W_PV at most ``clip``
            for pair in params.values():
                norm = sum((t.grad**2).sum((-1, -2, -3)) for t in pair).sqrt()
                factor = (clip / norm).clamp(max=1.0)[:, None, None, None]
                for t in pair:
                    t.grad.mul_(factor)
        optimizer.step()
    return {L: (K.detach().cpu(), V.detach().cpu()) for L, (K, V) in params.items()}


# ---- baselines -------------------------------------------------------------------------------

def transformer_predict(W: torch.Tensor, tasks: Tasks) -> np.ndarray:
    """The OLS-Transformer in context with slow memory W W^T (construction.in_context_predict).
    Shape: W (d, d) -> (B,)."""
    t = torch.from_numpy
    out = in_context_predict(W, t(tasks.X), t(tasks.y[..., None]), t(tasks.xq[:, None, :]))
    return out[:, 0, 0].numpy()


def ridge(X: np.ndarray, y: np.ndarray, penalty: float) -> np.ndarray:
    """(X^T X + penalty I)^-1 X^T y on each context; with penalty = sigma^2 the posterior mean of
    w ~ N(0, I) (Bayes-optimal here), with 0 least squares (N > d: X has full column rank almost
    surely). Shape: X (B, N, d), y (B, N) -> (B, d)."""
    gram = X.transpose(0, 2, 1) @ X + penalty * np.eye(X.shape[-1])
    return np.linalg.solve(gram, np.einsum("bnd,bn->bd", X, y)[..., None])[..., 0]


def context_ols(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares on each context (N >= d + 2, validated). Shape: (B, N, d), (B, N) -> (B, d)."""
    return ridge(X, y, 0.0)


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


def tune_pgd(cfg: Mapping[str, Any], name: str, N: int, gamma: np.ndarray) -> dict[int, float]:
    """Per depth L: the step size of PGD_STEPS with the least excess risk (w_L - w)^T Lambda
    (w_L - w) on tuning tasks (a polynomial in the step: the whole grid at once)."""
    lam = eigenvalues(cfg["lambdas"][name], int(cfg["d"]))
    tasks = draw_tasks(_rng(cfg, TUNE, name, N), lam, N, float(cfg["noise_sigma"]),
                       int(cfg["test_tasks"]))
    count, steps = len(tasks.w), {}
    for depth in sorted(int(L) for L in cfg["depths"]):
        P = pgd_polynomial(tasks.X, tasks.y, gamma, depth)
        gram = np.einsum("jbd,d,kbd->jk", P, lam, P) / count
        cross = np.einsum("jbd,d,bd->j", P, lam, tasks.w) / count
        powers = PGD_STEPS[:, None] ** np.arange(1, depth + 1)  # (E, depth)
        risk = np.einsum("ej,jk,ek->e", powers, gram, powers) - 2 * powers @ cross
        steps[depth] = float(PGD_STEPS[int(np.argmin(risk))])
    return steps


# ---- evaluation ------------------------------------------------------------------------------

def _errors(prediction: np.ndarray, tasks: Tasks) -> dict[str, float]:
    return {"risk": float(np.mean((prediction - tasks.yq) ** 2)),
            "excess_risk": float(np.mean((prediction - tasks.truth) ** 2))}


def _lsa(models: dict[int, tuple[torch.Tensor, torch.Tensor]], index: int, depth: int
         ) -> tuple[torch.Tensor, torch.Tensor]:
    K, V = models[depth]
    return K[index], V[index]


def lsa_test_predict(S: torch.Tensor, tasks: Tasks, K: torch.Tensor, V: torch.Tensor
                     ) -> np.ndarray:
    """The trained stack on test tasks by the moment path (equal to ``lsa_predict`` on their
    tokens; tests check it). Shape: S (B, p, p) of the tasks' contexts, K, V (L, p, p) -> (B,)."""
    with torch.no_grad():
        u = lsa_coefficients(S, K, V).numpy()
    return np.einsum("bd,bd->b", tasks.xq, u)


def evaluate(cfg: Mapping[str, Any], models: dict[int, tuple[torch.Tensor, torch.Tensor]]
             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """icl_preconditioner (per lambda, N, seed) and icl_risk (per lambda, N, model, depth, seed)
    on fresh test tasks, one test set per (lambda, N) shared by every model."""
    d, sigma, count = int(cfg["d"]), float(cfg["noise_sigma"]), int(cfg["test_tasks"])
    runs = settings(cfg)
    depths = sorted(int(L) for L in cfg["depths"])
    pre_rows, risk_rows = [], []
    for name in cfg["lambdas"]:
        lam = eigenvalues(cfg["lambdas"][name], d)
        inverse = np.diag(1 / lam)
        for N in (int(n) for n in cfg["context_sizes"]):
            tasks = draw_tasks(_rng(cfg, TEST, name, N), lam, N, sigma, count)
            S = second_moment(tasks.context())
            h = np.einsum("bnd,bn->bd", tasks.X, tasks.y) / N
            star = gamma_star(lam, N, sigma)
            base = {"lambda": name, "N": N, "d": d, "noise_sigma": sigma, "test_tasks": count}
            for model, gamma in (("gamma_star", star), ("ols_transformer", inverse)):
                W = whitener(torch.from_numpy(np.linalg.inv(gamma)))  # W W^T = gamma
                risk_rows.append({**base, "model": model, "depth": 1, "seed": -1,
                                  **_errors(transformer_predict(W, tasks), tasks),
                                  "excess_theory": gamma_excess_risk(gamma, lam, N, sigma),
                                  "step": math.nan})
            for model, coef, theory in (
                    ("context_ols", context_ols(tasks.X, tasks.y), ols_excess_risk(d, N, sigma)),
                    ("ridge", ridge(tasks.X, tasks.y, sigma), math.nan)):
                risk_rows.append({**base, "model": model, "depth": 0, "seed": -1,
                                  **_errors(np.einsum("bd,bd->b", tasks.xq, coef), tasks),
                                  "excess_theory": theory, "step": math.nan})
            for L, eta in tune_pgd(cfg, name, N, star).items():
                coef = pgd_weights(pgd_polynomial(tasks.X, tasks.y, star, L), eta)
                risk_rows.append({**base, "model": "pgd", "depth": L, "seed": -1,
                                  **_errors(np.einsum("bd,bd->b", tasks.xq, coef), tasks),
                                  "excess_theory": math.nan, "step": eta})
            for index, s in enumerate(runs):
                if (s.name, s.N) != (name, N):
                    continue
                for L in depths:
                    K, V = _lsa(models, index, L)
                    pred = lsa_test_predict(S, tasks, K, V)
                    risk_rows.append({**base, "model": "lsa", "depth": L, "seed": s.seed,
                                      **_errors(pred, tasks), "excess_theory": math.nan,
                                      "step": math.nan})
                    if L == 1:
                        pre_rows.append({**base, "seed": s.seed, **preconditioner_row(
                            K[0], V[0], pred, tasks, h, star, inverse)})
    return pd.DataFrame(pre_rows), pd.DataFrame(risk_rows)


def preconditioner_row(K: torch.Tensor, V: torch.Tensor, prediction: np.ndarray, tasks: Tasks,
                       h: np.ndarray, star: np.ndarray, inverse: np.ndarray) -> dict[str, float]:
    """Distances of the learned Gamma (one layer K, V: (p, p)) to Gamma* and Lambda^-1, the
    nuisance share of its predictions and the three matrices entry by entry."""
    gamma = read_gamma(K, V).numpy()
    bilinear = np.einsum("bi,ij,bj->b", tasks.xq, gamma, h)
    row = {
        "dist_to_gamma_star": relative_frobenius(gamma, star),
        "dist_to_inverse": relative_frobenius(gamma, inverse),
        "star_dist_to_inverse": relative_frobenius(star, inverse),
        # RMS of the prediction not explained by x_q^T Gamma h, relative to the prediction
        "nuisance_ratio": float(np.sqrt(np.mean((prediction - bilinear) ** 2)
                                        / np.mean(prediction**2))),
    }
    for label, matrix in (("learned", gamma), ("star", star), ("inverse", inverse)):
        row.update({f"{label}_{i}_{j}": float(matrix[i, j])
                    for i in range(len(matrix)) for j in range(len(matrix))})
    return row


def shift_table(cfg: Mapping[str, Any], models: dict[int, tuple[torch.Tensor, torch.Tensor]]
                ) -> pd.DataFrame:
    """icl_shift: the models trained on (shift.lambda, shift.context_size) tested on shifted
    inputs (shift.py's families) or tasks (task_scale), one row per (family, magnitude, model,
    depth, seed); common random numbers across families and magnitudes."""
    d, sigma, count = int(cfg["d"]), float(cfg["noise_sigma"]), int(cfg["test_tasks"])
    name, N = cfg["shift"]["lambda"], int(cfg["shift"]["context_size"])
    lam = eigenvalues(cfg["lambdas"][name], d)
    direction = _rng(cfg, SHIFT, name, "direction").standard_normal(d)
    base = sm.BaseStructure(lam, np.eye(d), direction / np.linalg.norm(direction))
    runs = settings(cfg)
    trained = [(i, s.seed) for i, s in enumerate(runs) if (s.name, s.N) == (name, N)]
    depths = sorted(int(L) for L in cfg["depths"])
    inverse_W = whitener(torch.from_numpy(np.diag(lam)))
    rows = []
    for family, magnitudes in cfg["shift"]["families"].items():
        for t in (float(m) for m in magnitudes):
            if family == TASK_SCALE:
                population, scale = base.population, t
            else:
                population, scale = sm.shifted_population(family, t, base), 1.0
            s_te = population.second_moment
            tasks = draw_tasks(_rng(cfg, SHIFT, name, N), lam, N, sigma, count, population,
                               scale)
            S = second_moment(tasks.context())
            eq10 = eq10_relative_error(np.diag(1 / lam) @ s_te, s_te)
            head = {"family": family, "magnitude": t, "no_shift": t == NO_SHIFT[family],
                    "lambda": name, "N": N, "eq10_predicted": eq10}

            def row(model: str, depth: int, seed: int, prediction: np.ndarray,
                    learned: float = math.nan, head: dict[str, Any] = head,
                    tasks: Tasks = tasks) -> dict[str, Any]:
                truth = tasks.truth
                err = float(np.linalg.norm(prediction - truth) / np.linalg.norm(truth))
                return {**head, "model": model, "depth": depth, "seed": seed, "relerr": err,
                        "eq10_learned": learned}

            rows.append(row("ols_transformer", 1, -1, transformer_predict(inverse_W, tasks)))
            rows.append(row("context_ols", 0, -1, np.einsum(
                "bd,bd->b", tasks.xq, context_ols(tasks.X, tasks.y))))
            rows.append(row("ridge", 0, -1, np.einsum(
                "bd,bd->b", tasks.xq, ridge(tasks.X, tasks.y, sigma))))
            for index, seed in trained:
                for L in depths:
                    K, V = _lsa(models, index, L)
                    pred = lsa_test_predict(S, tasks, K, V)
                    learned = (eq10_relative_error(read_gamma(K[0], V[0]).numpy() @ s_te, s_te)
                               if L == 1 else math.nan)
                    rows.append(row("lsa", L, seed, pred, learned))
    return pd.DataFrame(rows)


def run(cfg: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """The stage: validate, train, evaluate. {icl_preconditioner, icl_risk, icl_shift}."""
    validate(cfg)
    models = train(cfg, resolve_device(str(cfg["device"]), "icl.device"))
    preconditioner, risk = evaluate(cfg, models)
    return {"icl_preconditioner": preconditioner, "icl_risk": risk,
            "icl_shift": shift_table(cfg, models)}


def summarize(tables: Mapping[str, pd.DataFrame | None],
              criteria: Mapping[str, float] | None) -> pd.DataFrame:
    """The stage's checks (``checks.icl``), one row each: icl_summary."""
    return checks.frame(icl_checks.checks(tables, criteria))
