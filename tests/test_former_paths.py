"""Temporary (issue 10): the former numpy / scalar code paths of the shift study and Figure 1
give the same numbers as construction.py's OLS-Transformer on the quick config. Deleted with
the former code, in the next commit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import merged_config

from ols_transformer.data import training_sets
from ols_transformer.experiments import shift as experiment
from ols_transformer.experiments import training

# ---- the former shift.py numpy model ---------------------------------------------------------

def former_inverse_sqrt_factor(S: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh(S)
    return vecs / np.sqrt(vals)


def former_transformer_predict(queries, context, y_context, W):
    return ((queries @ W) @ (context @ W).T / context.shape[0]) @ y_context


def former_probe_distortion(context, W):
    probes = former_transformer_predict(context, context, context, W)
    return np.linalg.lstsq(context, probes, rcond=None)[0]


def test_shift_table_is_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = merged_config()["shift"]
    new = experiment.run(cfg)
    monkeypatch.setattr(experiment, "slow_memory", former_inverse_sqrt_factor)
    monkeypatch.setattr(experiment, "transformer_predict", former_transformer_predict)
    monkeypatch.setattr(experiment, "probe_distortion", former_probe_distortion)
    old = experiment.run(cfg)
    assert list(old.columns) == list(new.columns) and len(old) == len(new)
    identities = ["eq10_residual", "probe_residual", "oracle_vs_context_ols"]
    for column in old.columns:
        if column in identities:  # rounding-level residuals: both at rounding level
            assert (old[column] < 1e-12).all() and (new[column] < 1e-12).all()
        elif pd.api.types.is_float_dtype(old[column]):
            np.testing.assert_allclose(new[column], old[column], rtol=1e-9, atol=1e-13,
                                       err_msg=column)
        else:
            assert (new[column] == old[column]).all(), column


# ---- the former Figure-1 scalar formula and loop ---------------------------------------------

def former_training(cfg, x_seeds, y_seeds):
    """experiments/training.py before issue 10: y_hat = (1/n) x w^2 sum x y, token MSE."""
    x, y = torch.tensor(x_seeds), torch.tensor(y_seeds)
    n = x.shape[-1]
    w = torch.full((len(x),), float(cfg["w0"]), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([w], lr=cfg["learning_rate"])
    beta = (x * y).sum(-1) / (x * x).sum(-1)
    y_ols = beta.unsqueeze(-1) * x
    mse_log, dist_log, w_log = [], [], []
    for epoch in range(cfg["epochs"] + 1):
        pred = (w**2).unsqueeze(-1) * x * ((x * y).sum(-1, keepdim=True) / n)
        mse = ((pred - y) ** 2).mean(-1)
        mse_log.append(mse.detach().numpy().copy())
        dist_log.append((torch.linalg.vector_norm(pred - y_ols, dim=-1)
                         / torch.linalg.vector_norm(y_ols, dim=-1)).detach().numpy())
        w_log.append(w.detach().numpy().copy())
        if epoch == cfg["epochs"]:
            break
        optimizer.zero_grad()
        mse.sum().backward()
        optimizer.step()
    return np.array(mse_log), np.array(dist_log), np.array(w_log)


def test_figure1_trajectories_are_unchanged() -> None:
    cfg = {**merged_config()["training"], "parameterisation": "eq5"}
    data = training_sets(cfg)
    curve, head = training.run(cfg, data["x"], data["y"])
    mse, dist, w = former_training(cfg, data["x"], data["y"])
    for i, seed in enumerate(cfg["seeds"]):
        rows = curve[curve.seed == seed]
        np.testing.assert_allclose(rows["w"], w[:, i], rtol=1e-10)
        np.testing.assert_allclose(rows["mse"], mse[:, i], rtol=1e-12)
        np.testing.assert_allclose(rows["rel_dist_to_ols"], dist[:, i], rtol=1e-7, atol=1e-14)
        aligned = int(np.argmax(dist[:, i] < cfg["alignment_tol"]))
        assert head.loc[head.seed == seed, "alignment_epoch"].item() == aligned
