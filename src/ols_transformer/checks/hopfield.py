"""Checks of the Hopfield capacity study (Sec. 4), from ``hopfield_capacity.csv``.

The growth law of each run is fitted on its mean capacity over seeds per N (``growth``); the
claims judge it (config ``hopfield.criteria``):
- ``projection_slope_tol``: the OLS-Transformer's memory (projection rule) has linear capacity
  with no ln N factor: |log-log slope - 1| within this;
- ``linear_slope_min``/``max``: log-log slope range for Hebbian linear attention (N / (2 ln N)
  under exact recall: slope below 1 by ~1/ln N);
- ``projection_over_hebbian_min``: the projection rule stores at least this many times the
  Hebbian capacity at every common N >= ``projection_over_hebbian_from_N`` (ours);
- ``amit_alpha``, ``amit_alpha_tol``: the classical network at Amit's criterion (overlap >=
  min_overlap < 1), alpha(N) = C / N fitted as alpha_inf + a / sqrt(N); |alpha_inf - amit_alpha|
  within the tolerance;
- ``poly_slope_tol``: F(x) = x^n, local log-log slope at the largest N within this of n - 1
  (the ln N factor of the theory lowers it by ~1/ln N at the N simulated);
- ``exp_loglog_slope_min``: exponential growth, local log-log slope at the largest N above that
  of the steepest power law of Section 4's table (x^4: N^3);
- the exponential energy's semilog rate against theory: at least Demircigil et al.'s
  I(1 - 2 rho) / 2 (a rate above the nearest-neighbour limit I(1 - 2 rho) is a finite-size
  excess, said in the detail);
- softmax, one row per inverse temperature: ln C fitted on N and on sqrt(N); "exponential in
  N" when ln C is better fitted by N and the local log-log slope exceeds N^3's.
A local slope (between the two largest N) compares growth laws across different N ranges: a
power law N^k has the constant local slope k, exponential growth one that keeps rising.
A claim whose model was not simulated is MISSING, never judged on another model.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..hopfield_theory import MODELS, PROJECTION_MODELS, TIERS, theory
from . import Check, Fit, at_least, at_most, fit_line, missing, reported, require, within

COLUMNS = ("run", "model", "N", "seed", "capacity", "rho", "min_overlap", "beta", "censored")
INV_SQRT_N = "inv_sqrt_N"


def mean_capacity(table: pd.DataFrame) -> pd.DataFrame:
    """Mean capacity over seeds per (run, N), as columns run, model, N, capacity."""
    return table.groupby(["run", "model", "N"], as_index=False, sort=False)["capacity"].mean()


def _exact(at: pd.DataFrame) -> bool:
    return bool((at["min_overlap"] >= 1.0).all())


def _transformer_beta(at: pd.DataFrame) -> bool:
    return bool((at["beta"].astype(str) == INV_SQRT_N).all())


def growth(table: pd.DataFrame) -> pd.DataFrame:
    """hopfield_growth: per run, fits of the mean capacity on N next to the paper's law.

    loglog_slope: slope of ln C on ln N (a power law N^k gives k); semilog_rate: slope of ln C on
    N (exp(alpha N) gives alpha); sqrt_rate: slope of ln C on sqrt(N) (exp(b sqrt N) gives b);
    local_loglog_slope: between the two largest N. A mean capacity of 0 has no logarithm: such
    points are left out of the fits and counted.
    """
    rows = []
    for run, at in table.groupby("run", sort=False):
        mean = at.groupby("N")["capacity"].mean().sort_index()
        N, C = mean.index.to_numpy(dtype=float), mean.to_numpy(dtype=float)
        power = fit_line(N, C, log_x=True, log_y=True)
        expo = fit_line(N, C, log_y=True)
        root = fit_line(np.sqrt(N), C, log_y=True)
        local = fit_line(N[-2:], C[-2:], log_x=True, log_y=True) if len(N) >= 2 else \
            Fit(math.nan, math.nan, math.nan, 0, len(N))
        model, rho = str(at["model"].iloc[0]), float(at["rho"].iloc[0])
        law = theory(model, rho)
        rows.append({
            "run": run, "model": model, "rho": rho,
            "min_overlap": float(at["min_overlap"].iloc[0]), "beta": str(at["beta"].iloc[0]),
            "N_min": int(N.min()), "N_max": int(N.max()), "n_N": len(N),
            "points_dropped": power.dropped,
            "capacity_at_N_min": C[0], "capacity_at_N_max": C[-1],
            "loglog_slope": power.slope, "loglog_r2": power.r2,
            "semilog_rate": expo.slope, "semilog_r2": expo.r2,
            "sqrt_rate": root.slope, "sqrt_r2": root.r2,
            "local_loglog_slope": local.slope,
            "theory_law": law.law, "theory": law.description,
            "theory_loglog_slope": law.loglog_slope, "theory_rate": law.rate,
            "theory_rate_upper": law.rate_upper,
            "censored_runs": int(pd.Series(at["censored"]).astype(str).str.lower()
                                 .isin({"true", "1"}).sum()),
        })
    return pd.DataFrame(rows)


def amit_fit(table: pd.DataFrame, run: str) -> tuple[Fit, pd.Series]:
    """alpha(N) = C / N (mean over seeds) fitted as alpha_inf + a / sqrt(N): (the fit of alpha on
    1 / sqrt(N), whose intercept is alpha_inf; alpha per N)."""
    at = table[table["run"] == run]
    alpha = at.groupby("N")["capacity"].mean() / at.groupby("N")["N"].first()
    return fit_line(1.0 / np.sqrt(alpha.index.to_numpy(dtype=float)), alpha.to_numpy()), alpha


def _where(row: pd.Series) -> str:
    dropped = f", {int(row['points_dropped'])} zero-capacity N dropped" \
        if row["points_dropped"] else ""
    return (f"{row['run']}: capacity {row['capacity_at_N_min']:.4g} at N={int(row['N_min'])} "
            f"to {row['capacity_at_N_max']:.4g} at N={int(row['N_max'])} ({int(row['n_N'])} N"
            f"{dropped})")


def _worst(found: list[Check]) -> Check:
    """One check standing for several runs: the first that does not pass, else the first."""
    failing = [c for c in found if c.verdict != "PASS"]
    return failing[0] if failing else found[0]


def _per_run(name: str, criterion: str, rows: list[pd.Series], judge, why_missing: str
             ) -> Check:
    if not rows:
        return missing(name, criterion, why_missing)
    return _worst([judge(row) for row in rows])


def _exponential_in_N(name: str, row: pd.Series, bound: float) -> Check:
    """ln C better fitted by N than by sqrt(N), and a local log-log slope above N^3's."""
    criterion = (f"ln C fitted better by N than by sqrt(N), and local log-log slope at the "
                 f"largest N >= {bound:g} (steeper than N^3)")
    if row["n_N"] - row["points_dropped"] < 3:
        return missing(name, criterion, f"{row['run']}: fewer than 3 N with a capacity > 0, so "
                       "ln C on N and on sqrt(N) cannot be told apart; add N to the run")
    law = "N" if row["semilog_r2"] > row["sqrt_r2"] else "sqrt(N)"
    ok = law == "N" and row["local_loglog_slope"] >= bound
    return Check(name, float(row["local_loglog_slope"]), criterion, bound,
                 "PASS" if ok else "FAIL",
                 f"{_where(row)}; beta = {row['beta']}; growth law found: exp(c {law}) (R^2 on "
                 f"N {row['semilog_r2']:.4f}, on sqrt(N) {row['sqrt_r2']:.4f}; rate "
                 f"{row['semilog_rate']:.3g} per N, {row['sqrt_rate']:.3g} per sqrt(N))")


