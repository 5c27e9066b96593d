"""Figure 1: training the one-parameter OLS-Transformer to the OLS solution with Adam.

The model is construction.py's OLS-Transformer in one dimension with every weight tied to one
learnable scalar w (``construction.tied_scalar_head``), in the paper's eq.-8 form (W_O = c(w)
defined from w: y_hat = y_hat_OLS (w/w*)^4) or the eq.-5 form (y_hat = y_hat_OLS (w/w*)^2).
The loss is minimised at |w| = w* = Sigma^{-1/2} = sqrt(n / sum_j x_j^2), where the prediction
is exactly OLS.

Many independent trainings run as one: w is a vector with one entry per training (seed, grid
point) and the loss is the sum of their MSEs. Adam's update is elementwise, so each entry
follows exactly the trajectory it would follow alone, and one loop serves them all; learning
rates differ between Adam's parameter groups (one group per rate).

A linear-attention layer sees its context only through the context's second moment (its fast
memory), and its prediction y_hat = Zq H is linear in the query tokens, so the training MSE
(1/n) ||y - Zq H||^2 = H^T Sqq H - 2 H^T Sqy + Syy follows from the second moments of
(query tokens, labels) too: an epoch costs the same for n = 20 and n = 1000, and trainings
of every n and seed share one batched forward pass per parameterisation. ``token_mse`` computes
the same number token by token (tests check that they agree, with their gradients).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..construction import (
    Form,
    matmul,
    second_moment,
    tied_scalar_head,
    tied_scalar_predict,
    tied_scalar_queries,
    tokens,
)
from ..data import training_data
from ..ols import ols_qr

# An MSE step up by more than this (relative) counts as a rise; below it is float64 rounding.
RISE_RTOL = 1e-12


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass(frozen=True)
class Group:
    """K trainings on each of D data sets of one sample size n, in one parameterisation.

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


def w_star(x: torch.Tensor) -> torch.Tensor:
    """w* = Sigma^{-1/2} = sqrt(n / sum_j x_j^2) per data set. Shape: (..., n) -> (...)."""
    return torch.sqrt(x.shape[-1] / (x * x).sum(-1))


@dataclass(frozen=True)
class Moments:
    """What one parameterisation's training needs of its data sets: the second moment of the
    tokens (x_j, y_j) (the model's context), and of (query tokens Zq, labels y) for the loss,
    with the OLS head (least-squares coefficients of y on Zq, min-norm where Zq has a zero
    column). Shape: one leading dimension, one entry per training."""

    context: torch.Tensor  # (P, 2, 2)
    qq: torch.Tensor  # (P, d, d)
    qy: torch.Tensor  # (P, d, 1)
    yy: torch.Tensor  # (P,)
    ols: torch.Tensor  # (P, d, 1)

    @classmethod
    def of(cls, x: torch.Tensor, y: torch.Tensor, form: Form, repeat: int = 1) -> Moments:
        """From data sets x, y (D, n), each repeated ``repeat`` times (K trainings per set)."""
        queries = tied_scalar_queries(x, form)
        d = queries.shape[-1]
        both = second_moment(torch.cat([queries, y.unsqueeze(-1)], dim=-1))
        qq, qy, yy = both[:, :d, :d], both[:, :d, d:], both[:, d, d]
        parts = (second_moment(tokens(x.unsqueeze(-1), y)), qq, qy, yy,
                 torch.linalg.pinv(qq) @ qy)
        return cls(*(t.repeat_interleave(repeat, dim=0) for t in parts))

    @classmethod
    def cat(cls, parts: Sequence[Moments]) -> Moments:
        return cls(*(torch.cat([getattr(p, f) for p in parts]) for f in
                     ("context", "qq", "qy", "yy", "ols")))

    def mse(self, H: torch.Tensor) -> torch.Tensor:
        """(1/n) ||y - Zq H||^2 for heads H (..., P, d, 1) -> (..., P)."""
        Ht = H.transpose(-1, -2)
        quad = matmul(matmul(Ht, self.qq), H) - 2.0 * matmul(Ht, self.qy)
        return quad[..., 0, 0] + self.yy

    def rel_dist(self, H: torch.Tensor) -> torch.Tensor:
        """||Zq H - y_OLS|| / ||y_OLS|| for heads H (..., P, d, 1) -> (..., P)."""
        gap = H - self.ols
        num = matmul(matmul(gap.transpose(-1, -2), self.qq), gap)[..., 0, 0]
        den = matmul(matmul(self.ols.transpose(-1, -2), self.qq), self.ols)[..., 0, 0]
        return torch.sqrt(num.clamp(min=0.0) / den)


