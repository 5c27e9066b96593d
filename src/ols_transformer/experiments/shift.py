"""Covariance-shift study (paper Section 3): static OLS vs the OLS-Transformer in context.

``run_family(cfg, family)`` sweeps one shift family over its magnitudes, the context sizes m
and the seeds, and returns one row per (family, magnitude, m, seed). Its checks are
``checks.shift``, called by the stage's script.

Randomness (all numpy ``default_rng``, seeded from the config):
- ``population_seed``: the training distribution's eigenbasis and the mean-shift direction,
  shared by every seed, so the predicted distortion of a setting is one number;
- ``[population_seed, seed, 0]``: train set and beta of one seed;
- ``[population_seed, seed, 1, m]``: the context's standard-normal draws and noise, shared by
  all families and magnitudes (common random numbers: curves differ by the shift only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from .. import shift as sm
from ..config import ConfigError, shift_problems
from ..construction import in_context_predict, whitener
from ..progress import Report, tracked

TRAIN_STREAM, CONTEXT_STREAM = 0, 1


# The model itself is construction.py's OLS-Transformer; these two convert at the boundary.

def slow_memory(S: np.ndarray) -> np.ndarray:
    """W with W W^T = S^{-1}: construction.whitener of the second moment S (p x p)."""
    return whitener(torch.from_numpy(S)).numpy()


def transformer_predict(
    queries: np.ndarray, context: np.ndarray, y_context: np.ndarray, W: np.ndarray
) -> np.ndarray:
    """The OLS-Transformer in context (construction.in_context_predict), eq. 9:
    (1/m) (X_q W)(X' W)^T y'. Shape: queries (q, p), context (m, p), y_context (m) or (m, k),
    W (p, p) -> (q) or (q, k)."""
    t = torch.from_numpy
    return in_context_predict(t(W), t(context), t(y_context), t(queries)).numpy()


def probe_distortion(context: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Measure the model's distortion operator from its predictions alone.

    Feed noise-free labels y' = X' e_j for each basis vector e_j and regress the predictions
    on X': column j is the effective beta for beta = e_j. The model is linear in y', so this
    is the operator the model applies to any beta.
    """
    probes = transformer_predict(context, context, context, W)  # column j answers y' = X' e_j
    return sm.effective_beta(context, probes)



@dataclass(frozen=True)
class TrainedSlowMemory:
    """What training leaves behind: Sigma_tr, its whitener W (W W^T = Sigma_tr^{-1}), beta_hat."""

    beta: np.ndarray
    sigma_tr: np.ndarray
    W: np.ndarray
    beta_hat: np.ndarray


def base_structure(cfg: Mapping[str, Any]) -> sm.BaseStructure:
    rng = np.random.default_rng(int(cfg["population_seed"]))
    return sm.base_structure(int(cfg["p"]), float(cfg["base_condition_number"]), rng)


def train(cfg: Mapping[str, Any], base: sm.BaseStructure, seed: int) -> TrainedSlowMemory:
    """Draw beta ~ N(0, I) and the train set, and keep the slow memory."""
    rng = np.random.default_rng([int(cfg["population_seed"]), int(seed), TRAIN_STREAM])
    p, n = int(cfg["p"]), int(cfg["n_train"])
    beta = rng.standard_normal(p)
    X = sm.sample(base.population, rng.standard_normal((n, p)))
    y = X @ beta + float(cfg["noise_sigma"]) * rng.standard_normal(n)
    sigma_tr = sm.second_moment(X)
    beta_hat = np.linalg.lstsq(X, y, rcond=None)[0]
    return TrainedSlowMemory(beta, sigma_tr, slow_memory(sigma_tr), beta_hat)


def context_draws(cfg: Mapping[str, Any], seed: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Standard-normal inputs (m x p) and noise eps' (m) for one (seed, m)."""
    rng = np.random.default_rng([int(cfg["population_seed"]), int(seed), CONTEXT_STREAM, int(m)])
    z = rng.standard_normal((m, int(cfg["p"])))
    return z, float(cfg["noise_sigma"]) * rng.standard_normal(m)


def evaluate(
    cfg: Mapping[str, Any],
    slow: TrainedSlowMemory,
    base: sm.BaseStructure,
    population: sm.Population,
    z: np.ndarray,
    noise: np.ndarray,
) -> dict[str, float]:
    """Every measured and predicted quantity of one setting (queries = the context, eq. 10)."""
    beta, sigma = slow.beta, float(cfg["noise_sigma"])
    p, n = len(beta), int(cfg["n_train"])
    X = sm.sample(population, z)
    truth = X @ beta
    y = truth + noise
    sigma_te = sm.second_moment(X)
    s_tr, s_te = base.cov, population.second_moment  # population matrices

    y_ols = X @ slow.beta_hat
    y_tf = transformer_predict(X, X, y, slow.W)
    signal, noise_term = sm.eq10_terms(X, beta, noise, slow.sigma_tr)
    y_pop = X @ (sm.distortion(s_tr, s_te) @ beta)
    # Oracle: slow memory rebuilt from the context itself (W W^T = Sigma_te^{-1}).
    y_oracle = transformer_predict(X, X, y, slow_memory(sigma_te))
    y_context_ols = X @ np.linalg.lstsq(X, y, rcond=None)[0]

    d_pop = sm.distortion(s_tr, s_te)
    d_emp = sm.distortion(slow.sigma_tr, sigma_te)
    d_probe = probe_distortion(X, slow.W)
    beta_eff = sm.effective_beta(X, y_tf)
    beta_norm = float(np.linalg.norm(beta))
    return {
        "signal_rms": float(np.linalg.norm(truth) / np.sqrt(len(truth))),
        # Prediction errors, relative to the noise-free truth X' beta.
        "relerr_ols": sm.relative_error(y_ols, truth),
        "relerr_transformer": sm.relative_error(y_tf, truth),
        "relerr_eq10": sm.relative_error(signal, truth),
        "relerr_eq10_population": sm.relative_error(y_pop, truth),
        "relerr_oracle": sm.relative_error(y_oracle, truth),
        "relerr_ols_theory": sm.ols_relative_rmse_theory(sigma, n, s_tr, s_te, beta),
        "relerr_transformer_theory": sm.transformer_relative_rmse_theory(s_tr, s_te, beta),
        # The transformer against static OLS, and the sampling band of that gap at no shift.
        "transformer_vs_ols": float(np.linalg.norm(y_tf - y_ols) / np.linalg.norm(truth)),
        "no_shift_band": sm.no_shift_sampling_rmse(p, len(y), n, sigma, float(beta @ s_tr @ beta)),
        # Eq. 10 with empirical matrices is an identity; the noise term has a known size.
        "eq10_residual": float(np.abs(y_tf - signal - noise_term).max() / np.abs(y_tf).max()),
        "eq10_noise_ratio": float(np.linalg.norm(y_tf - signal))
        / sm.noise_term_rms(X, slow.sigma_tr, sigma),
        # Distortion ||D - I||_F: predicted (population), empirical (matrices), measured (model).
        "distortion_predicted": sm.distortion_norm(d_pop),
        "distortion_empirical": sm.distortion_norm(d_emp),
        "distortion_measured": sm.distortion_norm(d_probe),
        "probe_residual": float(np.linalg.norm(d_probe - d_emp) / np.linalg.norm(d_emp)),
        # Coefficient distortion ||beta_eff - beta|| / ||beta||, beta_eff from noisy predictions.
        "coef_distortion_predicted": float(np.linalg.norm((d_pop - np.eye(p)) @ beta) / beta_norm),
        "coef_distortion_measured": float(np.linalg.norm(beta_eff - beta) / beta_norm),
        # The oracle is in-context OLS: Sigma_te = Sigma_tr recovers OLS (on the context).
        "oracle_vs_context_ols": sm.relative_error(y_oracle, y_context_ols),
    }


def run_family(cfg: Mapping[str, Any], family: str) -> pd.DataFrame:
    """One row per (magnitude, m, seed) of ``family``; deterministic given the config."""
    problems = shift_problems(cfg)
    if problems:
        raise ConfigError("; ".join(problems))
    if family not in cfg["families"]:
        raise ValueError(
            f"shift family {family!r} is not in config 'shift.families' "
            f"({', '.join(cfg['families'])})"
        )
    base = base_structure(cfg)
    populations = {float(t): sm.shifted_population(family, float(t), base)
                   for t in cfg["families"][family]}
    rows = []
    for seed in cfg["seeds"]:
        slow = train(cfg, base, seed)
        for m in cfg["context_sizes"]:
            z, noise = context_draws(cfg, seed, m)
            for magnitude, population in populations.items():
                row = {"family": family, "magnitude": magnitude, "m": int(m), "seed": int(seed),
                       "n_train": int(cfg["n_train"]), "p": int(cfg["p"]),
                       "no_shift": magnitude == sm.NO_SHIFT[family]}
                row.update(evaluate(cfg, slow, base, population, z, noise))
                rows.append(row)
    return pd.DataFrame(rows).sort_values(["magnitude", "m", "seed"], ignore_index=True)


def run(cfg: Mapping[str, Any], progress: Report | None = None) -> pd.DataFrame:
    """Every family of the config in one table; ``progress`` gets a line with the time left
    after each family (``progress.tracked``)."""
    return combine([run_family(cfg, family)
                    for family in tracked(list(cfg["families"]), "shift families", progress)])


def combine(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """The covariance_shift table: every family's rows in a fixed order."""
    table = pd.concat(tables, ignore_index=True)
    order = {name: i for i, name in enumerate(sm.FAMILIES)}
    key = table["family"].map(order)
    return (table.assign(_order=key)
            .sort_values(["_order", "magnitude", "m", "seed"])
            .drop(columns="_order").reset_index(drop=True))
