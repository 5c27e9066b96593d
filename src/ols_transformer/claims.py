"""The claims ledger: one row per claim of the paper, its measured number and a verdict.

Pure: stage tables in (``{table name: DataFrame or None}``), a ledger DataFrame and Markdown
out. Every number is recomputed here from the stage tables (not copied from a stage's own
pass/fail column), so editing a table to break a claim turns its verdict to FAIL. A stage whose
table is absent gives MISSING, never PASS.

Criteria are the constants in ``DEFAULT_CRITERIA``; ``criteria_from_config`` takes the ones the
stages already configure (proof tolerance, covariance-shift tolerances) from the run's config,
so the ledger judges with the same numbers as the stage that produced the table.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

Tables = Mapping[str, "pd.DataFrame | None"]
Criteria = Mapping[str, float]

PASS, FAIL, MISSING = "PASS", "FAIL", "MISSING"
# threshold: the bound in the criterion (for a range, the value the paper predicts).
COLUMNS = ["claim_id", "section", "claim", "measured", "criterion", "threshold", "verdict",
           "source", "detail"]

# Table name (file stem under tables/) -> the stage that writes it.
TABLE_STAGES = {
    "proof_check": "proof_check", "proof_summary": "proof_check",
    "fig1_headline": "training",
    "covariance_shift": "shift", "covariance_shift_summary": "shift",
    "hopfield_capacity": "hopfield", "hopfield_growth": "hopfield",
}

DEFAULT_CRITERIA: dict[str, float] = {
    # Theorem: transformer == OLS in float64 for cond(X) <= well_conditioned_max.
    "proof_rtol": 1e-10,
    "well_conditioned_max": 1e3,
    # Error growth with cond(X): fit log10(error) on log10(cond) for cond >= this (below it the
    # error sits at the rounding floor and carries no slope).
    "slope_cond_min": 10.0,
    "sigma_route_slope_min": 1.5,  # "grows like cond^2": measured slope in [1.5, 2.5]
    "sigma_route_slope_max": 2.5,
    "qr_slope_max": 1.5,  # "QR grows like cond^1": slope at most 1.5
    # Figure 1.
    "w_rel_tol": 1e-3,  # | |w| - w* | / w*
    "alignment_epochs": 1000.0,  # "aligned within ~1000 epochs"
    "mse_rel_tol": 1e-3,  # | final MSE / OLS MSE - 1 |
    # Covariance shift (Section 3); overridden by config shift.tolerances.
    "identity_rtol": 1e-10,
    "noise_band": 3.0,
    "slope_tol": 0.1,
    # Hopfield (Section 4).
    "linear_slope_min": 0.5,  # log-log slope of capacity on N for the quadratic/linear energy
    "linear_slope_max": 1.5,
    # F(x) = x^n: local log-log slope at the largest N within this of n - 1 (the ln N factor of
    # the theory lowers it by 1/ln N ~ 0.2 at the N simulated)
    "poly_slope_tol": 0.5,
    # exponential: local log-log slope at the largest N above that of the steepest power law
    # of the paper's table (x^4 energy: N^3)
    "exp_loglog_slope_min": 3.0,
}


def criteria_from_config(config: Mapping[str, Any]) -> dict[str, float]:
    """DEFAULT_CRITERIA with the tolerances the run's config sets for its stages."""
    criteria = dict(DEFAULT_CRITERIA)
    proof = config.get("proof", {})
    for key, name in (("rtol_float64", "proof_rtol"),
                      ("well_conditioned_max", "well_conditioned_max")):
        if key in proof:
            criteria[name] = float(proof[key])
    for key, value in config.get("shift", {}).get("tolerances", {}).items():
        if key in criteria:
            criteria[key] = float(value)
    return criteria


class MissingInput(LookupError):
    """A table or column a claim needs is absent: the verdict is MISSING."""