def token_mse(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor, form: Form) -> torch.Tensor:
    """The training MSE token by token: the model's prediction on every training input."""
    return ((tied_scalar_predict(w, x, y, form) - y) ** 2).mean(-1)


def train(groups: Sequence[Group], epochs: int, alignment_tol: float,
          record: bool = False) -> tuple[list[Summary], list[Trajectory] | None]:
    """Adam on every training of every group at once; per group a Summary (and a Trajectory).

    Trainings are laid out flat, grouped by parameterisation (one batched forward each, whatever
    their n). A training whose loss becomes non-finite is marked diverged at that epoch and
    drops out of the loss (its final values are NaN); the others go on. The caller decides
    whether that is an error.
    """
    # Flat layout: the groups in order of their form, so each form is one contiguous block.
    forms = list(dict.fromkeys(g.form for g in groups))
    layout = sorted(range(len(groups)), key=lambda i: forms.index(groups[i].form))
    sizes = [groups[i].w0.numel() for i in layout]
    w0 = torch.cat([groups[i].w0.reshape(-1) for i in layout])
    rates = torch.cat([groups[i].learning_rate.reshape(-1) for i in layout])
    blocks = []
    for form in forms:
        members = [i for i in layout if groups[i].form == form]
        blocks.append((form, sum(groups[i].w0.numel() for i in members), Moments.cat(
            [Moments.of(groups[i].x, groups[i].y, form, groups[i].w0.shape[1])
             for i in members])))
    # One leaf tensor per learning rate, one Adam parameter group each.
    unique_rates = sorted(set(rates.tolist()))
    members = [torch.nonzero(rates == r).squeeze(1) for r in unique_rates]
    leaves = [w0[idx].clone().requires_grad_(True) for idx in members]
    order = torch.argsort(torch.cat(members))  # flat index -> position in cat(leaves)
    # Adam's defaults (betas 0.9, 0.999; eps 1e-8); "fused": one kernel per group, same update.
    optimizer = torch.optim.Adam([{"params": [leaf], "lr": r}
                                  for leaf, r in zip(leaves, unique_rates, strict=True)],
                                 fused=True)

    total = len(w0)
    mse_log = torch.full((epochs + 1, total), torch.nan, dtype=torch.float64)
    w_log = torch.full((epochs + 1, total), torch.nan, dtype=torch.float64)
    heads: list[list[torch.Tensor]] = [[] for _ in blocks]  # per epoch, for the distances
    for epoch in range(epochs + 1):  # state after `epoch` Adam steps
        w = torch.cat(leaves)[order]
        parts = []
        for (form, _, moment), part, kept in zip(blocks, torch.split(w, [b[1] for b in blocks]),
                                                 heads, strict=True):
            H = tied_scalar_head(part, moment.context, form)
            parts.append(moment.mse(H))
            kept.append(H.detach())
        mse = torch.cat(parts)
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
        [moment.rel_dist(torch.stack(kept)) for (_, _, moment), kept in zip(blocks, heads,
                                                                            strict=True)], dim=1)

    summary = summarize(mse_log, dist_log, w_log, alignment_tol)
    summaries: list[Summary | None] = [None] * len(groups)
    trajectories: list[Trajectory | None] | None = [None] * len(groups) if record else None
    start = 0
    for i, size in zip(layout, sizes, strict=True):
        part, shape = slice(start, start + size), tuple(groups[i].w0.shape)
        start += size
        summaries[i] = Summary(**{k: v[part].reshape(shape) for k, v in summary.items()})
        if trajectories is not None:
            trajectories[i] = Trajectory(*(log[:, part].reshape(-1, *shape).numpy()
                                           for log in (mse_log, dist_log, w_log)))
    return summaries, trajectories  # type: ignore[return-value]


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
        # Fig. 1b's structural emergence: the first epoch with | |w|/w* - 1 | < alignment_tol
        # (-1: never), to set beside the functional alignment's epoch
        "w_epoch": first_epoch_within(trajectory.w, stars, float(cfg["alignment_tol"])),
        "mse_rises_before_alignment": summary.rises_before,
        "mse_rises_after_alignment": summary.rises_after,
        "final_mse": summary.final_mse,
        "ols_mse": ols_mse,
        "mse_excess_over_ols": summary.final_mse / ols_mse - 1.0,
        "final_rel_dist_to_ols": summary.final_rel_dist,
    })
    return curve, headline


def first_epoch_within(w: np.ndarray, stars: np.ndarray, tol: float) -> np.ndarray:
    """Per seed, the first epoch with | |w|/w* - 1 | < ``tol`` (-1: never). Shapes: w
    (epochs + 1, seeds), stars (seeds,) -> (seeds,)."""
    w = np.asarray(w, dtype=float).reshape(len(w), -1)
    close = np.abs(np.abs(w) / stars - 1.0) < tol  # NaN: False
    return np.where(close.any(axis=0), close.argmax(axis=0), -1).astype(int)


