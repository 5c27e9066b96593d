"""The second seed paper (Goulet Coulombe, "Ordinary Least Squares as an Attention Mechanism")
against its own Monte Carlo, and its algebra (``attention_regression``, the math layer).

Parts (``config.attention_regression_parts``): ``identity`` (the OLS-as-attention identity on
held-out queries, the optimisation view, the kernel identity) and one part per (design, N, SNR)
condition: for every base seed of ``seeds`` (the paper's two 5-repeat runs: 42, simul1,
and 24, simul2) every replicate's data (the public code's seeds, base + 1000 r), OLS, RF, GBM,
Nadaraya-Watson, the MLP (only on the runs of ``mlp.runs``: the paper's MLP column is the
seed-24 run, an average of 10 networks) and Attention Regression in each variant of
``variants`` (each fit keeps its first fit's test R^2 beside the one after the refit rule):

- ``paper``: the paper's refit rule, which looks at the test set (test R^2 < refit_below: refit
  with refit_penalty, kept whatever its score);
- ``validation``: the same rule decided on a validation split of the training set (the model
  fits on the rest, so the test set is never looked at);
- ``masked``: the paper's rule, each training point's attention to itself masked in training.

``gather`` concatenates the parts and adds ``ar_comparison``: per condition, model and run
(base seed) our mean test R^2 over the run's first 5 replicates (the paper's draws), its spread
and 95% Student-t interval over the finite replicates (NaN replicates counted apart), next to
the paper's printed mean of the same run (package data ``datasets/ols_attention_mc/runs_r2.csv``)
where the two are comparable, and why not where they are not.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
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

TABLES = ("ar_r2", "ar_comparison", "ar_identity", "ar_optimisation", "ar_kernel")
PAPER_RUNS = {42: "simul1", 24: "simul2"}  # base seed -> the paper's run (OLS, RF, GBM, AttReg)
MLP_RUNS = {24: "mlp_run"}  # the paper's MLP column: base seed 24, 10 networks averaged
PAPER_MODELS = ("OLS", "RF", "GBM", "AttReg_M5", "MLP")
PAPER_REPEATS = 5  # replicates r = 0..4 of each run
PAPER_MLP_ENSEMBLE = 10
VARIANT_MODEL = {"paper": "AttReg_M5", "validation": "AttReg_M5_validation",
                 "masked": "AttReg_M5_masked"}


def runs_table() -> pd.DataFrame:
    """The paper's per-run means as its notebooks print them (960 rows: dgp, n, snr, model, run,
    base_seed, repeats, r2_mean (4 decimals), ...), shipped with the package."""
    path = resources.files("ols_transformer") / "datasets" / "ols_attention_mc" / "runs_r2.csv"
    with resources.as_file(path) as file:
        return pd.read_csv(file)


def _settings(cfg: Mapping[str, Any], penalty: float, mask: bool) -> ar.AttentionSettings:
    return ar.AttentionSettings(heads=int(cfg["heads"]), penalty=penalty,
                                steps=int(cfg["steps"]), mask_self=mask)


def _row(design: str, n: int, snr: float, model: str, test: float, train: float,
         key: Mapping[str, int], **extra: Any) -> dict[str, Any]:
    return {"design": design, "n": n, "snr": snr, **key, "model": model, "r2_test": test,
            "r2_train": train, "ceiling": ar.noise_ceiling(snr), **extra}


def attention_rows(cfg: Mapping[str, Any], draw: ar.Draw, seed: int, variant: str,
                   device: torch.device) -> dict[str, Any]:
    """One Attention Regression fit in ``variant`` (paper / validation / masked) on ``draw``:
    test and train R^2 (train as the paper: every point attending to all, itself included),
    the leave-one-out train R^2 (itself masked), whether the refit rule fired, the first fit's
    test R^2 (``r2_test_first``: the rule not applied), steps, and NaN R^2 with status ``nan``
    where the LBFGS run turned non-finite."""
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
    first = ar.r2(draw.yt, ar.predict_attention(fit, draw.Xt)) if fit.finite else math.nan
    if fit.finite and ar.r2(judge_y, ar.predict_attention(fit, judge_X)) < below:
        fit = ar.fit_attention(X, y, _settings(cfg, float(cfg["refit_penalty"]), mask), seed,
                               device)
        refit = True
    if not fit.finite:
        return {"r2_test": math.nan, "r2_train": math.nan, "r2_train_loo": math.nan,
                "refit": refit, "r2_test_first": first, "steps": fit.steps, "status": "nan"}
    test = ar.r2(draw.yt, ar.predict_attention(fit, draw.Xt))
    train = ar.r2(y, ar.predict_attention(fit))
    loo = ar.r2(y, ar.predict_attention(fit, mask_self=True))
    finite = all(math.isfinite(v) for v in (test, train))
    return {"r2_test": test if finite else math.nan, "r2_train": train if finite else math.nan,
            "r2_train_loo": loo, "refit": refit,
            "r2_test_first": first if math.isfinite(first) else math.nan, "steps": fit.steps,
            "status": "ok" if finite else "nan"}


def baseline_rows(cfg: Mapping[str, Any], draw: ar.Draw, seed: int, device: torch.device,
                  mlp: bool = True) -> dict[str, tuple[float, float, float]]:
    """model -> (test R^2, train R^2, CPU seconds) of OLS, RF, GBM, NW and (``mlp``) the MLP."""
    out: dict[str, tuple[float, float, float]] = {}

    def timed(name: str, fit_predict: Any) -> None:
        start = time.process_time()
        test, train = fit_predict()
        out[name] = (ar.r2(draw.yt, test), ar.r2(draw.y, train), time.process_time() - start)

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
    if not mlp:
        return out
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
                   device: torch.device, progress: Callable[[str], object] = lambda _: None
                   ) -> pd.DataFrame:
    """ar_r2 rows of one condition: every run (base seed) and replicate, every model. Fit times
    go to ``progress`` (the job's log), not into the table."""
    rows = []
    mlp_runs = {int(b) for b in cfg["mlp"]["runs"]}
    for base in (int(b) for b in cfg["seeds"]):
        for rep in range(int(cfg["replicates"])):
            seed = base + 1000 * rep  # the public code's seeds
            draw = ar.simulate(design, n, snr, seed, int(cfg["n_test"]))
            key = {"base_seed": base, "replicate": rep, "seed": seed}
            times = []
            for model, (test, train, sec) in baseline_rows(cfg, draw, seed, device,
                                                           base in mlp_runs).items():
                finite = math.isfinite(test) and math.isfinite(train)
                rows.append(_row(design, n, snr, model, test, train, key, r2_train_loo=math.nan,
                                 refit=False, r2_test_first=test, steps=0,
                                 status="ok" if finite else "nan"))
                times.append(f"{model} {sec:.2f} s")
            for variant in cfg["variants"]:
                start = time.process_time()
                rows.append(_row(design, n, snr, VARIANT_MODEL[variant], math.nan, math.nan, key)
                            | attention_rows(cfg, draw, seed, variant, device))
                times.append(f"{VARIANT_MODEL[variant]} {time.process_time() - start:.2f} s "
                             f"({rows[-1]['steps']} steps)")
            progress(f"{design} N={n} SNR={snr:g} seed {seed}: " + ", ".join(times))
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

def run_part(cfg: Mapping[str, Any], part: str, device: torch.device | None = None,
             progress: Callable[[str], object] = lambda _: None) -> dict[str, pd.DataFrame]:
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
    return {"ar_r2": condition_part(cfg, design, n, snr, device, progress)}


def interval(values: Sequence[float] | np.ndarray, level: float = 0.95
             ) -> tuple[float, float, float, int, int]:
    """(mean, low, high, finite count, NaN count) of ``stats.finite_mean_interval``."""
    found, nan = finite_mean_interval(values, confidence=level)
    return found.estimate, found.low, found.high, found.replicates, nan


def comparable(model: str, base_seed: int, design: str, n: int, snr: float, replicates: int,
               mlp_ensemble: int, grid: set[tuple[str, int, float]]) -> str:
    """"yes" where our run's mean and the paper's printed one are means over the same draws by
    the same estimator; else why not (naming the config field to change)."""
    if model not in PAPER_MODELS:
        return "no paper value for this model"
    runs = MLP_RUNS if model == "MLP" else PAPER_RUNS
    if base_seed not in runs:
        return (f"not the paper's draws (attention_regression.seeds {base_seed}; the "
                f"paper's {model} runs: {', '.join(map(str, runs))})")
    if (design, n, snr) not in grid:
        return f"outside the transcribed grid ({design} N={n} SNR={snr:g})"
    if replicates < PAPER_REPEATS:
        return (f"attention_regression.replicates {replicates} < {PAPER_REPEATS}: not the "
                "paper's 5-repeat mean")
    if model == "MLP" and mlp_ensemble != PAPER_MLP_ENSEMBLE:
        return (f"not the paper's estimator (attention_regression.mlp.ensemble {mlp_ensemble}; "
                f"the paper's MLP averages {PAPER_MLP_ENSEMBLE} networks)")
    return "yes"


def comparison(r2: pd.DataFrame, mlp_ensemble: int, runs: pd.DataFrame | None = None
               ) -> pd.DataFrame:
    """Per (design, n, snr, model, base seed): our mean test R^2 over the run's first
    PAPER_REPEATS replicates (the paper's draws; all replicates where fewer ran), their standard
    deviation, the 95% t interval over the finite ones, the NaN count, the mean train R^2, and
    the paper's printed mean of the same run (``paper_r2``, NaN where not ``comparable``)."""
    runs = runs_table() if runs is None else runs
    printed = {(r.dgp, int(r.n), float(r.snr), r.model, int(r.base_seed)): float(r.r2_mean)
               for r in runs.itertuples()}
    grid = {(d, n, s) for d, n, s, _, _ in printed}
    rows = []
    for (design, n, snr, model, base), g in r2.groupby(
            ["design", "n", "snr", "model", "base_seed"], sort=False):
        ran = int(g["replicate"].nunique())
        g = g[g["replicate"] < PAPER_REPEATS]
        mean, low, high, ok, nan = interval(g["r2_test"])
        finite = g["r2_test"][np.isfinite(g["r2_test"])]
        why = comparable(str(model), int(base), str(design), int(n), float(snr), ran,
                         mlp_ensemble, grid)
        paper = printed.get((design, int(n), float(snr), model, int(base)), math.nan)
        rows.append({"design": design, "n": int(n), "snr": float(snr), "model": model,
                     "base_seed": int(base), "run": (MLP_RUNS if model == "MLP" else PAPER_RUNS
                                                     ).get(int(base), ""),
                     "r2_mean": mean, "r2_sd": float(finite.std(ddof=1)) if ok > 1 else math.nan,
                     "ci_low": low, "ci_high": high, "replicates": ok, "nan_replicates": nan,
                     "r2_train_mean": float(g["r2_train"].mean()),
                     "ceiling": ar.noise_ceiling(float(snr)),
                     "paper_r2": paper if why == "yes" else math.nan,
                     "diff": mean - paper if why == "yes" else math.nan, "comparable": why})
    return pd.DataFrame(rows)


def gather(cfg: Mapping[str, Any], pieces: Sequence[Mapping[str, pd.DataFrame]]
           ) -> dict[str, pd.DataFrame]:
    """The stage's tables from its parts' (concatenated in part order) and the comparison."""
    found = concat_tables(pieces)
    out = {name: found[name] for name in TABLES if name in found}
    if "ar_r2" in out:
        out["ar_comparison"] = comparison(out["ar_r2"], int(cfg["mlp"]["ensemble"]))
    return out


def run(cfg: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """The whole stage in one call (tests, notebooks): every part, gathered."""
    return gather(cfg, [run_part(cfg, part) for part in attention_regression_parts(cfg)])
