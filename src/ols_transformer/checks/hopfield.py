"""Checks of the Hopfield capacity study (Sec. 4), from ``hopfield_capacity.csv``.

The growth law of each run is fitted on its mean capacity over seeds per N
(``hopfield_theory.growth``, the fits the experiment also writes as hopfield_growth); the
claims judge it (config ``hopfield.criteria``):
- ``projection_slope_tol``: the OLS-Transformer's memory (projection rule) has linear capacity
  with no ln N factor: c N fits ln C better than c N / ln N and |log-log slope - 1| within this;
- ``linear_slope_min``/``max``: "linear" for Hebbian linear attention: c N fits ln C better
  than c N / ln N (the exact-recall theory, McEliece et al.: N / (2 ln N)) and the log-log
  slope is in this range;
- ``projection_over_hebbian_min``: the projection rule stores at least this many times the
  Hebbian capacity at every common N >= ``projection_over_hebbian_from_N`` (ours);
- ``same_memory_factor``: the paper's "the attention mechanism is essentially the original
  Hopfield network": the projection rule's capacity within this factor of the Hebbian rule's
  (like for like: with and without the diagonal) at every common N;
- ``amit_alpha``, ``amit_alpha_tol``: the classical network at Amit's criterion (overlap >=
  min_overlap < 1), alpha(N) = C / N fitted as alpha_inf + a / N^p for p = 1/2, 2/3 and 1
  (``FIT_FORMS``), and the raw alpha at the largest N: each within the tolerance of amit_alpha;
- ``poly_slope_tol``: F(x) = x^n, local log-log slope at the largest N within this of n - 1
  (the ln N factor of the theory lowers it by ~1/ln N at the N simulated);
- ``exp_loglog_slope_min``: exponential growth, local log-log slope at the largest N above that
  of the steepest power law of Section 4's table (x^4: N^3);
- the exponential energy's semilog rate against theory: at least Demircigil et al.'s
  I(1 - 2 rho) / 2 (a rate above the nearest-neighbour limit I(1 - 2 rho) is a finite-size
  excess, said in the detail);
- softmax, one row per retrieval: at a fixed inverse temperature, at the transformer's
  beta = 1/sqrt(N) iterated to a fixed point, and at beta = 1/sqrt(N) by one update (what one
  transformer layer does, ``one_update``): ln C fitted on N and on sqrt(N); "exponential in N"
  when ln C is better fitted by N and the local log-log slope exceeds N^3's.
Every tolerance we chose is re-judged at the multiples ``tolerance_scales`` of itself
(``checks.across``): a verdict that flips among them is CONDITIONAL, with where it holds.
A local slope (between the two largest N) compares growth laws across different N ranges: a
power law N^k has the constant local slope k, exponential growth one that keeps rising.
A claim whose model was not simulated is MISSING, never judged on another model.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..hopfield_theory import (
    FIT_FORMS,
    FORM_LABELS,
    INV_SQRT_N,
    MODELS,
    PROJECTION_MODELS,
    RAW,
    TIERS,
    amit_fits,
    exact_recall,
    growth,
)
from . import (
    CHOSEN,
    FAIL,
    LITERATURE,
    PAPER,
    PASS,
    THEORY,
    Check,
    across,
    at_least,
    at_most,
    missing,
    reported,
    require,
    within,
)

COLUMNS = ("run", "model", "N", "seed", "capacity", "rho", "min_overlap", "beta", "censored")
SHORT = {"sqrt": "a/sqrt(N)", "n23": "a/N^(2/3)", "n1": "a/N", RAW: "raw C/N at N_max"}
# The Hebbian rule and the projection rule, like for like (self-coupling kept / removed).
SAME_MEMORY_PAIRS = (("ols_attention", "linear_attention"),
                     ("ols_attention_zero_diag", "classical"))


def mean_capacity(table: pd.DataFrame) -> pd.DataFrame:
    """Mean capacity over seeds per (run, N), as columns run, model, N, capacity."""
    return table.groupby(["run", "model", "N"], as_index=False, sort=False)["capacity"].mean()


def _transformer_beta(at: pd.DataFrame) -> bool:
    return bool((at["beta"].astype(str) == INV_SQRT_N).all())


# ---- re-judging a chosen tolerance -----------------------------------------------------------

def _values(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.4g}" for v in values)


def across_scales(judge: Callable[[float], Check], chosen: float, scales: Sequence[float],
                  name: str, power: bool = False) -> Check:
    """``judge(chosen)`` re-judged at ``chosen * s`` (``chosen ** s`` with ``power``, for a
    factor) for every s of ``scales``: PASS only where it holds at all of them, CONDITIONAL with
    the values where it holds."""
    values = [chosen ** s if power else chosen * s for s in scales]
    family = {f"{name} = {v:.4g}": judge(v) for v in values}
    holding = [v for v, c in zip(values, family.values(), strict=True) if c.verdict == PASS]
    judged = [c for c in family.values() if c.verdict in (PASS, FAIL)]
    where = None
    if judged and 0 < len(holding) < len(judged):
        where = f"{name} in {{{_values(sorted(holding))}}} (of {_values(sorted(values))})"
    return across(judge(chosen), family, f"{name} in {{{_values(sorted(values))}}}", where)


def _scales(criteria: Mapping[str, Any]) -> list[float]:
    """The multiples at which a chosen tolerance is re-judged (config ``tolerance_scales``;
    criteria written before it existed: the chosen value alone)."""
    return [float(s) for s in criteria.get("tolerance_scales", [1.0])]


# ---- Amit's criterion ------------------------------------------------------------------------

def _where(row: pd.Series) -> str:
    dropped = f", {int(row['points_dropped'])} zero-capacity N dropped" \
        if row["points_dropped"] else ""
    return (f"{row['run']}: capacity {row['capacity_at_N_min']:.4g} at N={int(row['N_min'])} "
            f"to {row['capacity_at_N_max']:.4g} at N={int(row['N_max'])} ({int(row['n_N'])} N"
            f"{dropped})")


def _laws(row: pd.Series) -> str:
    return (f"{row['run']}: {row['better_law'] or 'no law'} fits better (RMS log residual "
            f"c N {row['rms_linear']:.3g}, c N / ln N {row['rms_n_over_ln_n']:.3g})")


def _worst(found: list[Check]) -> Check:
    """One check standing for several runs: the first that does not pass, else the first."""
    failing = [c for c in found if c.verdict != PASS]
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
    retrieval = "one update" if row["one_update"] else "fixed point"
    return Check(name, float(row["local_loglog_slope"]), criterion, bound,
                 PASS if ok else FAIL,
                 f"{_where(row)}; beta = {row['beta']}, {retrieval}; growth law found: "
                 f"exp(c {law}) (R^2 on N {row['semilog_r2']:.4f}, on sqrt(N) "
                 f"{row['sqrt_r2']:.4f}; rate {row['semilog_rate']:.3g} per N, "
                 f"{row['sqrt_rate']:.3g} per sqrt(N))", origin=CHOSEN)


def checks(table: pd.DataFrame | None, criteria: Mapping[str, float]) -> list[Check]:
    table = require(table, "hopfield_capacity", COLUMNS)
    fits = growth(table)
    runs = {str(r["run"]): r for _, r in fits.iterrows()}
    exact = {name for name, at in table.groupby("run") if exact_recall(at)}
    transformer = {name for name, at in table.groupby("run") if _transformer_beta(at)}
    scales = _scales(criteria)

    def of(model: str, only_exact: bool = True) -> list[pd.Series]:
        return [r for name, r in runs.items() if r["model"] == model
                and (name in exact or not only_exact)]

    out = []
    # Linear capacity: the OLS-Transformer's own memory (the paper's model) ...
    def projection(tol: float) -> Check:
        criterion = (f"c N fits ln C better than c N / ln N, and |log-log slope of capacity on "
                     f"N - 1| <= {tol:g} (linear, no ln N factor)")

        def judge(r: pd.Series) -> Check:
            ok = r["better_law"] == "c N" and abs(r["loglog_slope"] - 1) <= tol
            return Check("linear_capacity_linear", float(r["loglog_slope"]), criterion, 1.0,
                         PASS if ok else FAIL, f"{_where(r)}; {_laws(r)}", origin=CHOSEN)
        return _per_run(
            "linear_capacity_linear", criterion, of("ols_attention"), judge,
            "ols_attention (the OLS-Transformer's memory) was not simulated with exact recall")
    out.append(across_scales(projection, criteria["projection_slope_tol"], scales,
                             "projection_slope_tol"))
    # ... and Hebbian linear attention beside it: "linear" needs c N to beat c N / ln N.
    low, high = criteria["linear_slope_min"], criteria["linear_slope_max"]
    center, half = (low + high) / 2, (high - low) / 2

    def hebbian(width: float) -> Check:
        lo, hi = center - width, center + width
        criterion = (f"c N fits ln C better than c N / ln N, and log-log slope of capacity on N "
                     f"in [{lo:g}, {hi:g}]")

        def judge(r: pd.Series) -> Check:
            ok = r["better_law"] == "c N" and lo <= r["loglog_slope"] <= hi
            return Check("linear_capacity_hebbian", float(r["loglog_slope"]), criterion, 1.0,
                         PASS if ok else FAIL, f"{_where(r)}; {_laws(r)}", origin=CHOSEN)
        return _per_run("linear_capacity_hebbian", criterion, of("linear_attention"), judge,
                        "linear_attention was not simulated with exact recall")
    out.append(across_scales(hebbian, half, scales, "half-width of the linear_slope band"))
    out.append(across_scales(lambda f: _projection_over_hebbian(table, exact, criteria, f),
                             criteria["projection_over_hebbian_min"], scales,
                             "projection_over_hebbian_min"))
    out.append(across_scales(lambda f: _same_memory(table, exact, runs, f),
                             criteria["same_memory_factor"], scales, "same_memory_factor",
                             power=True))
    out.append(_amit(table, criteria))

    bound = criteria["exp_loglog_slope_min"]

    def exponential(b: float) -> Check:
        criterion = f"local log-log slope at the largest N >= {b:g} (steeper than N^3)"
        return _per_run(
            "exponential_capacity_exponential", criterion, of("exponential"),
            lambda r: at_least("exponential_capacity_exponential", r["local_loglog_slope"], b,
                               criterion, _where(r), origin=CHOSEN),
            "exponential was not simulated in this run")
    out.append(across_scales(exponential, bound, scales, "exp_loglog_slope_min"))
    out.append(_per_run(
        "exponential_rate_theory",
        "semilog rate (slope of ln C on N) >= Demircigil et al.'s I(1 - 2 rho) / 2",
        of("exponential"), _rate_against_theory, "exponential was not simulated in this run"))
    softmax = of("softmax")
    plain = [r for r in softmax if r["run"] not in transformer]
    scaled = [r for r in softmax if r["run"] in transformer and not r["one_update"]]
    single = [r for r in softmax if r["run"] in transformer and r["one_update"]]
    for name, rows, why in (
            ("softmax_capacity_exponential", plain,
             "softmax was not simulated at a fixed inverse temperature"),
            ("softmax_transformer_capacity_exponential", scaled,
             "softmax was not simulated to a fixed point at the transformer's beta = 1/sqrt(N)"),
            ("softmax_one_update_capacity_exponential", single,
             "softmax was not simulated by one update (one_update: true) at beta = 1/sqrt(N)")):
        def softmax_at(b: float, name: str = name, rows: list[pd.Series] = rows,
                       why: str = why) -> Check:
            return _per_run(name, "ln C linear in N (exponential capacity)", rows,
                            lambda r: _exponential_in_N(name, r, b), why)
        out.append(across_scales(softmax_at, bound, scales, "exp_loglog_slope_min"))
    out.extend(reported("softmax_semilog_rate", r["semilog_rate"], "slope of ln C on N",
                        _where(r), scope=str(r["run"])) for r in softmax)

    poly = [r for m, s in MODELS.items() if s.law == "power" for r in of(m)]

    def polynomial(tol: float) -> Check:
        criterion = (f"|local log-log slope at the largest N - (n - 1)| <= {tol:g} "
                     "(x^n energies)")
        if not poly:
            return missing("polynomial_capacity_power", criterion,
                           "no x^n model was simulated in this run")
        gaps = [abs(r["local_loglog_slope"] - MODELS[r["model"]].exponent) for r in poly]
        worst = int(np.argmax([math.inf if math.isnan(g) else g for g in gaps]))
        return at_most("polynomial_capacity_power", gaps[worst], tol, criterion, "; ".join(
            f"{r['run']}: local slope {r['local_loglog_slope']:.3f} (theory "
            f"{MODELS[r['model']].exponent:g}), {_where(r)}" for r in poly), origin=CHOSEN)
    out.append(across_scales(polynomial, criteria["poly_slope_tol"], scales, "poly_slope_tol"))

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
        out.append(Check("growth_order", gap, criterion, 0.0, PASS if gap > 0 else FAIL,
                         " < ".join(f"{t} " + "/".join(f"{n} {v:.3g}" for n, v in vs)
                                    for t, vs in tiers), origin=PAPER))
    return out


def _rate_against_theory(row: pd.Series) -> Check:
    lower, upper = row["theory_rate"], row["theory_rate_upper"]
    rate = row["semilog_rate"]
    excess = (f"; above the nearest-neighbour limit I(1 - 2 rho) = {upper:.4g}: a finite-size "
              "excess (the limit is asymptotic in N)") if rate > upper else \
        f"; below the nearest-neighbour limit {upper:.4g}"
    return at_least("exponential_rate_theory", rate, lower,
                    f"semilog rate (slope of ln C on N) >= I(1 - 2 rho) / 2 = {lower:.4g} "
                    "(Demircigil et al.)", _where(row) + excess, origin=THEORY)


def _projection_over_hebbian(table: pd.DataFrame, exact: set[str],
                             criteria: Mapping[str, float], factor: float) -> Check:
    """min over common N >= from_N of C(projection rule) / C(Hebbian), each model's worst run."""
    from_N = criteria["projection_over_hebbian_from_N"]
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
        for m, r in ratios.items()), origin=CHOSEN)


