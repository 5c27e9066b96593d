"""The second seed paper (Goulet Coulombe, "Ordinary Least Squares as an Attention Mechanism")
against its own Monte Carlo, and its algebra (``attention_regression``, the math layer).

Parts (``config.attention_regression_parts``): ``identity`` (the OLS-as-attention identity on
held-out queries, the optimisation view, the kernel identity) and one part per (design, N, SNR)
condition: every replicate's data (the public code's seeds, base + 1000 r), OLS, RF, GBM,
Nadaraya-Watson, the MLP and Attention Regression in each variant of ``variants``:

- ``paper``: the paper's refit rule, which looks at the test set (test R^2 < refit_below: refit
  with refit_penalty, kept whatever its score);
- ``validation``: the same rule decided on a validation split of the training set (the model
  fits on the rest, so the test set is never looked at);
- ``masked``: the paper's rule, each training point's attention to itself masked in training.

``gather`` concatenates the parts and adds ``ar_comparison``: each model's mean R^2 per
condition with its 95% Student-t interval over the finite replicates (NaN replicates counted
apart), next to the transcribed reference (package data ``datasets/ols_attention_mc``).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import LinearRegression

from .. import attention_regression as ar
from ..config import attention_regression_parts, condition_of_part
from ..data import design_matrix
from ..hopfield import resolve_device
from ..ols import reference_ols
from ..stats import finite_mean_interval
from . import concat_tables

# Timings go to the job's log, never to a table: a table holds results only, so two runs of one
# config give identical bytes (the cost table has each job's seconds).
log = logging.getLogger(__name__)

TABLES = ("ar_r2", "ar_comparison", "ar_identity", "ar_optimisation", "ar_kernel")
REFERENCE_MODELS = {"OLS": "OLS", "RF": "RF", "GBM": "GBM", "MLP": "MLP",
                    "AttReg_M5": "AttReg_M5"}  # our model name -> the reference's
VARIANT_MODEL = {"paper": "AttReg_M5", "validation": "AttReg_M5_validation",
                 "masked": "AttReg_M5_masked"}


def reference_table() -> pd.DataFrame:
    """The transcribed per-condition means (480 rows: dgp, n, snr, model, r2_mean, repeats,
    source), shipped with the package."""
    path = resources.files("ols_transformer") / "datasets" / "ols_attention_mc" / "reference_r2.csv"
    with resources.as_file(path) as file:
        return pd.read_csv(file)


def _settings(cfg: Mapping[str, Any], penalty: float, mask: bool) -> ar.AttentionSettings:
    return ar.AttentionSettings(heads=int(cfg["heads"]), penalty=penalty,
                                steps=int(cfg["steps"]), mask_self=mask)


def _row(design: str, n: int, snr: float, rep: int, seed: int, model: str, test: float,
         train: float, **extra: Any) -> dict[str, Any]:
    return {"design": design, "n": n, "snr": snr, "replicate": rep, "seed": seed,
            "model": model, "r2_test": test, "r2_train": train,
            "ceiling": ar.noise_ceiling(snr), **extra}


def attention_rows(cfg: Mapping[str, Any], draw: ar.Draw, seed: int, variant: str,
                   device: torch.device) -> dict[str, Any]:
    """One Attention Regression fit in ``variant`` (paper / validation / masked) on ``draw``:
    test and train R^2 (train as the paper: every point attending to all, itself included),
    the leave-one-out train R^2 (itself masked), whether the refit rule fired and steps (its
    seconds: to the log), and NaN R^2 with status ``nan`` where the LBFGS run turned
    non-finite."""
    start = time.process_time()
    mask = variant == "masked"
    X, y = draw.X, draw.y
    if variant == "validation":  # the rule decided on held-out training rows
        order = np.random.default_rng(seed).permutation(len(y))
        n_val = int(round(float(cfg["validation_fraction"]) * len(y)))
        judge_X, judge_y = X[order[:n_val]], y[order[:n_val]]
        X, y = X[order[n_val:]], y[order[n_val:]]
    else:
        judge_X, judge_y = draw.Xt, draw.yt  # the paper's rule: the test set
    fit = ar.fit_attention(X, y, _settings(cfg, float(cfg["penalty"]), mask), seed, device)
    refit = False
    below = float(cfg["refit_below"])
    if fit.finite and ar.r2(judge_y, ar.predict_attention(fit, judge_X)) < below:
        fit = ar.fit_attention(X, y, _settings(cfg, float(cfg["refit_penalty"]), mask), seed,
                               device)
        refit = True
    if not fit.finite:
        log.info("AttReg %s fit: %.2f s (not finite)", variant, time.process_time() - start)
        return {"r2_test": math.nan, "r2_train": math.nan, "r2_train_loo": math.nan,
                "refit": refit, "steps": fit.steps, "status": "nan"}
    test = ar.r2(draw.yt, ar.predict_attention(fit, draw.Xt))
    train = ar.r2(y, ar.predict_attention(fit))
    loo = ar.r2(y, ar.predict_attention(fit, mask_self=True))
    finite = all(math.isfinite(v) for v in (test, train))
    log.info("AttReg %s fit: %.2f s", variant, time.process_time() - start)
    return {"r2_test": test if finite else math.nan, "r2_train": train if finite else math.nan,
            "r2_train_loo": loo, "refit": refit, "steps": fit.steps,
            "status": "ok" if finite else "nan"}


def baseline_rows(cfg: Mapping[str, Any], draw: ar.Draw, seed: int, device: torch.device
                  ) -> dict[str, tuple[float, float]]:
    """model -> (test R^2, train R^2) of OLS, RF, GBM, NW and the MLP (seconds: to the log)."""
    out: dict[str, tuple[float, float]] = {}

    def timed(name: str, fit_predict: Any) -> None:
        start = time.process_time()
        test, train = fit_predict()
        out[name] = (ar.r2(draw.yt, test), ar.r2(draw.y, train))
        log.info("%s fit: %.2f s", name, time.process_time() - start)

    def sk(model: Any) -> tuple[np.ndarray, np.ndarray]:
        model.fit(draw.X, draw.y)
        return model.predict(draw.Xt), model.predict(draw.X)

    timed("OLS", lambda: sk(LinearRegression()))
    timed("RF", lambda: sk(RandomForestRegressor(
        n_estimators=int(cfg["rf_trees"]), max_features=float(cfg["rf_mtry"]), n_jobs=1,
        random_state=seed)))
    timed("GBM", lambda: sk(GradientBoostingRegressor(
        n_estimators=int(cfg["gbm_trees"]), learning_rate=float(cfg["gbm_learning_rate"]),
        random_state=seed)))

    def nw() -> tuple[np.ndarray, np.ndarray]:
        h = ar.nw_bandwidth(draw.X, draw.y, np.asarray(cfg["nw_bandwidths"], float))
        return ar.nw_predict(draw.X, draw.y, draw.Xt, h), ar.nw_predict(draw.X, draw.y, draw.X, h)

    timed("NW", nw)
    m = cfg["mlp"]
    settings = ar.MLPSettings(ensemble=int(m["ensemble"]), max_epochs=int(m["max_epochs"]),
                              patience=int(m["patience"]))

    def mlp() -> tuple[np.ndarray, np.ndarray]:
        (test, train), _ = ar.mlp_predict(draw.X, draw.y, [draw.Xt, draw.X], settings, seed,
                                          device)
        return test, train

    timed("MLP", mlp)
    return out


def condition_part(cfg: Mapping[str, Any], design: str, n: int, snr: float,
                   device: torch.device) -> pd.DataFrame:
    """ar_r2 rows of one condition: every replicate, every model."""
    rows = []
    for rep in range(int(cfg["replicates"])):
        seed = int(cfg["base_seed"]) + 1000 * rep  # the public code's seeds
        draw = ar.simulate(design, n, snr, seed, int(cfg["n_test"]))
        for model, (test, train) in baseline_rows(cfg, draw, seed, device).items():
            finite = math.isfinite(test) and math.isfinite(train)
            rows.append(_row(design, n, snr, rep, seed, model, test, train, r2_train_loo=math.nan,
                             refit=False, steps=0, status="ok" if finite else "nan"))
        for variant in cfg["variants"]:
            rows.append(_row(design, n, snr, rep, seed, VARIANT_MODEL[variant], math.nan,
                             math.nan) | attention_rows(cfg, draw, seed, variant, device))
    return pd.DataFrame(rows)


# ---- the algebra -----------------------------------------------------------------------------

def identity_table(cfg: Mapping[str, Any]) -> pd.DataFrame:
    """The identity out of sample: per cond(X) and route, the largest relative error of the
    attention predictions F_q F^T y at held-out queries against a high-precision OLS prediction,
    and of F^T F against I. Queries: fresh rows G X / sqrt(n) (G Gaussian, (q, n)), so they come
    from the training rows' distribution and lie in their span."""
    c = cfg["identity"]
    n, p, q = int(c["n"]), int(c["p"]), int(c["queries"])
    rows = []
    for i, cond in enumerate(c["condition_numbers"]):
        rng = np.random.default_rng([int(cfg["base_seed"]), 7, i])
        X = design_matrix(n, p, float(cond), rng)
        y = X @ rng.standard_normal(p) + rng.standard_normal(n)
        Xq = rng.standard_normal((q, n)) @ X / math.sqrt(n)
        beta, _, _ = reference_ols(X, y, int(c["reference_digits"]))
        truth = Xq @ beta
        for route in ar.ROUTES:
            E = ar.embedding(X, route)
            F = X @ E
            pred = ar.ols_attention(X, y, Xq, route)
            rows.append({"cond": float(cond), "cond_measured": float(np.linalg.cond(X)),
                         "route": route, "n": n, "p": p, "queries": q,
                         "max_rel_err": float(np.max(np.abs(pred - truth))
                                              / np.max(np.abs(truth))),
                         "orthonormality_err": float(np.max(np.abs(F.T @ F - np.eye(p)))),
                         "dtype": "float64"})
    return pd.DataFrame(rows)


