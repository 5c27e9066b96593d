"""Figure 1: training the one-parameter OLS-Transformer to the OLS solution with Adam.

Model (1-D task): W_Q = W_K = w, y_hat_i = (1/n) x_i w^2 sum_j x_j y_j. The loss is minimised at
w^2 = Sigma^{-1} = n / sum_j x_j^2, where the model's prediction is exactly OLS.

All seeds train together: w is a vector with one entry per seed and the loss is the sum of the
per-seed MSEs. Adam's update is elementwise, so each entry follows exactly the trajectory it
would follow alone, and one loop serves every seed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite."""


def scalar_transformer(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Predictions (seeds x n) of the one-parameter OLS-Transformer, w of shape (seeds,)."""
    n = x.shape[-1]
    context = (x * y).sum(dim=-1, keepdim=True) / n  # (1/n) sum_j x_j y_j, the value summary
    return (w**2).unsqueeze(-1) * x * context


def run(cfg: Mapping[str, Any], x_seeds: np.ndarray, y_seeds: np.ndarray) -> pd.DataFrame:
    """Per epoch and seed: training MSE, relative distance to OLS, w and w*.

    ``x_seeds``, ``y_seeds``: (seeds, n) arrays, one data set per seed of ``cfg['seeds']``.
    """
    seeds = list(cfg["seeds"])
    if x_seeds.shape != (len(seeds), cfg["n"]) or y_seeds.shape != x_seeds.shape:
        raise ValueError(f"training data of shape {x_seeds.shape}/{y_seeds.shape} does not match "
                         f"{len(seeds)} seeds x n={cfg['n']}: re-run the data rule")
    x = torch.tensor(x_seeds, dtype=torch.float64)
    y = torch.tensor(y_seeds, dtype=torch.float64)
    beta_ols = (x * y).sum(-1) / (x * x).sum(-1)
    y_ols = beta_ols.unsqueeze(-1) * x
    ols_mse = ((y - y_ols) ** 2).mean(-1)
    w_star = torch.sqrt(cfg["n"] / (x * x).sum(-1))

    w = torch.full((len(seeds),), float(cfg["w0"]), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([w], lr=cfg["learning_rate"])
    epochs = int(cfg["epochs"])
    mse_log = np.empty((epochs + 1, len(seeds)))
    dist_log = np.empty_like(mse_log)
    w_log = np.empty_like(mse_log)
    for epoch in range(epochs + 1):  # row e = state after e Adam steps
        pred = scalar_transformer(w, x, y)
        mse = ((pred - y) ** 2).mean(-1)
        with torch.no_grad():
            mse_log[epoch] = mse.numpy()
            dist_log[epoch] = (torch.linalg.vector_norm(pred - y_ols, dim=-1)
                               / torch.linalg.vector_norm(y_ols, dim=-1)).numpy()
            w_log[epoch] = w.numpy()
        if not torch.isfinite(mse).all():
            bad = [s for s, ok in zip(seeds, torch.isfinite(mse).tolist(), strict=False) if not ok]
            raise TrainingDivergedError(
                f"training diverged at epoch {epoch} for seeds {bad} (loss is NaN/inf) with "
                f"learning_rate={cfg['learning_rate']}, w0={cfg['w0']}, n={cfg['n']}: "
                "lower training.learning_rate"
            )
        if epoch == epochs:
            break
        optimizer.zero_grad()
        mse.sum().backward()
        optimizer.step()

    epoch_col = np.repeat(np.arange(epochs + 1), len(seeds))
    return pd.DataFrame({
        "seed": np.tile(seeds, epochs + 1),
        "epoch": epoch_col,
        "mse": mse_log.ravel(),
        "rel_dist_to_ols": dist_log.ravel(),
        "w": w_log.ravel(),
        "w_star": np.tile(w_star.numpy(), epochs + 1),
        "ols_mse": np.tile(ols_mse.numpy(), epochs + 1),
    }).sort_values(["seed", "epoch"], kind="stable").reset_index(drop=True)


def headline(table: pd.DataFrame, cfg: Mapping[str, Any]) -> pd.DataFrame:
    """Per seed: final |w| vs w*, first epoch with relative distance < tol, final MSE vs OLS."""
    rows = []
    tol = cfg["alignment_tol"]
    for seed, run_ in table.groupby("seed", sort=True):
        final = run_.iloc[-1]
        aligned = run_.loc[run_["rel_dist_to_ols"] < tol, "epoch"]
        rows.append({
            "seed": seed,
            "w_final": final["w"],
            "w_star": final["w_star"],
            # w and -w give the same model; |w| is what converges to w*.
            "abs_w_minus_w_star": abs(abs(final["w"]) - final["w_star"]),
            "rel_w_error": abs(abs(final["w"]) - final["w_star"]) / final["w_star"],
            "alignment_epoch": int(aligned.iloc[0]) if len(aligned) else -1,
            "alignment_tol": tol,
            "final_mse": final["mse"],
            "ols_mse": final["ols_mse"],
            "mse_excess_over_ols": final["mse"] / final["ols_mse"] - 1.0,
            "final_rel_dist_to_ols": final["rel_dist_to_ols"],
        })
    return pd.DataFrame(rows)
