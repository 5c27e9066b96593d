"""Figure 1: training the one-parameter OLS-Transformer to the OLS solution with Adam.

The model is construction.py's OLS-Transformer in one dimension with every weight tied to one
learnable scalar w (``construction.tied_scalar_model``), in the paper's eq.-8 form (W_O = c(w)
defined from w: y_hat = y_hat_OLS (w/w*)^4) or the eq.-5 form (y_hat = y_hat_OLS (w/w*)^2).
The loss is minimised at |w| = w* = Sigma^{-1/2} = sqrt(n / sum_j x_j^2), where the prediction
is exactly OLS.

Many independent trainings run as one: w is a tensor with one entry per training (seed, grid
point) and the loss is the sum of their MSEs. Adam's update is elementwise, so each entry
follows exactly the trajectory it would follow alone, and one loop serves them all; learning
rates differ between Adam's parameter groups (one group per rate).

The model is linear in its query tokens (y_hat = Zq H, H = construction.head), so its training
MSE (1/n) ||y - Zq H||^2 = H^T Sqq H - 2 H^T Sqy + Syy is computed from the second moments
S of (query tokens, labels), once per data set: an epoch costs the same for n = 20 and
n = 1000. ``token_mse`` computes the same number token by token (tests check they agree).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..construction import Form, forward, head, matmul, tied_scalar_model
from ..ols import ols_qr

# An MSE step up by more than this (relative) counts as a rise; below it is float64 rounding.
RISE_RTOL = 1e-12


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass(frozen=True)
class Group:
    """K trainings on each of D data sets, sharing a parameterisation and a sample size n.

    Shape: x, y (D, n); w0, learning_rate (D, K).
    """

    form: Form
    x: torch.Tensor
    y: torch.Tensor
    w0: torch.Tensor
    learning_rate: torch.Tensor


@dataclass(frozen=True)
class Summary:
    """Per training (D, K): what the sensitivity table and the Figure-1 headline report."""

    aligned_epoch: np.ndarray  # first epoch with relative distance to OLS < tol; -1: never
    rises_before: np.ndarray  # epochs whose MSE rose, before the first aligned epoch
    rises_after: np.ndarray  # ... and from it on
    diverged_epoch: np.ndarray  # first epoch with a non-finite loss; -1: never
    final_w: np.ndarray  # NaN where diverged
    final_mse: np.ndarray
    final_rel_dist: np.ndarray


@dataclass(frozen=True)
class Trajectory:
    """Per epoch (epochs + 1) and training (D, K): the state after that many Adam steps."""

    mse: np.ndarray
    rel_dist: np.ndarray
    w: np.ndarray


def _t(x: torch.Tensor) -> torch.Tensor:
    return x.transpose(-1, -2)


def w_star(x: torch.Tensor) -> torch.Tensor:
    """w* = Sigma^{-1/2} = sqrt(n / sum_j x_j^2) per data set. Shape: (..., n) -> (...)."""
    return torch.sqrt(x.shape[-1] / (x * x).sum(-1))


@dataclass(frozen=True)
class Moments:
    """Second moments of (query tokens Zq, labels y) of one group, and the OLS head B (the
    least-squares coefficients of y on Zq; min-norm where Zq has a zero column)."""

    qq: torch.Tensor  # (D, 1, d, d)
    qy: torch.Tensor  # (D, 1, d, 1)
    yy: torch.Tensor  # (D, 1)
    ols: torch.Tensor  # (D, 1, d, 1)

    @classmethod
    def of(cls, queries: torch.Tensor, y: torch.Tensor) -> Moments:
        n = queries.shape[-2]
        labels = y.unsqueeze(-1)
        qq = matmul(_t(queries), queries) / n
        qy = matmul(_t(queries), labels) / n
        return cls(qq, qy, (y * y).sum(-1) / n, torch.linalg.pinv(qq) @ qy)

    def mse(self, H: torch.Tensor) -> torch.Tensor:
        """(1/n) ||y - Zq H||^2 for heads H (..., D, K, d, 1) -> (..., D, K)."""
        Ht = _t(H)
        quad = matmul(matmul(Ht, self.qq), H) - 2.0 * matmul(Ht, self.qy)
        return quad[..., 0, 0] + self.yy

    def rel_dist(self, H: torch.Tensor) -> torch.Tensor:
        """||Zq H - y_OLS|| / ||y_OLS|| for heads H (..., D, K, d, 1) -> (..., D, K)."""
        gap = H - self.ols
        num = matmul(matmul(_t(gap), self.qq), gap)[..., 0, 0]
        den = matmul(matmul(_t(self.ols), self.qq), self.ols)[..., 0, 0]
        return torch.sqrt(num.clamp(min=0.0) / den)


def token_mse(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor, form: Form) -> torch.Tensor:
    """The training MSE token by token: the model's forward pass on every query token."""
    weights, queries, context = tied_scalar_model(w, x, y, form)
    return ((forward(queries, context, weights).squeeze(-1) - y) ** 2).mean(-1)


