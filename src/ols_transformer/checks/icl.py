"""Checks of the trained-LSA study (in-context regression, beyond the paper), from
``icl_preconditioner.csv``, ``icl_risk.csv`` and ``icl_shift.csv``.

Criteria (config ``icl.criteria``; ``DEFAULTS`` for the names left out):
- ``gamma_rtol``: ||Gamma_learned - Gamma*||_F / ||Gamma*||_F at most this, every (Lambda, N, seed);
- ``nuisance_max``: RMS of the one-layer prediction outside x_q^T Gamma h, relative, at most this;
- ``inverse_ratio_max``: the learned Gamma's distance to Lambda^-1 (mean over seeds) at the next N
  of the grid over that at this N at most this, every Lambda;
- ``risk_factor``: one-layer excess risk / that of the Gamma* transformer at most this, every
  (Lambda, N, seed);
- ``ridge_slack``: trained excess risk / ridge's at least 1 - this, every row (ridge is Bayes
  optimal; the slack is Monte-Carlo error, the test tasks being shared);
- ``depth_ratio_max``: excess risk at the next depth / at this depth (means over seeds) at most
  this, every (Lambda, N);
- ``covariate_ratio_min``: under covariate shift the one-layer model's relative error grows to at
  least this times its no-shift error (largest over the magnitudes), in every covariate family;
- ``task_ratio_max``: under task shift (w ~ N(0, c^2 I)) it stays within this times its no-shift
  error, every scale.

One row per check with scope "all" (what a ledger row is judged on: the worst case), and
REPORTED rows per (Lambda, N), family or depth for context. ``config_problems`` holds the
section's cross-field config checks (torch-free, like the rest of this module).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import shift as sm
from . import (
    Check,
    MissingInput,
    at_least,
    at_most,
    criteria_with_defaults,
    missing,
    reported,
    require,
    truthy,
)

DEFAULTS: dict[str, float] = {
    "gamma_rtol": 0.05,
    "nuisance_max": 0.05,
    "inverse_ratio_max": 0.9,
    "risk_factor": 1.05,
    "ridge_slack": 0.02,
    "depth_ratio_max": 1.0,
    "covariate_ratio_min": 2.0,
    "task_ratio_max": 1.25,
}
PRECONDITIONER = ("lambda", "N", "seed", "dist_to_gamma_star", "dist_to_inverse",
                  "star_dist_to_inverse", "nuisance_ratio")
RISK = ("lambda", "N", "model", "depth", "seed", "excess_risk")
SHIFT = ("family", "magnitude", "no_shift", "model", "depth", "seed", "relerr", "eq10_predicted",
         "eq10_learned")
TASK_SCALE = "task_scale"  # task shift: w ~ N(0, c^2 I), inputs unshifted
NO_SHIFT = {**sm.NO_SHIFT, TASK_SCALE: 1.0}  # family -> its magnitude without shift
DEVICES = ("auto", "cpu", "cuda")
NAMES = ("gamma_matches_gamma_star", "gamma_nuisance_small", "gamma_approaches_inverse",
         "risk_near_gamma_star", "risk_above_ridge", "risk_falls_with_depth",
         "covariate_shift_distorts", "task_shift_tolerated")


# ---- config ----------------------------------------------------------------------------------

def _problem(field: str, value: Any, fix: str) -> str:
    return f"config field 'icl.{field}' = {value!r}: {fix}"


def _int_list(cfg: Mapping[str, Any], field: str, low: int, problems: list[str],
              why: str = "") -> list[int]:
    values = cfg.get(field)
    if (not isinstance(values, Sequence) or isinstance(values, str) or not values
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in values)):
        problems.append(_problem(field, values, "give a non-empty list of integers"))
        return []
    if len(set(values)) != len(values):
        problems.append(_problem(field, values, "remove the repeated entries"))
    small = [v for v in values if v < low]
    if small:
        problems.append(_problem(field, values, f"entries {small} are below {low}{why}"))
    return list(values)


def _positive(cfg: Mapping[str, Any], field: str, problems: list[str], integer: bool = False,
              zero: bool = False) -> None:
    value = cfg.get(field)
    kind = int if integer else (int, float)
    ok = isinstance(value, kind) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not zero):
        what = "an integer" if integer else "a finite number"
        problems.append(_problem(field, value, f"must be {what} {'>=' if zero else '>'} 0"))


def config_problems(cfg: Mapping[str, Any]) -> list[str]:
    """Everything wrong with an ``icl`` config section that a JSON schema cannot say (or that
    arrives unchecked), each naming the field, the value and the fix. Torch-free."""
    out: list[str] = []
    for field in ("d", "steps", "batch_size", "test_tasks"):
        _positive(cfg, field, out, integer=True)
    _positive(cfg, "population_seed", out, integer=True, zero=True)
    for field in ("learning_rate", "init_scale"):
        _positive(cfg, field, out)
    _positive(cfg, "noise_sigma", out, zero=True)
    _positive(cfg, "grad_clip", out, zero=True)
    if cfg.get("device") not in DEVICES:
        out.append(_problem("device", cfg.get("device"), f"choose one of {', '.join(DEVICES)}"))
    d = cfg.get("d") if isinstance(cfg.get("d"), int) else 1
    sizes = _int_list(cfg, "context_sizes", d + 2, out,
                      " = d + 2 (in-context OLS has a finite risk only for N > d + 1; raise N "
                      "or lower icl.d)")
    depths = _int_list(cfg, "depths", 1, out)
    if depths and 1 not in depths:
        out.append(_problem("depths", depths, "include 1 (the learned preconditioner is read "
                                              "from the one-layer model)"))
    _int_list(cfg, "seeds", 0, out)
    lambdas = cfg.get("lambdas")
    if not isinstance(lambdas, Mapping) or not lambdas:
        out.append(_problem("lambdas", lambdas, "give at least one {name: {largest, smallest}}"))
        lambdas = {}
    for name, spec in lambdas.items():
        try:
            hi, lo = float(spec["largest"]), float(spec["smallest"])
        except (TypeError, KeyError, ValueError):
            out.append(_problem(f"lambdas.{name}", spec, "give {largest: x, smallest: y}"))
            continue
        if not (math.isfinite(hi) and math.isfinite(lo) and 0 < lo <= hi):
            out.append(_problem(f"lambdas.{name}", spec,
                                "eigenvalues need 0 < smallest <= largest, both finite"))
    shift = cfg.get("shift") or {}
    if shift.get("lambda") not in lambdas:
        out.append(_problem("shift.lambda", shift.get("lambda"),
                            f"name one of icl.lambdas ({', '.join(map(str, lambdas))})"))
    if shift.get("context_size") not in sizes:
        out.append(_problem("shift.context_size", shift.get("context_size"),
                            f"choose one of icl.context_sizes {sizes}"))
    families = shift.get("families")
    if not isinstance(families, Mapping) or not families:
        out.append(_problem("shift.families", families, "give {family: [magnitudes]}"))
        families = {}
    for family, magnitudes in families.items():
        field = f"shift.families.{family}"
        if family not in NO_SHIFT:
            out.append(_problem(field, magnitudes, f"unknown family; known: {', '.join(NO_SHIFT)}"))
            continue
        if not isinstance(magnitudes, Sequence) or not all(
                isinstance(t, (int, float)) and math.isfinite(t) for t in magnitudes):
            out.append(_problem(field, magnitudes, "give a list of finite numbers"))
            continue
        if NO_SHIFT[family] not in magnitudes:
            out.append(_problem(field, magnitudes, f"include the no-shift value "
                                                   f"{NO_SHIFT[family]:g} (the reference)"))
        if family in ("isotropic_scale", TASK_SCALE) and min(magnitudes) <= 0:
            out.append(_problem(field, magnitudes, "scale factors must be > 0"))
    try:
        criteria_with_defaults(cfg.get("criteria"), DEFAULTS)
    except KeyError as err:
        out.append(_problem("criteria", sorted(cfg.get("criteria") or {}), str(err)))
    return out


# ---- checks ----------------------------------------------------------------------------------

def _where(row: pd.Series, *columns: str) -> str:
    return ", ".join(f"{c}={row[c]}" for c in columns)


def _worst(frame: pd.DataFrame, column: str, largest: bool = True) -> pd.Series:
    """The row with the largest (or smallest) ``column``; NaN counts as the worst."""
    values = frame[column].astype(float)
    fill = np.inf if largest else -np.inf
    key = values.fillna(fill)
    return frame.loc[key.idxmax() if largest else key.idxmin()]


def preconditioner_checks(table: pd.DataFrame, c: Mapping[str, float]) -> list[Check]:
    out = []
    worst = _worst(table, "dist_to_gamma_star")
    out.append(at_most("gamma_matches_gamma_star", worst["dist_to_gamma_star"], c["gamma_rtol"],
                       f"||Gamma_learned - Gamma*||_F / ||Gamma*||_F <= {c['gamma_rtol']:g} "
                       "(every Lambda, N, seed)",
                       f"worst at {_where(worst, 'lambda', 'N', 'seed')}"))
    worst = _worst(table, "nuisance_ratio")
    out.append(at_most("gamma_nuisance_small", worst["nuisance_ratio"], c["nuisance_max"],
                       f"RMS(y_hat - x_q^T Gamma h) / RMS(y_hat) <= {c['nuisance_max']:g} "
                       "(one layer, every Lambda, N, seed)",
                       f"worst at {_where(worst, 'lambda', 'N', 'seed')}"))
    columns = ["dist_to_gamma_star", "dist_to_inverse", "star_dist_to_inverse"]
    means = table.groupby(["lambda", "N"], sort=True)[columns].agg(["mean", "max"])
    criterion = (f"distance of Gamma_learned to Lambda^-1 (mean over seeds) at the next N / at "
                 f"this N <= {c['inverse_ratio_max']:g} (every Lambda)")
    ratios = {}
    for name, rows in means.groupby(level="lambda", sort=True):
        dist = rows[("dist_to_inverse", "mean")].to_numpy()
        if len(dist) > 1:
            ratios[name] = (dist[1:] / dist[:-1]).max()
    if ratios:
        name = max(ratios, key=lambda k: np.inf if np.isnan(ratios[k]) else ratios[k])
        out.append(at_most("gamma_approaches_inverse", ratios[name], c["inverse_ratio_max"],
                           criterion, f"largest ratio for lambda={name}; " + "; ".join(
                               f"{k} {v:.3g}" for k, v in ratios.items())))
    else:
        out.append(missing("gamma_approaches_inverse", criterion, "needs two context sizes N"))
    for (name, N), row in means.iterrows():
        scope = f"{name}, N={N}"
        out.append(reported("gamma_dist_to_gamma_star", row[("dist_to_gamma_star", "max")],
                            "max over seeds of ||Gamma_learned - Gamma*||_F / ||Gamma*||_F",
                            scope=scope))
        out.append(reported("gamma_dist_to_inverse", row[("dist_to_inverse", "mean")],
                            "mean over seeds of ||Gamma_learned - Lambda^-1||_F / ||Lambda^-1||_F",
                            f"theory (Gamma*): {row[('star_dist_to_inverse', 'mean')]:.4g}",
                            scope=scope))
    return out


def _baseline(risk: pd.DataFrame, model: str) -> pd.Series:
    rows = risk[risk["model"] == model]
    if rows.empty:
        raise MissingInput(f"icl_risk.csv has no rows of model {model}")
    return rows.set_index(["lambda", "N"])["excess_risk"]


def risk_checks(risk: pd.DataFrame, c: Mapping[str, float]) -> list[Check]:
    out = []
    lsa = risk[risk["model"] == "lsa"].copy()
    if lsa.empty:
        raise MissingInput("icl_risk.csv has no trained (lsa) rows")
    key = pd.MultiIndex.from_frame(lsa[["lambda", "N"]])
    for column, model in (("vs_star", "gamma_star"), ("vs_ridge", "ridge")):
        lsa[column] = (lsa["excess_risk"].to_numpy()
                       / _baseline(risk, model).loc[key].to_numpy())
    one = lsa[lsa["depth"] == 1]
    criterion = (f"one-layer excess risk / Gamma* transformer's <= {c['risk_factor']:g} "
                 "(every Lambda, N, seed; same test tasks)")
    if one.empty:
        out.append(missing("risk_near_gamma_star", criterion, "no one-layer rows"))
    else:
        worst = _worst(one, "vs_star")
        out.append(at_most("risk_near_gamma_star", worst["vs_star"], c["risk_factor"], criterion,
                           f"worst at {_where(worst, 'lambda', 'N', 'seed')}"))
    worst = _worst(lsa, "vs_ridge", largest=False)
    out.append(at_least("risk_above_ridge", worst["vs_ridge"], 1 - c["ridge_slack"],
                        f"trained excess risk / ridge's (Bayes optimal) >= "
                        f"{1 - c['ridge_slack']:g} (every Lambda, N, depth, seed)",
                        f"lowest at {_where(worst, 'lambda', 'N', 'depth', 'seed')}"))
    mean = lsa.groupby(["lambda", "N", "depth"], sort=True)["excess_risk"].mean()
    criterion = (f"excess risk at the next depth / at this depth (mean over seeds) <= "
                 f"{c['depth_ratio_max']:g} (every Lambda, N)")
    ratios = {}
    for (name, N), rows in mean.groupby(level=["lambda", "N"], sort=True):
        values = rows.to_numpy()
        if len(values) > 1:
            ratios[(name, N)] = values[1:] / values[:-1]
    if not ratios:
        out.append(missing("risk_falls_with_depth", criterion, "needs two depths"))
        return out
    (name, N) = max(ratios, key=lambda k: np.nanmax(ratios[k]) if not np.isnan(
        ratios[k]).any() else np.inf)
    out.append(at_most("risk_falls_with_depth", float(np.max(ratios[(name, N)])),
                       c["depth_ratio_max"], criterion, f"largest at lambda={name}, N={N}"))
    ridge = _baseline(risk, "ridge")
    pgd = risk[risk["model"] == "pgd"].set_index(["lambda", "N", "depth"])["excess_risk"]
    for (name, N), values in ratios.items():
        rows = mean.loc[(name, N)]
        out.append(reported("depth_risk_ratios", float(np.max(values)),
                            "largest ratio of excess risk at consecutive depths",
                            "excess risk by depth (L steps of GD with Gamma*) " + ", ".join(
                                f"L={L}: {v:.4g} ({pgd.get((name, N, L), np.nan):.4g})"
                                for L, v in rows.items())
                            + f"; ridge {ridge.loc[(name, N)]:.4g}", scope=f"{name}, N={N}"))
    return out


def shift_ratios(shift: pd.DataFrame, depth: int) -> dict[str, pd.Series]:
    """family -> (magnitude -> relative error / at no shift), trained LSA of ``depth``, means
    over seeds; families without their no-shift value are left out."""
    rows = shift[(shift["model"] == "lsa") & (shift["depth"] == depth)]
    mean = rows.groupby(["family", "magnitude"], sort=True)["relerr"].mean()
    still = rows[truthy(rows["no_shift"])].groupby("family")["relerr"].mean()
    return {f: (r / still[f]).droplevel("family") for f, r in mean.groupby(level="family")
            if f in still.index}


def shift_checks(shift: pd.DataFrame, c: Mapping[str, float]) -> list[Check]:
    one = shift[(shift["model"] == "lsa") & (shift["depth"] == 1)]
    if one.empty:
        raise MissingInput("icl_shift.csv has no one-layer lsa rows")
    ratio = shift_ratios(shift, 1)
    out = []
    criterion = (f"one-layer relative error under covariate shift / without, largest over "
                 f"magnitudes, >= {c['covariate_ratio_min']:g} in every covariate family")
    covariate = {f: float(r.max()) for f, r in ratio.items() if f != TASK_SCALE}
    if covariate:
        family = min(covariate, key=lambda k: -np.inf if np.isnan(covariate[k]) else covariate[k])
        out.append(at_least("covariate_shift_distorts", covariate[family],
                            c["covariate_ratio_min"], criterion,
                            f"smallest for {family}; " + "; ".join(
                                f"{f} {v:.3g}" for f, v in covariate.items())))
    else:
        out.append(missing("covariate_shift_distorts", criterion,
                           "no covariate-shift family (with its no-shift value) in icl_shift.csv"))
    criterion = (f"one-layer relative error under task shift / without <= "
                 f"{c['task_ratio_max']:g} at every scale")
    if TASK_SCALE in ratio:
        r = ratio[TASK_SCALE]
        out.append(at_most("task_shift_tolerated", float(r.max()), c["task_ratio_max"],
                           criterion, "by scale: " + ", ".join(f"{t:g}: {v:.3g}"
                                                                for t, v in r.items())))
    else:
        out.append(missing("task_shift_tolerated", criterion, "no task_scale family"))
    for family, rows in one.groupby("family", sort=True):
        at = rows.groupby("magnitude")
        far = at["relerr"].mean().idxmax()
        sel = rows[rows["magnitude"] == far]
        out.append(reported("shift_relerr_vs_eq10", float(sel["relerr"].mean()),
                            "one-layer relative error at the magnitude where it is largest",
                            f"magnitude {far:g}; eq. 10 with the learned Gamma "
                            f"{sel['eq10_learned'].mean():.3g}, with Lambda^-1 "
                            f"{sel['eq10_predicted'].mean():.3g}", scope=family))
    for depth in sorted(int(L) for L in shift.loc[shift["model"] == "lsa", "depth"].unique()):
        found = shift_ratios(shift, depth)
        if found:
            out.append(reported("shift_error_growth", max(float(r.max()) for r in found.values()),
                                "largest relative error under shift / without, over families "
                                "and magnitudes", "; ".join(f"{f} {float(r.max()):.3g}"
                                                           for f, r in found.items()),
                                scope=f"depth {depth}"))
    return out


def checks(tables: Mapping[str, pd.DataFrame | None],
           criteria: Mapping[str, float] | None) -> list[Check]:
    """Every check of the stage; a table that is absent makes its checks MISSING."""
    c = criteria_with_defaults(criteria, DEFAULTS)
    out: list[Check] = []
    parts = (("icl_preconditioner", PRECONDITIONER, preconditioner_checks,
              NAMES[:3]), ("icl_risk", RISK, risk_checks, NAMES[3:6]),
             ("icl_shift", SHIFT, shift_checks, NAMES[6:]))
    for name, columns, function, names in parts:
        try:
            out.extend(function(require(tables.get(name), name, columns), c))
        except MissingInput as why:
            out.extend(missing(n, "see checks/icl.py", str(why)) for n in names)
    return out