def _same_memory(table: pd.DataFrame, exact: set[str], runs: Mapping[str, pd.Series],
                 factor: float) -> Check:
    """The paper's "the attention mechanism is essentially the original Hopfield network": the
    projection rule (the OLS-Transformer's memory) against the Hebbian rule, like for like
    (``SAME_MEMORY_PAIRS``), exact recall, at every common N: the largest ratio max(r, 1/r)
    must be <= ``factor``."""
    criterion = (f"max over common N of capacity ratio projection rule / Hebbian rule (or its "
                 f"inverse) <= {factor:.4g}")
    mean = mean_capacity(table[table["run"].isin(exact)])
    ratios: dict[tuple[str, str], dict[int, float]] = {}
    for ours, hebb in SAME_MEMORY_PAIRS:
        mine = mean[mean["model"] == ours].groupby("N")["capacity"].mean()
        theirs = mean[mean["model"] == hebb].groupby("N")["capacity"].mean()
        common = [N for N in mine.index if N in theirs.index and theirs[N] > 0 and mine[N] > 0]
        if common:
            ratios[(ours, hebb)] = {int(N): float(mine[N] / theirs[N]) for N in common}
    if not ratios:
        return missing("attention_is_hopfield_network", criterion,
                       "no projection-rule model and its Hebbian counterpart (ols_attention / "
                       "linear_attention, ols_attention_zero_diag / classical) share an N with "
                       "exact recall in this run")
    worst = max(max(max(r, 1 / r) for r in rs.values()) for rs in ratios.values())
    laws = "; ".join(_laws(r) for r in runs.values()
                     if r["model"] in {m for pair in ratios for m in pair}
                     and r["run"] in exact)
    return at_most("attention_is_hopfield_network", worst, factor, criterion, "; ".join(
        f"{ours} / {hebb}: " + ", ".join(f"N={N} x{v:.2f}" for N, v in rs.items())
        for (ours, hebb), rs in ratios.items()) + f"; {laws}", origin=CHOSEN)