# ---- the endpoint: "a reachable and stable endpoint" (Sec. 2.3) -----------------------------

def tolerances(chosen: float, factors: Sequence[float]) -> list[float]:
    """A chosen tolerance and its alternatives (times each factor), ascending: the values the
    checks re-judge at (config ``training.criteria.tol_factors``)."""
    return sorted({float(chosen), *(float(chosen) * float(f) for f in factors)})


def alignment_by_tolerance(curve: pd.DataFrame, tols: Sequence[float]) -> pd.DataFrame:
    """fig1_alignment: per seed and tolerance, the first epoch whose relative distance to OLS
    is below it (-1: never), from the main run's curve (``run``'s first table)."""
    rows = []
    for seed, part in curve.groupby("seed", sort=True):
        dist, epoch = part["rel_dist_to_ols"].to_numpy(), part["epoch"].to_numpy()
        for tol in tols:
            hit = np.flatnonzero(dist < tol)  # NaN compares False
            rows.append({"seed": seed, "alignment_tol": float(tol),
                         "alignment_epoch": int(epoch[hit[0]]) if len(hit) else -1})
    return pd.DataFrame(rows)


def endpoint(cfg: Mapping[str, Any], x_seeds: np.ndarray, y_seeds: np.ndarray,
             final_w: np.ndarray, tols: Sequence[float]) -> pd.DataFrame:
    """fig1_endpoint: each seed's last w, moved by each relative perturbation of
    ``cfg['endpoint']['perturbations']`` (w -> w (1 + p)), trained on for ``endpoint.epochs``
    epochs with the main run's optimizer settings (Adam, ``learning_rate``, default betas and
    eps) from a fresh Adam state (zero moments, bias correction restarted): is w* an attracting
    fixed point of the training, and how many epochs does the return take?

    ``x_seeds``, ``y_seeds``: (seeds, n) as for ``run``; ``final_w``: (seeds,) the main run's last
    w. One row per (seed, perturbation, tolerance in ``tols``): ``return_epoch``, the epoch from
    which | |w|/w* - 1 | stays within the tolerance to the end (-1: outside it at the last
    epoch), and the final | |w|/w* - 1 |.
    """
    seeds = list(cfg["seeds"])
    shifts = [float(p) for p in cfg["endpoint"]["perturbations"]]
    if final_w.shape != (len(seeds),) or not np.isfinite(final_w).all():
        raise ValueError(f"final w {final_w!r} is not one finite value per seed {seeds}")
    x = torch.tensor(x_seeds, dtype=torch.float64)
    y = torch.tensor(y_seeds, dtype=torch.float64)
    start = torch.tensor(final_w[:, None] * (1.0 + np.asarray(shifts))[None, :])  # (S, P)
    group = Group(cfg["parameterisation"], x, y, start,
                  torch.full_like(start, float(cfg["learning_rate"])))
    epochs = int(cfg["endpoint"]["epochs"])
    (summary,), trajectories = train([group], epochs, float(cfg["alignment_tol"]), record=True)
    assert trajectories is not None
    if (summary.diverged_epoch >= 0).any():
        raise TrainingDivergedError(
            f"a perturbed endpoint diverged (loss NaN/inf) with learning_rate="
            f"{cfg['learning_rate']}: lower training.learning_rate or the perturbations "
            "training.endpoint.perturbations")
    stars = w_star(x).numpy()  # (S,)
    error = np.abs(np.abs(trajectories[0].w) / stars[None, :, None] - 1.0)  # (epochs + 1, S, P)
    rows = []
    for tol in tols:
        outside = error > tol
        # Last epoch outside, + 1; never outside: 0; outside at the end: -1 (not back).
        last_out = np.where(outside.any(0), epochs - np.argmax(outside[::-1], axis=0), -1)
        back = np.where(outside[-1], -1, last_out + 1)
        for i, seed in enumerate(seeds):
            for j, shift in enumerate(shifts):
                rows.append({"seed": seed, "perturbation": shift,
                             "w_start": float(start[i, j]), "w_star": float(stars[i]),
                             "tol": float(tol), "return_epoch": int(back[i, j]),
                             "final_rel_w_error": float(error[-1, i, j]), "epochs": epochs})
    return (pd.DataFrame(rows).sort_values(["tol", "perturbation", "seed"], kind="stable")
            .reset_index(drop=True))


# ---- sensitivity: how far Figure 1's verdicts depend on what the paper left out --------------