def optimisation_table(cfg: Mapping[str, Any]) -> pd.DataFrame:
    """The optimisation view: Omega = L L^T fitted by LBFGS to k targets sharing X; the relative
    prediction gap to OLS in and out of sample, and ||Omega - (X^T X)^-1||_F relative to
    ||(X^T X)^-1||_F (identified only for k >= p)."""
    c = cfg["optimisation"]
    n, p = int(c["n"]), int(c["p"])
    rows = []
    for k in c["targets"]:
        for s in c["seeds"]:
            rng = np.random.default_rng([int(cfg["base_seed"]), 11, int(k), int(s)])
            X = rng.standard_normal((n, p))
            Y = X @ rng.standard_normal((p, int(k))) + rng.standard_normal((n, int(k)))
            Xq = rng.standard_normal((200, p))
            fit = ar.fit_omega(X, Y)
            B = np.linalg.lstsq(X, Y, rcond=None)[0]
            gap = {}
            for where, Z in (("train", X), ("test", Xq)):
                ols = Z @ B
                gap[where] = float(np.max(np.abs(Z @ fit.Omega @ (X.T @ Y) - ols))
                                   / np.max(np.abs(ols)))
            inv = np.linalg.inv(X.T @ X)
            rows.append({"targets": int(k), "p": p, "n": n, "seed": int(s),
                         "identified": int(k) >= p,
                         "pred_gap_train": gap["train"], "pred_gap_test": gap["test"],
                         "omega_rel_dist": float(np.linalg.norm(fit.Omega - inv)
                                                 / np.linalg.norm(inv)),
                         "iterations": fit.iterations, "loss": fit.loss})
    return pd.DataFrame(rows)