@dataclass(frozen=True)
class Measurement:
    value: float
    threshold: float
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class Claim:
    claim_id: str
    section: str
    claim: str
    criterion: str  # formatted with the criteria, e.g. "<= {proof_rtol:g}"
    sources: tuple[str, ...]
    measure: Callable[[Tables, Criteria], Measurement]


# ---- helpers ---------------------------------------------------------------------------------

def _table(tables: Tables, name: str, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    table = tables.get(name)
    if table is None:
        raise MissingInput(f"{name}.csv is absent (stage '{TABLE_STAGES.get(name, '?')}' "
                           "not in this run)")
    absent = [c for c in columns if c not in table.columns]
    if absent:
        raise MissingInput(f"{name}.csv lacks column(s) {', '.join(absent)}")
    if table.empty:
        raise MissingInput(f"{name}.csv has no rows")
    return table


def _at_most(value: float, threshold: float, detail: str = "") -> Measurement:
    # NaN compares False: a non-finite measurement fails.
    return Measurement(value, threshold, bool(value <= threshold), detail)


def _at_least(value: float, threshold: float, detail: str = "") -> Measurement:
    return Measurement(value, threshold, bool(value >= threshold), detail)


def _truthy(column: pd.Series) -> pd.Series:
    return column.astype(str).str.lower().isin({"true", "1", "1.0"})


def loglog_slope(x: pd.Series, y: pd.Series) -> float:
    """Least-squares slope of log10(y) on log10(x); NaN with fewer than two distinct x."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    lx, ly = np.log10(x[keep]), np.log10(y[keep])
    if len(np.unique(lx)) < 2:
        return math.nan
    return float(np.polyfit(lx, ly, 1)[0])


def _rms(values: pd.Series) -> float:
    return float(np.sqrt(np.mean(np.square(np.asarray(values, dtype=float)))))


# ---- Section 2: the theorem and its numerics -------------------------------------------------

def _summary_error(method: str) -> Callable[[Tables, Criteria], Measurement]:
    def measure(tables: Tables, crit: Criteria) -> Measurement:
        summary = _table(tables, "proof_summary", ("method", "worst_rel_err_float64"))
        rows = summary[summary["method"] == method]
        if rows.empty:
            raise MissingInput(f"proof_summary.csv has no row for method {method}")
        worst = float(rows["worst_rel_err_float64"].max(skipna=False))
        cases = int(rows["cases"].sum()) if "cases" in rows else 0
        return _at_most(worst, crit["proof_rtol"],
                        f"worst max relative error over {cases} well-conditioned float64 cases")
    return measure


def _proof_steps(tables: Tables, crit: Criteria) -> Measurement:
    # Each step goes through Sigma, so in float64 it holds to rounding amplified by cond(X)^2:
    # judged against the stage's bound n p eps cond(X)^2, over every condition number.
    table = _table(tables, "proof_check",
                   ("quantity", "method", "dtype", "cond", "max_rel_err", "expected_bound"))
    steps = table[(table["quantity"] != "prediction") & (table["method"] == "transformer")
                  & (table["dtype"] == "float64")]
    if steps.empty:
        raise MissingInput("proof_check.csv has no float64 proof-step rows")
    ratio = steps["max_rel_err"] / steps["expected_bound"]
    worst = steps.loc[ratio.fillna(np.inf).idxmax()]
    well = steps.loc[steps["cond"] <= crit["well_conditioned_max"], "max_rel_err"].max()
    return _at_most(float(ratio.max(skipna=False)), 1.0,
                    f"{len(steps)} steps; worst '{worst['quantity']}' at cond "
                    f"{worst['cond']:.3g}; largest error for cond <= "
                    f"{crit['well_conditioned_max']:g}: {well:.3g}")


def _error_slope(table: pd.DataFrame, method: str, crit: Criteria) -> tuple[float, str]:
    """Slope of the worst float64 prediction error per cond(X) against cond(X), log-log."""
    rows = table[(table["quantity"] == "prediction") & (table["method"] == method)
                 & (table["dtype"] == "float64") & (table["cond"] >= crit["slope_cond_min"])]
    if "status" in rows:
        rows = rows[rows["status"] == "ok"]
    worst = rows.groupby("cond")["max_rel_err"].max()
    slope = loglog_slope(pd.Series(worst.index), pd.Series(worst.to_numpy()))
    if math.isnan(slope):
        raise MissingInput(f"fewer than two condition numbers >= {crit['slope_cond_min']:g} "
                           f"with a finite float64 error for {method}")
    return slope, (f"worst of {len(rows)} cases per cond, {len(worst)} conds from "
                   f"{worst.index.min():.3g} to {worst.index.max():.3g}")


def _sigma_route_slope(tables: Tables, crit: Criteria) -> Measurement:
    table = _table(tables, "proof_check", ("quantity", "method", "dtype", "cond", "max_rel_err"))
    slope, detail = _error_slope(table, "transformer", crit)
    low, high = crit["sigma_route_slope_min"], crit["sigma_route_slope_max"]
    return Measurement(slope, 2.0, bool(low <= slope <= high), detail)


def _qr_slope(tables: Tables, crit: Criteria) -> Measurement:
    table = _table(tables, "proof_check", ("quantity", "method", "dtype", "cond", "max_rel_err"))
    slope, detail = _error_slope(table, "qr_lstsq", crit)
    return _at_most(slope, crit["qr_slope_max"], detail)


# ---- Section 2.3: Figure 1 -------------------------------------------------------------------

def _w_error(tables: Tables, crit: Criteria) -> Measurement:
    head = _table(tables, "fig1_headline", ("seed", "w_final", "w_star"))
    # w and -w give the same model: |w| is what converges to w*.
    err = (head["w_final"].abs() - head["w_star"]).abs() / head["w_star"]
    worst = head.loc[err.fillna(np.inf).idxmax(), "seed"]
    return _at_most(float(err.max(skipna=False)), crit["w_rel_tol"],
                    f"worst seed {worst} of {len(head)}")


def _alignment(tables: Tables, crit: Criteria) -> Measurement:
    head = _table(tables, "fig1_headline", ("seed", "alignment_epoch"))
    epochs = head["alignment_epoch"].astype(float)
    never = head.loc[epochs < 0, "seed"].tolist()  # -1: never below the tolerance
    value = math.inf if never else float(epochs.max())
    tol = f" (relative distance < {head['alignment_tol'].iloc[0]:g})" \
        if "alignment_tol" in head else ""
    detail = f"seeds {never} never aligned{tol}" if never else \
        f"slowest of {len(head)} seeds{tol}"
    return _at_most(value, crit["alignment_epochs"], detail)


def _noise_floor(tables: Tables, crit: Criteria) -> Measurement:
    head = _table(tables, "fig1_headline", ("seed", "final_mse", "ols_mse"))
    excess = (head["final_mse"] / head["ols_mse"] - 1.0).abs()
    return _at_most(float(excess.max(skipna=False)), crit["mse_rel_tol"],
                    f"OLS residual MSE {head['ols_mse'].min():.4g} to "
                    f"{head['ols_mse'].max():.4g} over {len(head)} seeds")


# ---- Section 3: covariance shift -------------------------------------------------------------

def _no_shift(tables: Tables, crit: Criteria) -> Measurement:
    table = _table(tables, "covariance_shift",
                   ("m", "no_shift", "transformer_vs_ols", "no_shift_band"))
    rows = table[_truthy(table["no_shift"])]
    if rows.empty:
        raise MissingInput("covariance_shift.csv has no no-shift rows")
    ratios = {int(m): _rms(g["transformer_vs_ols"]) / _rms(g["no_shift_band"])
              for m, g in rows.groupby("m")}
    worst = max(ratios, key=lambda m: ratios[m])
    return _at_most(ratios[worst], crit["noise_band"],
                    f"RMS ||y_tf - y_ols|| / predicted sampling band, worst at m={worst}")


def _eq10(tables: Tables, crit: Criteria) -> Measurement:
    table = _table(tables, "covariance_shift", ("family", "eq10_residual"))
    worst = table.sort_values("eq10_residual", na_position="first").iloc[-1]
    return _at_most(float(table["eq10_residual"].max(skipna=False)), crit["identity_rtol"],
                    f"max over {len(table)} settings (worst family {worst['family']})")


def _distortion_slope(tables: Tables, crit: Criteria) -> Measurement:
    table = _table(tables, "covariance_shift",
                   ("family", "m", "no_shift", "distortion_predicted", "distortion_measured"))
    shifted = table[~_truthy(table["no_shift"])]
    if shifted.empty:
        raise MissingInput("covariance_shift.csv has no shifted settings")
    at_m = shifted[shifted["m"] == shifted["m"].max()]
    slopes = {}
    for family, rows in at_m.groupby("family", sort=True):
        x, y = rows["distortion_predicted"], rows["distortion_measured"]
        slopes[family] = float((x * y).sum() / (x * x).sum())  # through the origin
    worst = max(slopes, key=lambda f: abs(slopes[f] - 1))
    return _at_most(abs(slopes[worst] - 1), crit["slope_tol"],
                    f"m={int(at_m['m'].iloc[0])}; slopes "
                    + ", ".join(f"{f} {s:.3f}" for f, s in slopes.items()))


def _static_ols(tables: Tables, crit: Criteria) -> Measurement:
    table = _table(tables, "covariance_shift", ("family", "relerr_ols", "relerr_ols_theory"))
    ratios = {f: _rms(g["relerr_ols"]) / _rms(g["relerr_ols_theory"])
              for f, g in table.groupby("family", sort=True)}
    worst = max(ratios, key=lambda f: ratios[f])
    return _at_most(ratios[worst], crit["noise_band"],
                    f"RMS error / O(1/n) theory, worst family {worst}")


# ---- Section 4: Hopfield capacity ------------------------------------------------------------

def mean_capacity(table: pd.DataFrame) -> pd.DataFrame:
    """Mean capacity over seeds per (model, N), as columns model, N, capacity."""
    if not {"model", "N", "capacity"} <= set(table.columns):
        raise MissingInput("hopfield_capacity.csv needs columns model, N and capacity")
    return table.groupby(["model", "N"], as_index=False)["capacity"].mean()


def _model_slope(tables: Tables, models: tuple[str, ...]) -> tuple[str, float, pd.DataFrame]:
    mean = mean_capacity(_table(tables, "hopfield_capacity"))
    for model in models:
        rows = mean[mean["model"] == model].sort_values("N")
        if len(rows) >= 2:
            return model, loglog_slope(rows["N"], rows["capacity"]), rows
    raise MissingInput(f"hopfield_capacity.csv has fewer than two N for {' / '.join(models)}")


def _linear_capacity(tables: Tables, crit: Criteria) -> Measurement:
    model, slope, rows = _model_slope(tables, ("linear_attention", "classical"))
    low, high = crit["linear_slope_min"], crit["linear_slope_max"]
    return Measurement(slope, 1.0, bool(low <= slope <= high),
                       f"{model}: capacity {rows['capacity'].iloc[0]:.4g} at N="
                       f"{int(rows['N'].iloc[0])} to {rows['capacity'].iloc[-1]:.4g} at N="
                       f"{int(rows['N'].iloc[-1])}")


def local_slopes(tables: Tables) -> dict[str, tuple[float, str]]:
    """Per model: the log-log slope of the mean capacity between its two largest N, and where.

    A power law N^k has the constant local slope k at every N; exponential growth has one that
    keeps rising (N ln2 / 2 for 2^(N/2)). So local slopes compare growth laws even when the
    models were simulated over different ranges of N.
    """
    mean = mean_capacity(_table(tables, "hopfield_capacity"))
    slopes = {}
    for model, rows in mean.groupby("model", sort=False):
        last = rows.sort_values("N").iloc[-2:]
        if len(last) == 2:
            N0, N1 = (int(v) for v in last["N"])
            slopes[str(model)] = (loglog_slope(last["N"], last["capacity"]),
                                  f"N={N0} to {N1}, capacity {last['capacity'].iloc[1]:.4g} "
                                  f"at N={N1}")
    return slopes


def _exponential_capacity(model: str) -> Callable[[Tables, Criteria], Measurement]:
    def measure(tables: Tables, crit: Criteria) -> Measurement:
        slopes = local_slopes(tables)
        if model not in slopes:
            raise MissingInput(f"hopfield_capacity.csv has fewer than two N for {model}")
        # At the largest N it must exceed the steepest power law of Section 4's table.
        slope, where = slopes[model]
        return _at_least(slope, crit["exp_loglog_slope_min"],
                         f"{model}: local log-log slope {where}")
    return measure


# F(x) = x^n: capacity of order N^(n-1) (Krotov & Hopfield 2016).
POWER_LAW_EXPONENTS = {"poly3": 2.0, "poly4": 3.0}
# Section 4's ladder of energies, from the OLS-Transformer's linear attention up to softmax.
GROWTH_TIERS = (("linear", ("classical", "linear_attention")), ("x^3", ("poly3",)),
                ("x^4", ("poly4",)), ("exponential", ("exponential", "softmax")))


def _polynomial_capacity(tables: Tables, crit: Criteria) -> Measurement:
    slopes = local_slopes(tables)
    found = {m: slopes[m] for m in POWER_LAW_EXPONENTS if m in slopes}
    if not found:
        raise MissingInput("hopfield_capacity.csv has fewer than two N for poly3 and poly4")
    gaps = {m: abs(slope - POWER_LAW_EXPONENTS[m]) for m, (slope, _) in found.items()}
    return _at_most(max(gaps.values()), crit["poly_slope_tol"],
                    "; ".join(f"{m}: local slope {found[m][0]:.3f} (theory "
                              f"{POWER_LAW_EXPONENTS[m]:g}), {found[m][1]}" for m in found))


def _growth_order(tables: Tables, crit: Criteria) -> Measurement:
    slopes = local_slopes(tables)
    tiers = [(name, [slopes[m][0] for m in models if m in slopes])
             for name, models in GROWTH_TIERS]
    tiers = [(name, values) for name, values in tiers if values]
    if len(tiers) < 2:
        raise MissingInput("hopfield_capacity.csv has fewer than two growth tiers "
                           "(linear, x^3, x^4, exponential) with two N each")
    # Smallest step up from one tier to the next: > 0 when every model of a tier grows faster
    # than every model of the tier below.
    gap = min(min(upper) - max(lower) for (_, lower), (_, upper) in itertools.pairwise(tiers))
    return Measurement(gap, 0.0, bool(gap > 0), " < ".join(
        f"{name} {'/'.join(f'{v:.3g}' for v in values)}" for name, values in tiers))


CLAIMS: tuple[Claim, ...] = (
    Claim("proof.transformer_equals_ols", "Sec. 2 (theorem)",
          "The single-layer linear OLS-Transformer's prediction equals the OLS prediction",
          "max relative error <= {proof_rtol:g} (float64, cond(X) <= {well_conditioned_max:g})",
          ("proof_summary",), _summary_error("transformer")),
    Claim("proof.in_context_equals_ols", "Sec. 2 (theorem)",
          "In context, x_q^T W W^T (1/n) sum_i x_i y_i equals x_q^T beta_hat",
          "max relative error <= {proof_rtol:g} (float64, cond(X) <= {well_conditioned_max:g})",
          ("proof_summary",), _summary_error("transformer_in_context")),
    Claim("proof.steps_hold", "Sec. 2 (theorem)",
          "W W^T = Sigma^-1, beta_hat = W c, and the attention scores are the hat matrix",
          "max relative error / rounding bound n p eps cond(X)^2 <= 1 (float64, every cond)",
          ("proof_check",), _proof_steps),
    Claim("proof.sigma_route_cond_squared", "Sec. 2 (numerics)",
          "The transformer route goes through Sigma, so its error grows like cond(X)^2 eps",
          "log-log slope of the worst error on cond(X) in [{sigma_route_slope_min:g}, "
          "{sigma_route_slope_max:g}] (float64, cond >= {slope_cond_min:g})",
          ("proof_check",), _sigma_route_slope),
    Claim("proof.qr_cond_linear", "Sec. 2 (numerics)",
          "QR least squares grows at most like cond(X) eps",
          "log-log slope of the worst error on cond(X) <= {qr_slope_max:g} (float64, "
          "cond >= {slope_cond_min:g})",
          ("proof_check",), _qr_slope),
    Claim("training.w_converges_to_w_star", "Sec. 2.3 (Fig. 1b)",
          "Adam drives w to w* = Sigma^-1/2 (|w|, as w and -w give the same model)",
          "max over seeds of ||w| - w*| / w* <= {w_rel_tol:g}",
          ("fig1_headline",), _w_error),
    Claim("training.aligned_within_1000_epochs", "Sec. 2.3 (Fig. 1a)",
          "The model's predictions align with OLS within ~1000 epochs",
          "slowest seed's first aligned epoch <= {alignment_epochs:g}",
          ("fig1_headline",), _alignment),
    Claim("training.mse_at_noise_floor", "Sec. 2.3 (Fig. 1a)",
          "The training MSE settles at the noise floor (the OLS residual MSE)",
          "max over seeds of |final MSE / OLS MSE - 1| <= {mse_rel_tol:g}",
          ("fig1_headline",), _noise_floor),
    Claim("shift.no_shift_recovers_ols", "Sec. 3",
          "With Sigma_te = Sigma_tr the OLS-Transformer recovers X' beta like static OLS",
          "RMS gap to static OLS / predicted sampling band <= {noise_band:g} (every m)",
          ("covariance_shift",), _no_shift),
    Claim("shift.eq10_holds", "Sec. 3 (eq. 10)",
          "In context the model predicts X' Sigma_tr^-1 Sigma_te beta + "
          "(1/m) X' Sigma_tr^-1 X'^T eps'",
          "max relative residual <= {identity_rtol:g}",
          ("covariance_shift",), _eq10),
    Claim("shift.distortion_is_sigma_tr_inv_sigma_te", "Sec. 3",
          "Under covariance shift predictions are linearly distorted by Sigma_tr^-1 Sigma_te",
          "worst family |slope - 1| <= {slope_tol:g} (measured vs predicted ||D - I||_F, "
          "largest m)",
          ("covariance_shift",), _distortion_slope),
    Claim("shift.static_ols_undistorted", "Sec. 3",
          "Static OLS (X' beta_hat_tr) is not distorted by the shift",
          "RMS error / O(1/n) theory <= {noise_band:g} (every family)",
          ("covariance_shift",), _static_ols),
    Claim("hopfield.linear_capacity_linear", "Sec. 4",
          "Capacity grows linearly in N for linear attention (quadratic energy)",
          "log-log slope of capacity on N in [{linear_slope_min:g}, {linear_slope_max:g}]",
          ("hopfield_capacity",), _linear_capacity),
    Claim("hopfield.exponential_capacity_exponential", "Sec. 4",
          "Capacity grows exponentially in N for the exponential energy",
          "local log-log slope at the largest N >= {exp_loglog_slope_min:g} (steeper than N^3)",
          ("hopfield_capacity",), _exponential_capacity("exponential")),
    Claim("hopfield.softmax_capacity_exponential", "Sec. 4",
          "Capacity grows exponentially in N for softmax attention (modern Hopfield)",
          "local log-log slope at the largest N >= {exp_loglog_slope_min:g} (steeper than N^3)",
          ("hopfield_capacity",), _exponential_capacity("softmax")),
    Claim("hopfield.polynomial_capacity_power", "Sec. 4",
          "A degree-n energy F(x) = x^n raises the capacity to the order of N^(n-1)",
          "|local log-log slope at the largest N - (n - 1)| <= {poly_slope_tol:g} "
          "(n = 3, 4)",
          ("hopfield_capacity",), _polynomial_capacity),
    Claim("hopfield.growth_order", "Sec. 4",
          "Capacity grows linear < polynomial < exponential along Section 4's energies",
          "smallest step between consecutive tiers of local log-log slopes "
          "(linear, x^3, x^4, exponential) > 0",
          ("hopfield_capacity",), _growth_order),
)


# Every table some claim reads (the claims rule's inputs, where the workflow has them).
LEDGER_TABLES: tuple[str, ...] = tuple(sorted({s for c in CLAIMS for s in c.sources}))


def tables_among(outputs: Iterable[str], tables_dir: str,
                 names: Iterable[str] = LEDGER_TABLES) -> dict[str, str]:
    """{name: path} of the tables ``<tables_dir>/<name>.csv`` found among ``outputs`` (the
    workflow's output paths): the claims rule reads only the stages the workflow has."""
    outputs = set(outputs)
    paths = {name: f"{tables_dir}/{name}.csv" for name in names}
    return {name: path for name, path in paths.items() if path in outputs}


# ---- the ledger ------------------------------------------------------------------------------

def evaluate(claim: Claim, tables: Tables, criteria: Criteria) -> dict[str, Any]:
    row = {"claim_id": claim.claim_id, "section": claim.section, "claim": claim.claim,
           "criterion": claim.criterion.format(**criteria),
           "source": " + ".join(f"{s}.csv" for s in claim.sources)}
    try:
        result = claim.measure(tables, criteria)
    except MissingInput as missing:
        return {**row, "measured": math.nan, "threshold": math.nan, "verdict": MISSING,
                "detail": str(missing)}
    return {**row, "measured": result.value, "threshold": result.threshold,
            "verdict": PASS if result.passed else FAIL, "detail": result.detail}


def build_ledger(tables: Tables, criteria: Criteria | None = None) -> pd.DataFrame:
    """One row per claim in ``CLAIMS``, in order."""
    crit = {**DEFAULT_CRITERIA, **(criteria or {})}
    return pd.DataFrame([evaluate(c, tables, crit) for c in CLAIMS], columns=COLUMNS)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.4g}"
    return str(value).replace("|", "\\|")


def to_markdown(ledger: pd.DataFrame, title: str = "Claims ledger") -> str:
    """The ledger as a Markdown page: counts, one table row per claim, then the details."""
    counts = ledger["verdict"].value_counts()
    tally = ", ".join(f"{int(counts.get(v, 0))} {v}" for v in (PASS, FAIL, MISSING))
    lines = [f"# {title}", "", f"{len(ledger)} claims: {tally}.", "",
             "| claim | section | measured | criterion | verdict | source |",
             "|---|---|---|---|---|---|"]
    for row in ledger.itertuples(index=False):
        verdict = row.verdict if row.verdict == PASS else f"**{row.verdict}**"
        lines.append(f"| `{row.claim_id}`: {_cell(row.claim)} | {_cell(row.section)} | "
                     f"{_cell(row.measured)} | {_cell(row.criterion)} | {verdict} | "
                     f"{_cell(row.source)} |")
    lines += ["", "## Details", ""]
    lines += [f"- `{row.claim_id}` ({row.verdict}): {row.detail}"
              for row in ledger.itertuples(index=False)]
    return "\n".join(lines) + "\n"