def checks(table: pd.DataFrame | None, criteria: Mapping[str, float]) -> list[Check]:
    table = require(table, "hopfield_capacity", COLUMNS)
    fits = growth(table)
    runs = {str(r["run"]): r for _, r in fits.iterrows()}
    exact = {name for name, at in table.groupby("run") if _exact(at)}
    transformer = {name for name, at in table.groupby("run") if _transformer_beta(at)}

    def of(model: str, only_exact: bool = True) -> list[pd.Series]:
        return [r for name, r in runs.items() if r["model"] == model
                and (name in exact or not only_exact)]

    out = []
    # Linear capacity: the OLS-Transformer's own memory (the paper's model) ...
    tol = criteria["projection_slope_tol"]
    criterion = f"|log-log slope of capacity on N - 1| <= {tol:g} (linear, no ln N factor)"
    out.append(_per_run(
        "linear_capacity_linear", criterion, of("ols_attention"),
        lambda r: within("linear_capacity_linear", r["loglog_slope"], 1 - tol, 1 + tol, 1.0,
                         criterion, _where(r)),
        "ols_attention (the OLS-Transformer's memory) was not simulated with exact recall"))
    # ... and Hebbian linear attention beside it.
    low, high = criteria["linear_slope_min"], criteria["linear_slope_max"]
    criterion = f"log-log slope of capacity on N in [{low:g}, {high:g}]"
    out.append(_per_run(
        "linear_capacity_hebbian", criterion, of("linear_attention"),
        lambda r: within("linear_capacity_hebbian", r["loglog_slope"], low, high, 1.0,
                         criterion, _where(r)),
        "linear_attention was not simulated with exact recall"))
    out.append(_projection_over_hebbian(table, exact, criteria))
    out.append(_amit(table, criteria))

    bound = criteria["exp_loglog_slope_min"]
    criterion = f"local log-log slope at the largest N >= {bound:g} (steeper than N^3)"
    out.append(_per_run(
        "exponential_capacity_exponential", criterion, of("exponential"),
        lambda r: at_least("exponential_capacity_exponential", r["local_loglog_slope"], bound,
                           criterion, _where(r)),
        "exponential was not simulated in this run"))
    out.append(_per_run(
        "exponential_rate_theory",
        "semilog rate (slope of ln C on N) >= Demircigil et al.'s I(1 - 2 rho) / 2",
        of("exponential"), _rate_against_theory, "exponential was not simulated in this run"))
    softmax = of("softmax")
    plain = [r for r in softmax if r["run"] not in transformer]
    scaled = [r for r in softmax if r["run"] in transformer]
    criterion = "ln C linear in N (exponential capacity)"
    out.append(_per_run(
        "softmax_capacity_exponential", criterion, plain,
        lambda r: _exponential_in_N("softmax_capacity_exponential", r, bound),
        "softmax was not simulated at a fixed inverse temperature"))
    out.append(_per_run(
        "softmax_transformer_capacity_exponential", criterion, scaled,
        lambda r: _exponential_in_N("softmax_transformer_capacity_exponential", r, bound),
        "softmax was not simulated at the transformer's beta = 1/sqrt(N)"))
    out.extend(reported("softmax_semilog_rate", r["semilog_rate"], "slope of ln C on N",
                        _where(r), scope=str(r["run"])) for r in softmax)

    tol = criteria["poly_slope_tol"]
    criterion = f"|local log-log slope at the largest N - (n - 1)| <= {tol:g} (x^n energies)"
    poly = [r for m, s in MODELS.items() if s.law == "power" for r in of(m)]
    if poly:
        gaps = [abs(r["local_loglog_slope"] - MODELS[r["model"]].exponent) for r in poly]
        worst = int(np.argmax([math.inf if math.isnan(g) else g for g in gaps]))
        out.append(at_most("polynomial_capacity_power", gaps[worst], tol, criterion, "; ".join(
            f"{r['run']}: local slope {r['local_loglog_slope']:.3f} (theory "
            f"{MODELS[r['model']].exponent:g}), {_where(r)}" for r in poly)))
    else:
        out.append(missing("polynomial_capacity_power", criterion,
                           "no x^n model was simulated in this run"))

    # Section 4's ladder, on the exact-recall runs at a fixed temperature.
    ladder = [r for name, r in runs.items() if name in exact and name not in transformer]
    tiers = [(tier, [(r["run"], r["local_loglog_slope"]) for r in ladder
                     if MODELS[r["model"]].tier == tier]) for tier in TIERS]
    tiers = [(tier, values) for tier, values in tiers if values]
    criterion = ("smallest step between consecutive tiers of local log-log slopes (linear, x^3, "
                 "x^4, exponential) > 0")
    if len(tiers) < 2:
        out.append(missing("growth_order", criterion,
                           "fewer than two growth tiers were simulated in this run"))
    else:
        # > 0 when every run of a tier grows faster than every run of the tier below.
        gap = min(min(v for _, v in upper) - max(v for _, v in lower)
                  for (_, lower), (_, upper) in itertools.pairwise(tiers))
        out.append(Check("growth_order", gap, criterion, 0.0, "PASS" if gap > 0 else "FAIL",
                         " < ".join(f"{t} " + "/".join(f"{n} {v:.3g}" for n, v in vs)
                                    for t, vs in tiers)))
    return out