def kernel_table(cfg: Mapping[str, Any]) -> pd.DataFrame:
    """softmax_j(x^T Omega x_j) against the Gaussian-kernel form, per random Omega scale."""
    rows = []
    for i, scale in enumerate([0.1, 1.0, 10.0, 100.0]):
        rng = np.random.default_rng([int(cfg["base_seed"]), 13, i])
        X, Xq = rng.uniform(0, 1, (300, ar.P)), rng.uniform(0, 1, (50, ar.P))
        L = np.tril(rng.standard_normal((ar.P, ar.P)))
        Omega = scale * L @ L.T
        a, b = ar.softmax_weights(Xq, X, Omega), ar.kernel_weights(Xq, X, Omega)
        rows.append({"omega_scale": scale, "keys": len(X), "queries": len(Xq),
                     "max_abs_diff": float(np.max(np.abs(a - b))),
                     "max_rel_diff": float(np.max(np.abs(a - b) / np.maximum(a, 1e-300)
                                                  * (a > 1e-200)))})
    return pd.DataFrame(rows)


# ---- parts and gather ------------------------------------------------------------------------

def run_part(cfg: Mapping[str, Any], part: str, device: torch.device | None = None
             ) -> dict[str, pd.DataFrame]:
    """One job's tables: ``identity`` -> ar_identity, ar_optimisation, ar_kernel; a condition
    part -> ar_r2 (its rows)."""
    if part not in attention_regression_parts(cfg):
        raise ValueError(f"unknown attention_regression part {part!r}; known: "
                         f"{', '.join(attention_regression_parts(cfg))}")
    if part == "identity":
        return {"ar_identity": identity_table(cfg), "ar_optimisation": optimisation_table(cfg),
                "ar_kernel": kernel_table(cfg)}
    device = device or resolve_device(str(cfg["device"]), "attention_regression.device")
    design, n, snr = condition_of_part(part)
    return {"ar_r2": condition_part(cfg, design, n, snr, device)}


