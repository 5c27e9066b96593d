"""Proof-check and training experiments, checked against closed forms and lstsq."""

from __future__ import annotations

import numpy as np
import pytest

from ols_transformer.data import regression_cases, training_sets
from ols_transformer.experiments import proof, training

PROOF_CFG = {"dtypes": ["float64", "float32"], "reference_digits": 40, "rtol_float64": 1e-10,
             "well_conditioned_max": 1e3}
TRAIN_CFG = {"seeds": [0, 1, 2], "n": 80, "beta": 2.0, "noise_sigma": 0.5, "x_scale": 1.0,
             "w0": 0.1, "learning_rate": 0.01, "epochs": 1500, "alignment_tol": 1e-3}


@pytest.fixture(scope="module")
def proof_table():
    cases = regression_cases({"seed": 1, "noise_sigma": 0.5, "n": [120], "p": [4],
                              "condition_numbers": [1.0, 1e3, 1e6]})
    return proof.run(PROOF_CFG, cases)


def _err(table, method, dtype, cond, quantity="prediction"):
    row = table[(table.method == method) & (table.dtype == dtype) & (table.quantity == quantity)
                & np.isclose(table.cond, cond, rtol=1e-6)]
    assert len(row) == 1
    return row.iloc[0]


def test_transformer_matches_ols_in_float64(proof_table) -> None:
    for method in ("transformer", "transformer_in_context"):
        assert _err(proof_table, method, "float64", 1.0)["max_rel_err"] < 1e-13
        assert _err(proof_table, method, "float64", 1e3)["max_rel_err"] < 1e-9
    summary = proof.summarize(proof_table, PROOF_CFG)
    assert summary.set_index("method").loc["transformer", "pass"]


def test_covariance_route_error_grows_like_cond_squared(proof_table) -> None:
    # From cond 1 to 1e6, eps*cond^2 grows by 1e12 and eps*cond by 1e6.
    transformer = _err(proof_table, "transformer", "float64", 1e6)["max_rel_err"]
    qr = _err(proof_table, "qr_lstsq", "float64", 1e6)["max_rel_err"]
    assert transformer > 1e-9, "cond^2 * eps = 1e-4: the covariance route must lose digits"
    assert qr < 1e-8, "cond * eps = 2e-10: QR keeps them"
    assert transformer > 1e3 * qr


def test_identities_hold_and_float32_refuses_singular_sigma(proof_table) -> None:
    for quantity in ("W W^T = Sigma^-1", "beta_hat = W c", "scores = hat matrix"):
        assert _err(proof_table, "transformer", "float64", 1.0, quantity)["max_rel_err"] < 1e-13
    # cond(Sigma) = 1e12 >> 1/eps32: the construction must refuse, not return garbage.
    row = _err(proof_table, "transformer", "float32", 1e6)
    assert row["status"].startswith("refused") and np.isnan(row["max_rel_err"])
    ok = proof_table[proof_table.status == "ok"]
    assert ok["within_bound"].all()


@pytest.fixture(scope="module")
def training_run():
    data = training_sets(TRAIN_CFG)
    return data, training.run(TRAIN_CFG, data["x"], data["y"])


def test_w_converges_to_inverse_sqrt_covariance(training_run) -> None:
    data, table = training_run
    head = training.headline(table, TRAIN_CFG)
    for i, seed in enumerate(TRAIN_CFG["seeds"]):
        x = data["x"][i]
        w_star = np.sqrt(len(x) / np.sum(x * x))  # Sigma^{-1/2} in one dimension
        row = head[head.seed == seed].iloc[0]
        assert row["w_star"] == pytest.approx(w_star, rel=1e-12)
        assert abs(row["w_final"]) == pytest.approx(w_star, rel=1e-8)


def test_mse_reaches_the_ols_noise_floor(training_run) -> None:
    data, table = training_run
    head = training.headline(table, TRAIN_CFG)
    for i, seed in enumerate(TRAIN_CFG["seeds"]):
        x, y = data["x"][i], data["y"][i]
        beta = np.linalg.lstsq(x[:, None], y, rcond=None)[0]
        ols_mse = np.mean((y - x * beta[0]) ** 2)
        row = head[head.seed == seed].iloc[0]
        assert row["final_mse"] == pytest.approx(ols_mse, rel=1e-10)
        assert 0 < row["alignment_epoch"] <= 1000  # the paper: aligned within ~1000 epochs


def test_training_rows_and_initial_state(training_run) -> None:
    _, table = training_run
    assert len(table) == len(TRAIN_CFG["seeds"]) * (TRAIN_CFG["epochs"] + 1)
    assert (table[table.epoch == 0]["w"] == TRAIN_CFG["w0"]).all()


def test_diverging_training_names_the_setting() -> None:
    cfg = {**TRAIN_CFG, "w0": 1e200, "epochs": 5}
    data = training_sets(cfg)
    with pytest.raises(training.TrainingDivergedError, match="learning_rate=0.01"):
        training.run(cfg, data["x"], data["y"])