def _rate_against_theory(row: pd.Series) -> Check:
    lower, upper = row["theory_rate"], row["theory_rate_upper"]
    rate = row["semilog_rate"]
    excess = (f"; above the nearest-neighbour limit I(1 - 2 rho) = {upper:.4g}: a finite-size "
              "excess (the limit is asymptotic in N)") if rate > upper else \
        f"; below the nearest-neighbour limit {upper:.4g}"
    return at_least("exponential_rate_theory", rate, lower,
                    f"semilog rate (slope of ln C on N) >= I(1 - 2 rho) / 2 = {lower:.4g} "
                    "(Demircigil et al.)", _where(row) + excess)


def _projection_over_hebbian(table: pd.DataFrame, exact: set[str],
                             criteria: Mapping[str, float]) -> Check:
    """min over common N >= from_N of C(projection rule) / C(Hebbian), each model's worst run."""
    factor, from_N = criteria["projection_over_hebbian_min"], criteria[
        "projection_over_hebbian_from_N"]
    criterion = (f"min over N >= {from_N:g} of capacity(OLS-Transformer memory) / capacity("
                 f"Hebbian linear attention) >= {factor:g}")
    mean = mean_capacity(table[table["run"].isin(exact)])
    hebbian = mean[mean["model"] == "linear_attention"].groupby("N")["capacity"].max()
    ratios = {}
    for model in PROJECTION_MODELS:
        ours = mean[mean["model"] == model].groupby("N")["capacity"].min()
        common = [N for N in ours.index if N in hebbian.index and N >= from_N]
        if common:
            ratios[model] = {int(N): ours[N] / hebbian[N] for N in common}
    if not ratios:
        return missing("projection_over_hebbian", criterion, "ols_attention and linear_attention "
                       f"share no N >= {from_N:g} with exact recall in this run")
    worst = min(min(r.values()) for r in ratios.values())
    return at_least("projection_over_hebbian", worst, factor, criterion, "; ".join(
        f"{m}: " + ", ".join(f"N={N} x{v:.2f}" for N, v in r.items())
        for m, r in ratios.items()))