def _amit(table: pd.DataFrame, criteria: Mapping[str, float]) -> Check:
    """alpha_inf under every fit form and the raw alpha at the largest N, each within
    ``amit_alpha_tol`` of ``amit_alpha``; re-judged across the forms and the tolerance's
    scales (the sqrt form at the chosen tolerance is the main check)."""
    target, tol = criteria["amit_alpha"], criteria["amit_alpha_tol"]

    def criterion(t: float, form: str) -> str:
        what = (f"alpha(N) = C/N fitted as {FORM_LABELS[form]}" if form != RAW
                else "C/N at the largest N")
        return (f"|alpha_inf - {target:g}| <= {t:g}, {what} (classical network, overlap "
                "criterion)")

    fits = amit_fits(table)
    if fits.empty:
        return missing("classical_capacity_amit", criterion(tol, "sqrt"),
                       "the classical network was not simulated at Amit's criterion")
    numbers = "; ".join(
        f"{run}: " + ", ".join(
            f"{r.label} -> {r.alpha_inf:.4g}" + ("" if r.form == RAW else
                                                  f" (a {r.a:.3g}, RMS {r.rms_residual:.2g})")
            for r in rows.itertuples()) for run, rows in fits.groupby("run", sort=False))
    at = table[table["run"] == fits["run"].iloc[0]].iloc[0]
    detail = f"{numbers}; rho {at['rho']:g}, overlap >= {at['min_overlap']:g}"

    def judge(form: str, t: float) -> Check:
        rows = fits[fits["form"] == form]
        if not np.isfinite(rows["alpha_inf"]).all():
            return missing("classical_capacity_amit", criterion(t, form),
                           f"fewer than 3 N in an Amit run: {FORM_LABELS.get(form, form)} (two "
                           "parameters) cannot be fitted; add N to the run")
        found = [within("classical_capacity_amit", r.alpha_inf, target - t, target + t, target,
                        criterion(t, form), detail, origin=LITERATURE)
                 for r in rows.itertuples()]
        return _worst(found)

    forms = [*FIT_FORMS, RAW]
    tols = sorted(tol * s for s in _scales(criteria))
    family = {f"{form} at tol {t:.4g}": judge(form, t) for t in tols for form in forms}
    shares = {c.verdict for c in family.values() if c.verdict in (PASS, FAIL)}
    per_tol = []
    for t in tols:
        holding = [SHORT[f] for f in forms if judge(f, t).verdict == PASS]
        per_tol.append(f"tol {t:.4g}: " + ("every form" if len(holding) == len(forms) else
                                           ", ".join(holding) or "none"))
    names = ", ".join(SHORT[f] for f in forms)
    return across(judge("sqrt", tol), family,
                  f"fit forms {names} x amit_alpha_tol in {{{_values(tols)}}}",
                  "; ".join(per_tol) if len(shares) == 2 else None)