def train(groups: Sequence[Group], epochs: int, alignment_tol: float,
          record: bool = False) -> tuple[list[Summary], list[Trajectory] | None]:
    """Adam on every training of every group at once; per group a Summary (and a Trajectory).

    A training whose loss becomes non-finite is marked diverged at that epoch and drops out of
    the loss (its final values are NaN); the others go on. The caller decides whether that is
    an error.
    """
    shapes = [tuple(g.w0.shape) for g in groups]
    sizes = [g.w0.numel() for g in groups]
    w0 = torch.cat([g.w0.reshape(-1) for g in groups])
    rates = torch.cat([g.learning_rate.reshape(-1) for g in groups])
    # One leaf tensor per learning rate, one Adam parameter group each.
    unique_rates = sorted(set(rates.tolist()))
    members = [torch.nonzero(rates == r).squeeze(1) for r in unique_rates]
    leaves = [w0[idx].clone().requires_grad_(True) for idx in members]
    order = torch.argsort(torch.cat(members))  # flat index -> position in cat(leaves)
    optimizer = torch.optim.Adam([{"params": [leaf], "lr": r}
                                  for leaf, r in zip(leaves, unique_rates, strict=True)])
    data = [(g.x.unsqueeze(-2), g.y.unsqueeze(-2)) for g in groups]  # (D, 1, n): K per set
    moments = [Moments.of(tied_scalar_model(g.w0[:, :1], x, y, g.form)[1], y)
               for g, (x, y) in zip(groups, data, strict=True)]

    total = len(w0)
    mse_log = torch.full((epochs + 1, total), torch.nan, dtype=torch.float64)
    w_log = torch.full((epochs + 1, total), torch.nan, dtype=torch.float64)
    heads: list[list[torch.Tensor]] = [[] for _ in groups]  # per epoch, for the distances
    for epoch in range(epochs + 1):  # state after `epoch` Adam steps
        w = torch.cat(leaves)[order]
        mse_parts = []
        for group, (x, y), moment, part, shape, kept in zip(
                groups, data, moments, torch.split(w, sizes), shapes, heads, strict=True):
            weights, _, context = tied_scalar_model(part.reshape(shape), x, y, group.form)
            H = head(context, weights)
            mse_parts.append(moment.mse(H).reshape(-1))
            kept.append(H.detach())
        mse = torch.cat(mse_parts)
        live = torch.isfinite(mse)
        mse_log[epoch], w_log[epoch] = mse.detach(), w.detach()
        if epoch == epochs or not live.any():
            break
        optimizer.zero_grad()
        # Diverged trainings drop out of the loss, so their NaN never reaches another gradient.
        torch.where(live, mse, 0.0).sum().backward()
        optimizer.step()
    # Distance to OLS for every epoch at once, from the heads kept (rows past a stop stay NaN).
    dist_log = torch.full_like(mse_log, torch.nan)
    dist_log[:len(heads[0])] = torch.cat(
        [moment.rel_dist(torch.stack(kept)).reshape(len(kept), -1)
         for moment, kept in zip(moments, heads, strict=True)], dim=1)
    logs = (mse_log, dist_log, w_log)

    summary = summarize(logs[0], logs[1], logs[2], alignment_tol)
    summaries, trajectories = [], [] if record else None
    start = 0
    for size, shape in zip(sizes, shapes, strict=True):
        part = slice(start, start + size)
        start += size
        summaries.append(Summary(**{k: v[part].reshape(shape) for k, v in summary.items()}))
        if trajectories is not None:
            trajectories.append(Trajectory(*(log[:, part].reshape(-1, *shape).numpy()
                                             for log in logs)))
    return summaries, trajectories


def _first(mask: torch.Tensor) -> torch.Tensor:
    """Per column: the first row where ``mask`` holds, -1 where it never does."""
    hit = mask.any(dim=0)
    return torch.where(hit, mask.to(torch.int8).argmax(dim=0), -1)