def _amit(table: pd.DataFrame, criteria: Mapping[str, float]) -> Check:
    target, tol = criteria["amit_alpha"], criteria["amit_alpha_tol"]
    criterion = (f"|alpha_inf - {target:g}| <= {tol:g}, alpha(N) = C/N fitted as alpha_inf + "
                 "a / sqrt(N) (classical network, overlap criterion)")
    runs = [name for name, at in table.groupby("run", sort=False)
            if at["model"].iloc[0] == "classical" and not _exact(at)]
    if not runs:
        return missing("classical_capacity_amit", criterion,
                       "the classical network was not simulated at Amit's criterion")
    found = []
    for name in runs:
        fit, alpha = amit_fit(table, name)
        at = table[table["run"] == name].iloc[0]
        found.append(within(
            "classical_capacity_amit", fit.intercept, target - tol, target + tol, target,
            criterion, f"{name}: alpha_inf = {fit.intercept:.4g}, a = {fit.slope:.3g} (R^2 "
            f"{fit.r2:.3f}); alpha(N) " + ", ".join(f"{int(N)}: {a:.4g}" for N, a in
                                                    alpha.items())
            + f"; rho {at['rho']:g}, overlap >= {at['min_overlap']:g}"))
    return _worst(found)


# ---- derived tables: Amit's criterion and softmax's temperatures ------------------------------

def _per_N(at: pd.DataFrame) -> pd.DataFrame:
    """One row per N of a run: mean capacity over seeds and its interval (from ``combine``)."""
    return at.drop_duplicates("N").sort_values("N").reset_index(drop=True)


def amit_table(table: pd.DataFrame) -> pd.DataFrame:
    """hopfield_amit: the classical network at Amit's criterion, per run and N: alpha = C / N
    (mean and t-interval over seeds) and the fit alpha_inf + a / sqrt(N)."""
    frames = []
    for run, at in table.groupby("run", sort=False):
        if at["model"].iloc[0] != "classical" or _exact(at):
            continue
        fit, _ = amit_fit(table, str(run))
        rows = _per_N(at)
        N = rows["N"].to_numpy(dtype=float)
        frames.append(pd.DataFrame({
            "run": run, "N": rows["N"], "rho": rows["rho"], "threshold": rows["threshold"],
            "min_overlap": rows["min_overlap"], "capacity_mean": rows["capacity_mean"],
            "alpha": rows["capacity_mean"] / N, "alpha_ci_low": rows["ci_low"] / N,
            "alpha_ci_high": rows["ci_high"] / N, "alpha_inf": fit.intercept,
            "a": fit.slope, "fit_r2": fit.r2, "alpha_fitted": fit.intercept + fit.slope
            / np.sqrt(N), "alpha_amit": 0.138}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def softmax_table(table: pd.DataFrame) -> pd.DataFrame:
    """hopfield_softmax: softmax capacity per run (inverse temperature) and N, with the fits of
    ln C on N and on sqrt(N) and the law that fits better."""
    fits = growth(table).set_index("run")
    frames = []
    for run, at in table.groupby("run", sort=False):
        if at["model"].iloc[0] != "softmax":
            continue
        rows, fit = _per_N(at), fits.loc[run]
        frames.append(pd.DataFrame({
            "run": run, "beta": rows["beta"], "beta_value": rows["beta_value"], "N": rows["N"],
            "capacity_mean": rows["capacity_mean"], "ci_low": rows["ci_low"],
            "ci_high": rows["ci_high"], "ln_capacity": np.log(rows["capacity_mean"]),
            "rate_per_N": fit["semilog_rate"], "r2_per_N": fit["semilog_r2"],
            "rate_per_sqrt_N": fit["sqrt_rate"], "r2_per_sqrt_N": fit["sqrt_r2"],
            "law_found": "exp(c N)" if fit["semilog_r2"] > fit["sqrt_r2"] else "exp(c sqrt(N))"}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
