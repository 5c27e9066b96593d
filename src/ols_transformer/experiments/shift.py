"""Covariance-shift study (paper Section 3): static OLS vs the OLS-Transformer in context.

``run_family(cfg, family)`` sweeps one shift family over its magnitudes, the context sizes m
and the seeds, and returns one row per (family, magnitude, m, seed). ``summarize(table)``
turns the table into the headline checks, one row per check with a pass/fail column.

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

from .. import shift as sm

TRAIN_STREAM, CONTEXT_STREAM = 0, 1


@dataclass(frozen=True)
class TrainedSlowMemory:
    """What training leaves behind: Sigma_tr, its whitener W (W W^T = Sigma_tr^{-1}), beta_hat."""

    beta: np.ndarray
    sigma_tr: np.ndarray
    W: np.ndarray
    beta_hat: np.ndarray


def _check_sizes(cfg: Mapping[str, Any]) -> None:
    """p < n_train and p < every m: the second moments must be invertible (not in the schema)."""
    p = int(cfg["p"])
    too_small = [m for m in cfg["context_sizes"] if m <= p]
    if int(cfg["n_train"]) <= p or too_small:
        raise ValueError(
            f"config 'shift': p={p} needs n_train > p (got {cfg['n_train']}) and every context "
            f"size m > p (got {too_small or 'ok'}); raise them or lower p"
        )


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
    return TrainedSlowMemory(beta, sigma_tr, sm.inverse_sqrt_factor(sigma_tr), beta_hat)


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
    y_tf = sm.transformer_predict(X, X, y, slow.W)
    signal, noise_term = sm.eq10_terms(X, beta, noise, slow.sigma_tr)
    y_pop = X @ (sm.distortion(s_tr, s_te) @ beta)
    # Oracle: slow memory rebuilt from the context itself (W W^T = Sigma_te^{-1}).
    y_oracle = sm.transformer_predict(X, X, y, sm.inverse_sqrt_factor(sigma_te))
    y_context_ols = X @ np.linalg.lstsq(X, y, rcond=None)[0]

    d_pop = sm.distortion(s_tr, s_te)
    d_emp = sm.distortion(slow.sigma_tr, sigma_te)
    d_probe = sm.probe_distortion(X, slow.W)
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
    if family not in cfg["families"]:
        raise ValueError(
            f"shift family {family!r} is not in config 'shift.families' "
            f"({', '.join(cfg['families'])})"
        )
    _check_sizes(cfg)
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


def run(cfg: Mapping[str, Any]) -> pd.DataFrame:
    """Every family of the config in one table (the workflow runs them as separate jobs)."""
    return combine([run_family(cfg, family) for family in cfg["families"]])


def combine(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """The covariance_shift table: every family's rows in a fixed order."""
    table = pd.concat(tables, ignore_index=True)
    order = {name: i for i, name in enumerate(sm.FAMILIES)}
    key = table["family"].map(order)
    return (table.assign(_order=key)
            .sort_values(["_order", "magnitude", "m", "seed"])
            .drop(columns="_order").reset_index(drop=True))


# ---- headline checks -------------------------------------------------------------------------

DEFAULT_TOLERANCES = {"identity_rtol": 1e-10, "noise_band": 3.0, "slope_tol": 0.1}


def _check(name: str, family: str, m: Any, value: float, threshold: str, passed: bool,
           what: str) -> dict[str, Any]:
    return {"check": name, "family": family, "m": m, "value": value, "threshold": threshold,
            "passed": bool(passed), "description": what}


def _rms(values: pd.Series) -> float:
    return float(np.sqrt(np.mean(np.square(values))))


def _slope_through_origin(x: pd.Series, y: pd.Series) -> float:
    return float((x * y).sum() / (x * x).sum())