def sweep(cfg: Mapping[str, Any]) -> pd.DataFrame:
    """fig1_sensitivity: one row per (parameterisation, n, x_scale, learning rate, w0, seed) of
    ``cfg['sweep']``, all trained at once (``train``) for ``sweep.epochs`` epochs.

    Data: the Figure-1 task (``cfg`` beta, noise_sigma) at each input scale of
    ``sweep.x_scales``, drawn with ``data.training_data`` from each seed, so the grid point of
    the main run's setting is the main run. In one dimension Adam's path in w/w* depends only on
    lr/w* and w0/w* (the loss is a function of w/w* alone, up to a constant and a factor, and
    Adam ignores the gradient's scale but for its eps): ``lr_over_w_star`` and
    ``w0_over_w_star`` are the coordinates in which the sweep's verdicts live, and the input scale
    (w* ~ 1/x_scale) moves the points along both. A setting whose loss becomes NaN or infinite
    is a row with ``diverged`` true, not an error.
    """
    grid = cfg["sweep"]
    rates = [float(r) for r in grid["learning_rates"]]
    starts = [float(w) for w in grid["w0"]]
    rate_grid, start_grid = (a.ravel() for a in np.meshgrid(rates, starts, indexing="ij"))
    seeds = [int(s) for s in grid["seeds"]]
    groups, labels = [], []
    for form in grid["parameterisations"]:
        for n in grid["n"]:
            for scale in grid["x_scales"]:
                pairs = [training_data(int(n), float(cfg["beta"]), float(cfg["noise_sigma"]),
                                       float(scale), seed) for seed in seeds]
                shape = (len(seeds), len(rate_grid))
                groups.append(Group(
                    form, torch.tensor(np.stack([x for x, _ in pairs])),
                    torch.tensor(np.stack([y for _, y in pairs])),
                    torch.tensor(np.broadcast_to(start_grid, shape).copy()),
                    torch.tensor(np.broadcast_to(rate_grid, shape).copy())))
                labels.append((form, int(n), float(scale)))
    summaries, _ = train(groups, int(grid["epochs"]), float(cfg["alignment_tol"]))
    frames = []
    for (form, n, scale), group, summary in zip(labels, groups, summaries, strict=True):
        stars = w_star(group.x).numpy()[:, None]  # (D, 1): per seed
        star = np.broadcast_to(stars, summary.final_w.shape).ravel()
        frames.append(pd.DataFrame({
            "parameterisation": form,
            "n": n,
            "x_scale": scale,
            "seed": np.repeat(seeds, len(rate_grid)),
            "learning_rate": np.tile(rate_grid, len(seeds)),
            "w0": np.tile(start_grid, len(seeds)),
            "w_star": star,
            "lr_over_w_star": np.tile(rate_grid, len(seeds)) / star,
            "w0_over_w_star": np.tile(start_grid, len(seeds)) / star,
            "aligned_epoch": summary.aligned_epoch.ravel(),
            "final_rel_w_error": np.abs(np.abs(summary.final_w) / stars - 1.0).ravel(),
            "mse_rises": (summary.rises_before + summary.rises_after).ravel(),
            "mse_rises_after_alignment": summary.rises_after.ravel(),
            "diverged": (summary.diverged_epoch >= 0).ravel(),
            "diverged_epoch": summary.diverged_epoch.ravel(),
            "epochs": int(grid["epochs"]),
            "alignment_tol": float(cfg["alignment_tol"]),
        }))
    return (pd.concat(frames, ignore_index=True)
            .sort_values(["parameterisation", "n", "x_scale", "learning_rate", "w0", "seed"],
                         kind="stable")
            .reset_index(drop=True))


def paper_points(cfg: Mapping[str, Any], table: pd.DataFrame) -> tuple[str, np.ndarray]:
    """The main run's setting in the (lr/w*, w0/w*) plane: its form and its sweep points (one per
    seed, each with its own w*), or, where the sweep does not hold that setting, the one point
    at the population w* = 1/x_scale. Shape: (k, 2)."""
    rows = table[(table["parameterisation"] == cfg["parameterisation"])
                 & np.isclose(table["learning_rate"], float(cfg["learning_rate"]))
                 & np.isclose(table["w0"], float(cfg["w0"])) & (table["n"] == int(cfg["n"]))
                 & np.isclose(table["x_scale"], float(cfg["x_scale"]))]
    if rows.empty:
        scale = float(cfg["x_scale"])
        return cfg["parameterisation"], np.array([[float(cfg["learning_rate"]) * scale,
                                                   float(cfg["w0"]) * scale]])
    return cfg["parameterisation"], rows[["lr_over_w_star", "w0_over_w_star"]].to_numpy()