def interval(values: Sequence[float] | np.ndarray, level: float = 0.95
             ) -> tuple[float, float, float, int, int]:
    """(mean, low, high, finite count, NaN count) of ``stats.finite_mean_interval``."""
    found, nan = finite_mean_interval(values, confidence=level)
    return found.estimate, found.low, found.high, found.replicates, nan


def comparison(r2: pd.DataFrame, reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per (design, n, snr, model): mean test and train R^2, the 95% t interval of the test R^2
    over finite replicates, the NaN count, and the transcribed value where the paper has one."""
    reference = reference_table() if reference is None else reference
    ref = reference.set_index(["dgp", "n", "snr", "model"])["r2_mean"]
    rows = []
    for (design, n, snr, model), g in r2.groupby(["design", "n", "snr", "model"], sort=False):
        mean, low, high, ok, nan = interval(g["r2_test"])
        key = (design, int(n), float(snr), REFERENCE_MODELS.get(model, ""))
        rows.append({"design": design, "n": int(n), "snr": float(snr), "model": model,
                     "r2_mean": mean, "ci_low": low, "ci_high": high, "replicates": ok,
                     "nan_replicates": nan,
                     "r2_train_mean": float(g["r2_train"].mean()),
                     "ceiling": ar.noise_ceiling(float(snr)),
                     "paper_r2": float(ref.get(key, math.nan))})
    return pd.DataFrame(rows)


def gather(cfg: Mapping[str, Any], pieces: Sequence[Mapping[str, pd.DataFrame]]
           ) -> dict[str, pd.DataFrame]:
    """The stage's tables from its parts' (concatenated in part order) and the comparison."""
    found = concat_tables(pieces)
    out = {name: found[name] for name in TABLES if name in found}
    if "ar_r2" in out:
        out["ar_comparison"] = comparison(out["ar_r2"])
    return out


def run(cfg: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """The whole stage in one call (tests, notebooks): every part, gathered."""
    return gather(cfg, [run_part(cfg, part) for part in attention_regression_parts(cfg)])