def summarize(table: pd.DataFrame, tolerances: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Headline checks of Section 3, one row each, with ``passed``.

    - eq10_identity / probe_identity / oracle_is_context_ols: exact identities (float64).
    - no_shift_matches_ols: with S_te = S_tr the transformer is within ``noise_band`` times the
      predicted sampling band of static OLS (per m; the band shrinks like 1/sqrt(m)).
    - eq10_noise_term: the transformer minus eq. 10's first term has the size of the noise term
      (RMS ratio within [1/noise_band, noise_band]).
    - static_ols_undistorted: static OLS error stays within ``noise_band`` x its O(1/n) theory.
    - distortion_agreement: at the largest m, measured ||D - I||_F against the population
      prediction has slope 1 within ``slope_tol`` (per family, shifted settings only).
    """
    tol = {**DEFAULT_TOLERANCES, **(tolerances or {})}
    rtol, band = float(tol["identity_rtol"]), float(tol["noise_band"])
    checks = []
    for family, rows in table.groupby("family", sort=False):
        for name, column, what in (
            ("eq10_identity", "eq10_residual",
             "max |y_tf - (X' S_tr^-1 S_te b + X' S_tr^-1 X'^T e'/m)| / max|y_tf| (empirical S)"),
            ("probe_identity", "probe_residual",
             "distortion measured from the model's predictions vs S_tr^-1 S_te (empirical)"),
            ("oracle_is_context_ols", "oracle_vs_context_ols",
             "W W^T = S_te^-1 from the context gives in-context OLS (lstsq on the context)"),
        ):
            worst = float(rows[column].max())
            checks.append(_check(name, family, "all", worst, f"<= {rtol:g}", worst <= rtol, what))
        ratio = _rms(rows["eq10_noise_ratio"])
        checks.append(_check(
            "eq10_noise_term", family, "all", ratio, f"in [{1 / band:.3g}, {band:g}]",
            1 / band <= ratio <= band,
            "RMS of ||y_tf - eq.10 first term|| / expected noise-term norm (1 = as predicted)"))
        ols = _rms(rows["relerr_ols"]) / _rms(rows["relerr_ols_theory"])
        checks.append(_check(
            "static_ols_undistorted", family, "all", ols, f"<= {band:g}", ols <= band,
            "RMS relative error of static OLS / its theory sigma^2 tr(S_tr^-1 S_te)/n"))
        checks.extend(_agreement_checks(family, rows, float(tol["slope_tol"])))
    for m, rows in table[table["no_shift"]].groupby("m"):
        ratio = _rms(rows["transformer_vs_ols"]) / _rms(rows["no_shift_band"])
        checks.append(_check(
            "no_shift_matches_ols", "all", int(m), ratio, f"<= {band:g}", ratio <= band,
            f"no shift: RMS ||y_tf - y_ols||/||X'b|| = {_rms(rows['transformer_vs_ols']):.3g} "
            f"vs sampling band {_rms(rows['no_shift_band']):.3g}"))
    return pd.DataFrame(checks)


def _agreement_checks(family: str, rows: pd.DataFrame, slope_tol: float) -> list[dict[str, Any]]:
    """Measured vs predicted distortion, per m; the pass/fail uses the largest m (least noise)."""
    shifted = rows[~rows["no_shift"]]
    if shifted.empty:
        return []
    out = []
    largest = int(shifted["m"].max())
    for m, at_m in shifted.groupby("m"):
        slope = _slope_through_origin(at_m["distortion_predicted"], at_m["distortion_measured"])
        gate = int(m) == largest
        out.append(_check(
            "distortion_agreement", family, int(m), slope,
            f"|slope - 1| <= {slope_tol:g}" if gate else "reported",
            abs(slope - 1) <= slope_tol if gate else True,
            "slope of measured ||S_tr^-1 S_te - I||_F (model probes) on the population "
            "prediction, through the origin"))
    return out


def headline(summary: pd.DataFrame) -> str:
    """One line for logs: how many checks passed and which failed."""
    failed = summary[~summary["passed"]]
    names = ", ".join(f"{r.check}[{r.family}, m={r.m}]" for r in failed.itertuples())
    return f"{len(summary) - len(failed)}/{len(summary)} checks passed" + (
        f"; failed: {names}" if names else "")