def summarize(mse: torch.Tensor, dist: torch.Tensor, w: torch.Tensor,
              alignment_tol: float) -> dict[str, np.ndarray]:
    """Summary fields from per-epoch logs (epochs + 1, B); NaN rows after a divergence."""
    diverged = _first(~torch.isfinite(mse))
    aligned = _first(dist < alignment_tol)  # NaN compares False: never after a divergence
    rose = torch.zeros_like(mse, dtype=torch.bool)
    rose[1:] = mse[1:] > mse[:-1] * (1 + RISE_RTOL)
    epoch = torch.arange(len(mse)).unsqueeze(1)
    after = (aligned >= 0) & (epoch >= aligned)
    # The loop runs to the last epoch unless every training diverged, so the last row is final.
    ok = diverged < 0
    final = {name: torch.where(ok, log[-1], torch.nan).numpy()
             for name, log in (("final_mse", mse), ("final_rel_dist", dist), ("final_w", w))}
    return {"aligned_epoch": aligned.numpy(), "diverged_epoch": diverged.numpy(),
            "rises_before": (rose & ~after).sum(0).numpy(),
            "rises_after": (rose & after).sum(0).numpy(), **final}


def run(cfg: Mapping[str, Any], x_seeds: np.ndarray,
        y_seeds: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Figure 1: (per epoch and seed: MSE, relative distance to OLS, w, w*; per seed: headline).

    ``x_seeds``, ``y_seeds``: (seeds, n) arrays, one data set per seed of ``cfg['seeds']``.
    """
    seeds = list(cfg["seeds"])
    if x_seeds.shape != (len(seeds), cfg["n"]) or y_seeds.shape != x_seeds.shape:
        raise ValueError(f"training data of shape {x_seeds.shape}/{y_seeds.shape} does not match "
                         f"{len(seeds)} seeds x n={cfg['n']}: re-run the data rule")
    x = torch.tensor(x_seeds, dtype=torch.float64)
    y = torch.tensor(y_seeds, dtype=torch.float64)
    S = len(seeds)
    group = Group(cfg["parameterisation"], x, y,
                  torch.full((S, 1), float(cfg["w0"]), dtype=torch.float64),
                  torch.full((S, 1), float(cfg["learning_rate"]), dtype=torch.float64))
    epochs = int(cfg["epochs"])
    (summary,), trajectories = train([group], epochs, float(cfg["alignment_tol"]), record=True)
    assert trajectories is not None
    (trajectory,) = trajectories
    summary = Summary(**{k: v[:, 0] for k, v in vars(summary).items()})  # K = 1 per seed
    if (summary.diverged_epoch >= 0).any():
        bad = [s for s, e in zip(seeds, summary.diverged_epoch, strict=True) if e >= 0]
        raise TrainingDivergedError(
            f"training diverged at epoch {int(summary.diverged_epoch.max())} for seeds {bad} "
            f"(loss is NaN/inf) with learning_rate={cfg['learning_rate']}, w0={cfg['w0']}, "
            f"n={cfg['n']}, parameterisation={cfg['parameterisation']}: lower "
            "training.learning_rate or |training.w0|"
        )
    final_w = summary.final_w
    stars = w_star(x).numpy()
    # The noise floor: the OLS residual MSE, by QR (independent of the model).
    ols_mse = np.array([np.mean((yi - ols_qr(xi[:, None], yi)[1]) ** 2)
                        for xi, yi in zip(x_seeds, y_seeds, strict=True)])
    curve = pd.DataFrame({
        "seed": np.tile(seeds, epochs + 1),
        "epoch": np.repeat(np.arange(epochs + 1), S),
        "mse": trajectory.mse.ravel(),
        "rel_dist_to_ols": trajectory.rel_dist.ravel(),
        "w": trajectory.w.ravel(),
        "w_star": np.tile(stars, epochs + 1),
        "ols_mse": np.tile(ols_mse, epochs + 1),
    }).sort_values(["seed", "epoch"], kind="stable").reset_index(drop=True)
    headline = pd.DataFrame({
        "seed": seeds,
        "parameterisation": cfg["parameterisation"],
        "learning_rate": float(cfg["learning_rate"]),
        "w0": float(cfg["w0"]),
        "w_final": final_w,
        "w_star": stars,
        # w and -w give the same model; |w| is what converges to w*.
        "rel_w_error": np.abs(np.abs(final_w) / stars - 1.0),
        "alignment_epoch": summary.aligned_epoch,
        "alignment_tol": float(cfg["alignment_tol"]),
        "mse_rises_before_alignment": summary.rises_before,
        "mse_rises_after_alignment": summary.rises_after,
        "final_mse": summary.final_mse,
        "ols_mse": ols_mse,
        "mse_excess_over_ols": summary.final_mse / ols_mse - 1.0,
        "final_rel_dist_to_ols": summary.final_rel_dist,
    })
    return curve, headline
