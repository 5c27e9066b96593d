"""Checks of the Hopfield capacity study (Sec. 4), from ``hopfield_capacity.csv``.

A capacity is random (patterns and cue flips are drawn per seed), so every row is judged on a
95% Student-t interval over the seeds (``stats.mean_interval``) of a statistic computed on each
seed's capacities alone: PASS only when the whole interval passes, INCONCLUSIVE when it
straddles the threshold (``checks.interval_*``). A statistic that pairs two runs (a capacity
ratio) pairs them by seed: both runs store the same patterns and hear the same cues. The
growth laws are fitted per seed by ``hopfield_theory.growth`` (the fits the experiment also
writes, on the mean over seeds, as hopfield_growth). The claims (config ``hopfield.criteria``):

- ``projection_slope_tol``: the OLS-Transformer's memory (projection rule) has linear capacity
  with no ln N factor: c N fits ln C better than c N / ln N and |log-log slope - 1| within this;
- ``linear_slope_min``/``max``: "linear" for Hebbian linear attention: c N fits ln C better
  than c N / ln N and the log-log slope is in this range. The recall criterion decides it:
  exact recall has the law N / (2 ln N) (McEliece et al. 1987), an overlap criterion ~0.14 N;
  the row is judged under every criterion of the run's ``recall_criteria`` and says under
  which it holds;
- ``projection_over_hebbian_min``: the projection rule stores at least this many times the
  Hebbian capacity at every common N >= ``projection_over_hebbian_from_N`` (ours);
- ``same_memory_factor``: the paper's "the attention mechanism is essentially the original
  Hopfield network": the projection rule's capacity within this factor of the Hebbian rule's
  (like for like: with and without the diagonal) at every common N. It fails by what it is:
  the OLS-Transformer's memory is the projection rule, not the Hebbian one, and the ratio
  grows with N;
- ``amit_alpha``, ``amit_alpha_tol``: the classical network (the paper's ref. [7], Hopfield
  1982: ~0.15 N; 0.138 N is Amit et al. 1985's exact value) at an overlap criterion,
  alpha(N) = C / N fitted as alpha_inf + a / N^p for p = 1/2, 2/3 and 1 (``FIT_FORMS``), and
  the raw alpha at the largest N: each within the tolerance of amit_alpha; judged under every
  overlap of the run's ``recall_criteria`` (the overlap decides more than the tolerance);
- ``poly_slope_tol``: F(x) = x^n, local log-log slope at the largest N within this of n - 1
  (the ln N factor of the theory lowers it by ~1/ln N at the N simulated);
- ``exp_loglog_slope_min``: exponential growth, local log-log slope at the largest N above that
  of the steepest power law of Section 4's table (x^4: N^3);
- ``exp_rate_N_min``: the exponential energy's semilog rate, fitted on the N >= this where
  C > 1, between Demircigil et al.'s I(1 - 2 rho) / 2 and the nearest-neighbour limit over the
  same N (``hopfield_theory.nearest_neighbour_capacity``; asymptotically I(1 - 2 rho), 0.193
  at rho = 0.2, approached from above);
- softmax: at a fixed inverse temperature, "exponential in N": ln C fitted better by N than
  by sqrt(N) and the local log-log slope above N^3's; at a transformer's beta = 1/sqrt(N)
  theory predicts ln C ~ c sqrt(N) (the scores beta xi.x are O(sqrt N)), so those runs
  (iterated to a fixed point; by one update, an extension) are judged on exp(c sqrt(N))
  fitting ln C better than exp(c N).
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
from dataclasses import replace
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
    criterion_words,
    exact_recall,
    finite_size_fit,
    growth,
    law_residuals,
    nearest_neighbour_capacity,
    primary,
    recall_family,
    theory,
)
from ..ols import fit_line
from ..stats import Interval, bootstrap_interval, mean_interval
from . import (
    CHOSEN,
    FAIL,
    INCONCLUSIVE,
    LITERATURE,
    MISSING,
    PAPER,
    PASS,
    THEORY,
    Check,
    across,
    interval_at_least,
    interval_at_most,
    interval_within,
    missing,
    reported,
    require,
)

COLUMNS = ("run", "model", "N", "seed", "capacity", "rho", "min_overlap", "beta", "censored")
SHORT = {"sqrt": "a/sqrt(N)", "n23": "a/N^(2/3)", "n1": "a/N", RAW: "raw C/N at N_max"}
# The Hebbian rule and the projection rule, like for like (self-coupling kept / removed).
SAME_MEMORY_PAIRS = (("ols_attention", "linear_attention"),
                     ("ols_attention_zero_diag", "classical"))
SEEDS = "the seeds (patterns and cue flips)"
DEFAULT_EXP_RATE_N_MIN = 25


def mean_capacity(table: pd.DataFrame) -> pd.DataFrame:
    """Mean capacity over seeds per (run, N), as columns run, model, N, capacity."""
    return table.groupby(["run", "model", "N"], as_index=False, sort=False)["capacity"].mean()


def _transformer_beta(at: pd.DataFrame) -> bool:
    return bool((at["beta"].astype(str) == INV_SQRT_N).all())


# ---- per seed: the statistic of each seed's capacities alone, and its interval -----------------

def per_seed_growth(table: pd.DataFrame) -> pd.DataFrame:
    """``growth`` of each seed's capacities alone: one row per (run, seed), column ``seed``."""
    return pd.concat([growth(at).assign(seed=int(seed))
                      for seed, at in table.groupby("seed", sort=True)], ignore_index=True)


def seed_interval(values: Mapping[int, float]) -> Interval:
    """Mean over seeds of a per-seed statistic ({seed: value}) and its Student-t interval."""
    seeds = sorted(values)
    return mean_interval([values[s] for s in seeds], labels=[f"seed {s}" for s in seeds])


Curve = tuple[np.ndarray, np.ndarray]  # N (n,) and the mean capacity over seeds at each (n,)


# curve_interval's results by (statistic, the curves' data): a tolerance re-judged at its
# alternatives asks for the same interval again (a cache of a pure function of the data).
_INTERVALS: dict[tuple[str, bytes], Interval] = {}


def curve_interval(runs: Sequence[pd.DataFrame],
                   statistic: Callable[[list[Curve]], float], what: str,
                   key: str = "") -> Interval:
    """A statistic of the mean capacity curves of ``runs`` (a fit: a slope, a law's residual)
    and its percentile bootstrap over seeds: each resample draws seeds with replacement (the
    same seeds for every run: they store the same patterns) and recomputes the statistic on
    the mean over them (``stats.bootstrap_interval``, seeded; with few seeds it is narrower
    than it should be). The estimate is the statistic of the mean over every seed, the number
    hopfield_growth tables."""
    pivots = [rows.pivot_table(index="seed", columns="N", values="capacity", aggfunc="mean")
              .sort_index(axis=1) for rows in runs]
    seeds = sorted(set.intersection(*(set(p.index) for p in pivots)))
    grids = [(p.columns.to_numpy(dtype=float), p.loc[seeds].to_numpy(dtype=float))
             for p in pivots]
    data = repr((seeds, [(N.tolist(), C.tolist()) for N, C in grids])).encode()
    cache_key = (f"{what} {key}", data)
    if cache_key not in _INTERVALS:
        if len(_INTERVALS) > 1024:
            _INTERVALS.clear()
        _INTERVALS[cache_key] = bootstrap_interval(
            np.arange(len(seeds)), lambda idx: statistic([(N, C[idx].mean(axis=0))
                                                          for N, C in grids]),
            what, labels=[f"seed {s}" for s in seeds])
    return _INTERVALS[cache_key]


def loglog_slope(curve: Curve) -> float:
    return fit_line(*curve, log_x=True, log_y=True).slope


def local_slope(curve: Curve) -> float:
    """Log-log slope between the two largest N."""
    N, C = curve
    return fit_line(N[-2:], C[-2:], log_x=True, log_y=True).slope


def law_gap(curve: Curve) -> float:
    """RMS log residual of c N / ln N minus that of c N (> 0: c N fits better)."""
    linear, n_ln_n = law_residuals(*curve)
    return n_ln_n - linear


def sqrt_gap(curve: Curve) -> float:
    """R^2 of ln C on sqrt(N) minus R^2 on N (two-parameter lines on the same points, so R^2
    orders their residuals; > 0: exp(c sqrt N) fits better)."""
    N, C = curve
    return fit_line(np.sqrt(N), C, log_y=True).r2 - fit_line(N, C, log_y=True).r2


def _run_seeds(per_seed: pd.DataFrame, run: str, column: str) -> dict[int, float]:
    rows = per_seed[per_seed["run"] == run]
    return {int(r["seed"]): float(r[column]) for _, r in rows.iterrows()}


def both(first: Check, second: Check, detail: str = "") -> Check:
    """Two interval checks that must both pass (``first`` gives the row's estimate): PASS when
    both pass, FAIL when either wholly fails, else INCONCLUSIVE."""
    verdicts = {first.verdict, second.verdict}
    verdict = FAIL if FAIL in verdicts else MISSING if MISSING in verdicts else \
        PASS if verdicts == {PASS} else INCONCLUSIVE
    words = "; ".join(d for d in (detail, f"[{first.criterion}] {first.detail}",
                                  f"[{second.criterion}] {second.detail}") if d)
    return replace(first, verdict=verdict, criterion=f"{first.criterion}, and "
                   f"{second.criterion}", detail=words)


# ---- re-judging a chosen tolerance -----------------------------------------------------------

def _values(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.4g}" for v in values)


def across_scales(judge: Callable[[float], Check], chosen: float, scales: Sequence[float],
                  name: str, power: bool = False, decided_by: str | None = None) -> Check:
    """``judge(chosen)`` re-judged at ``chosen * s`` (``chosen ** s`` with ``power``, for a
    factor) for every s of ``scales``: PASS only where it holds at all of them, CONDITIONAL with
    the values where it holds."""
    values = [chosen ** s if power else chosen * s for s in scales]
    family = {f"{name} = {v:.4g}": judge(v) for v in values}
    holding = [v for v, c in zip(values, family.values(), strict=True) if c.verdict == PASS]
    judged = [c for c in family.values() if c.verdict in (PASS, FAIL, INCONCLUSIVE)]
    where = None
    if judged and 0 < len(holding) < len(judged):
        where = f"{name} in {{{_values(sorted(holding))}}} (of {_values(sorted(values))})"
    return across(judge(chosen), family, f"{name} in {{{_values(sorted(values))}}}", where,
                  decided_by)


def across_criteria(judge: Callable[[float, float], Check], criteria: Sequence[float],
                    own: float, values: Sequence[float], chosen: float, what: str,
                    decided_by: str) -> Check:
    """``judge(criterion, value)`` re-judged under every recall criterion (overlaps; 1 =
    exact) and every value of a chosen tolerance: the family of their product, the main check
    at the run's ``own`` criterion and the ``chosen`` value; ``holds_where`` counts, per
    criterion, the values where it holds."""
    family = {f"{criterion_words(c)}, {what} {v:.4g}": judge(c, v)
              for c in criteria for v in values}
    per = []
    for c in criteria:
        held = sum(judge(c, v).verdict == PASS for v in values)
        per.append(f"{criterion_words(c)} {held}/{len(values)}")
    where = f"holds at (of {what} values) " + "; ".join(per)
    return across(judge(own, chosen), family, f"recall criterion in {{"
                  f"{', '.join(criterion_words(c) for c in criteria)}}} x {what} in "
                  f"{{{_values(values)}}}", where, decided_by)


def _scales(criteria: Mapping[str, Any]) -> list[float]:
    """The multiples at which a chosen tolerance is re-judged (config ``tolerance_scales``;
    criteria written before it existed: the chosen value alone)."""
    return [float(s) for s in criteria.get("tolerance_scales", [1.0])]


def _where(row: pd.Series) -> str:
    dropped = f", {int(row['points_dropped'])} zero-capacity N dropped" \
        if row["points_dropped"] else ""
    return (f"{row['run']}: capacity {row['capacity_at_N_min']:.4g} at N={int(row['N_min'])} "
            f"to {row['capacity_at_N_max']:.4g} at N={int(row['N_max'])} ({int(row['n_N'])} N"
            f"{dropped}, mean over seeds)")


def _laws(row: pd.Series) -> str:
    return (f"{row['run']}: {row['better_law'] or 'no law'} fits better on the mean (RMS log "
            f"residual c N {row['rms_linear']:.3g}, c N / ln N {row['rms_n_over_ln_n']:.3g})")


def _worst(found: list[Check]) -> Check:
    """One check standing for several runs: the first that does not pass, else the first."""
    failing = [c for c in found if c.verdict != PASS]
    return failing[0] if failing else found[0]


def _per_run(name: str, criterion: str, rows: list[pd.Series], judge, why_missing: str
             ) -> Check:
    if not rows:
        return missing(name, criterion, why_missing)
    return _worst([judge(row) for row in rows])


# ---- the growth laws, per seed ---------------------------------------------------------------

def _linear_law(name: str, run_rows: pd.DataFrame, low: float, high: float, row: pd.Series,
                origin: str = CHOSEN) -> Check:
    """"Linear": the log-log slope of the mean capacity in [low, high] and c N fitting ln C
    better than c N / ln N (``law_gap`` > 0), each on its bootstrap interval over seeds."""
    slope = interval_within(name, curve_interval([run_rows], lambda c: loglog_slope(c[0]),
                                                 "the log-log slope of the mean capacity"),
                            low, high, 1.0, f"log-log slope of capacity on N in "
                            f"[{low:.4g}, {high:.4g}]", origin=origin)
    law = interval_at_least(name, curve_interval([run_rows], lambda c: law_gap(c[0]),
                                                 "the RMS residual gap of the mean capacity"),
                            0.0, "c N fits ln C better than c N / ln N (RMS log residual of "
                            "c N / ln N minus c N >= 0)", origin=origin)
    return both(slope, law, f"{_where(row)}; {_laws(row)}")


def _law_gap(name: str, run_rows: pd.DataFrame, row: pd.Series, sqrt_law: bool) -> Check:
    """ln C fitted better by sqrt(N) (``sqrt_law``) or by N (``sqrt_gap`` >= 0 or <= 0 on its
    bootstrap interval over seeds), the fitted c reported with its interval."""
    gap = curve_interval([run_rows], lambda c: sqrt_gap(c[0]), "the R^2 gap of the mean")
    rates = curve_interval([run_rows], lambda c: fit_line(
        np.sqrt(c[0][0]) if sqrt_law else c[0][0], c[0][1], log_y=True).slope,
        "the fitted c of the mean", key=str(sqrt_law))
    retrieval = "one update" if row["one_update"] else "fixed point"
    detail = (f"{_where(row)}; beta = {row['beta']}, {retrieval}; fitted c in exp(c "
              f"{'sqrt(N)' if sqrt_law else 'N'}): {rates.words()}; on the mean: R^2 on N "
              f"{row['semilog_r2']:.4f}, on sqrt(N) {row['sqrt_r2']:.4f}")
    words = "R^2 of ln C on sqrt(N) minus R^2 on N"
    if sqrt_law:
        return interval_at_least(name, gap, 0.0, f"{words} >= 0: exp(c sqrt(N)) fits better "
                                 "than exp(c N)", detail, origin=THEORY)
    return interval_at_most(name, gap, 0.0, f"{words} <= 0: exp(c N) fits better than "
                            "exp(c sqrt(N))", detail, origin=CHOSEN)


def _enough_points(name: str, row: pd.Series, criterion: str) -> Check | None:
    if row["n_N"] - row["points_dropped"] < 3:
        return missing(name, criterion, f"{row['run']}: fewer than 3 N with a capacity > 0, so "
                       "ln C on N and on sqrt(N) cannot be told apart; add N to the run")
    return None


def _exponential_in_N(name: str, run_rows: pd.DataFrame, row: pd.Series, bound: float) -> Check:
    """ln C better fitted by N than by sqrt(N), and a local log-log slope above N^3's, each on
    its interval over seeds."""
    criterion = (f"ln C fitted better by N than by sqrt(N), and local log-log slope at the "
                 f"largest N >= {bound:g} (steeper than N^3)")
    few = _enough_points(name, row, criterion)
    if few is not None:
        return few
    local = interval_at_least(name, curve_interval([run_rows], lambda c: local_slope(c[0]),
                                                   "the local slope of the mean"), bound,
                              f"local log-log slope at the largest N >= {bound:g}")
    return both(local, _law_gap(name, run_rows, row, sqrt_law=False))


def _sqrt_law(name: str, run_rows: pd.DataFrame, row: pd.Series) -> Check:
    """A transformer's beta = 1/sqrt(N): ln C ~ c sqrt(N) (theory), judged on exp(c sqrt(N))
    fitting ln C better than exp(c N), on its interval over seeds."""
    criterion = "exp(c sqrt(N)) fits ln C better than exp(c N)"
    few = _enough_points(name, row, criterion)
    return few if few is not None else _law_gap(name, run_rows, row, sqrt_law=True)


def checks(table: pd.DataFrame | None, criteria: Mapping[str, float]) -> list[Check]:
    full = require(table, "hopfield_capacity", COLUMNS)
    table = primary(full)  # each run under its own recall criterion
    fits = growth(table)
    runs = {str(r["run"]): r for _, r in fits.iterrows()}
    exact = {name for name, at in table.groupby("run") if exact_recall(at)}
    transformer = {name for name, at in table.groupby("run") if _transformer_beta(at)}
    scales = _scales(criteria)

    def of(model: str, only_exact: bool = True) -> list[pd.Series]:
        return [r for name, r in runs.items() if r["model"] == model
                and (name in exact or not only_exact)]

    def rows_of(row: pd.Series) -> pd.DataFrame:
        return table[table["run"] == row["run"]]

    out = []
    # Linear capacity: the OLS-Transformer's own memory (the paper's model) ...
    def projection(tol: float) -> Check:
        criterion = (f"c N fits ln C better than c N / ln N, and |log-log slope of capacity on "
                     f"N - 1| <= {tol:g} (linear, no ln N factor)")
        return _per_run(
            "linear_capacity_linear", criterion, of("ols_attention"),
            lambda r: _linear_law("linear_capacity_linear", rows_of(r), 1 - tol, 1 + tol, r),
            "ols_attention (the OLS-Transformer's memory) was not simulated with exact recall")
    out.append(across_scales(projection, criteria["projection_slope_tol"], scales,
                             "projection_slope_tol",
                             decided_by=f"projection_slope_tol (ours) and {SEEDS}"))
    out.append(_hebbian(full, of("linear_attention"), criteria, scales))
    out.append(across_scales(lambda f: _projection_over_hebbian(table, exact, criteria, f),
                             criteria["projection_over_hebbian_min"], scales,
                             "projection_over_hebbian_min",
                             decided_by=f"projection_over_hebbian_min (ours) and {SEEDS}"))
    out.append(across_scales(lambda f: _same_memory(table, exact, runs, f),
                             criteria["same_memory_factor"], scales, "same_memory_factor",
                             power=True, decided_by="the learning rule (the OLS-Transformer's "
                             "memory is the projection rule, not Hebbian), same_memory_factor "
                             f"(ours) and {SEEDS}"))
    out.append(_amit(full, criteria))

    bound = criteria["exp_loglog_slope_min"]

    def exponential(b: float) -> Check:
        criterion = f"local log-log slope at the largest N >= {b:g} (steeper than N^3)"

        def judge(r: pd.Series) -> Check:
            return interval_at_least("exponential_capacity_exponential", curve_interval(
                [rows_of(r)], lambda c: local_slope(c[0]), "the local slope of the mean"), b,
                criterion, _where(r))
        return _per_run("exponential_capacity_exponential", criterion, of("exponential"),
                        judge, "exponential was not simulated in this run")
    out.append(across_scales(exponential, bound, scales, "exp_loglog_slope_min",
                             decided_by=f"exp_loglog_slope_min (ours) and {SEEDS}"))
    out.append(_rate_against_theory(table, of("exponential"), criteria))
    softmax = of("softmax")
    plain = [r for r in softmax if r["run"] not in transformer]
    scaled = [r for r in softmax if r["run"] in transformer and not r["one_update"]]
    single = [r for r in softmax if r["run"] in transformer and r["one_update"]]

    def softmax_at(b: float) -> Check:
        return _per_run("softmax_capacity_exponential",
                        "ln C linear in N (exponential capacity)", plain,
                        lambda r: _exponential_in_N("softmax_capacity_exponential", rows_of(r),
                                                    r, b),
                        "softmax was not simulated at a fixed inverse temperature")
    out.append(across_scales(softmax_at, bound, scales, "exp_loglog_slope_min",
                             decided_by="beta fixed (1), exp_loglog_slope_min (ours) and "
                             + SEEDS))
    for name, rows, why, retrieval in (
            ("softmax_transformer_capacity_exponential", scaled,
             "softmax was not simulated to a fixed point at the transformer's beta = 1/sqrt(N)",
             "the iteration cap (max_iter)"),
            ("softmax_one_update_capacity_exponential", single,
             "softmax was not simulated by one update (one_update: true) at beta = 1/sqrt(N)",
             "one update (no fixed point)")):
        out.append(_sqrt_law_across(name, rows, rows_of, why, retrieval))
    out.extend(reported("softmax_semilog_rate", r["semilog_rate"], "slope of ln C on N",
                        _where(r), scope=str(r["run"])) for r in softmax)

    poly = [r for m, s in MODELS.items() if s.law == "power" for r in of(m)]

    def polynomial(tol: float) -> Check:
        criterion = (f"|local log-log slope at the largest N - (n - 1)| <= {tol:g} "
                     "(x^n energies, the worst of them)")
        if not poly:
            return missing("polynomial_capacity_power", criterion,
                           "no x^n model was simulated in this run")
        exponents = [MODELS[r["model"]].exponent for r in poly]

        def worst(curves: list[Curve]) -> float:
            return max(abs(local_slope(c) - k) for c, k in zip(curves, exponents, strict=True))
        gaps = curve_interval([rows_of(r) for r in poly], worst,
                              "the worst local slope's distance to n - 1",
                              key=repr(exponents))
        return interval_at_most("polynomial_capacity_power", gaps, tol,
                                criterion, "; ".join(
                                    f"{r['run']}: local slope {r['local_loglog_slope']:.3f} on "
                                    f"the mean (theory {MODELS[r['model']].exponent:g}), "
                                    f"{_where(r)}" for r in poly))
    out.append(across_scales(polynomial, criteria["poly_slope_tol"], scales, "poly_slope_tol",
                             decided_by=f"poly_slope_tol (ours) and {SEEDS}"))
    out.append(_growth_order(table, [r for name, r in runs.items()
                                     if name in exact and name not in transformer]))
    return out


def _sqrt_law_across(name: str, rows: list[pd.Series], rows_of, why: str,
                     retrieval: str) -> Check:
    """The sqrt(N) law at beta = 1/sqrt(N), re-judged with the smallest N of each run left
    out of the fit (its few patterns weigh most on the curvature)."""
    criterion = "exp(c sqrt(N)) fits ln C better than exp(c N)"
    if not rows:
        return missing(name, criterion, why)

    def judge(drop_smallest: bool) -> Check:
        def one(r: pd.Series) -> Check:
            at = rows_of(r)
            if drop_smallest:
                at = at[at["N"] > at["N"].min()]
                r = growth(at).iloc[0]
            return _sqrt_law(name, at, r)
        return _per_run(name, criterion, rows, one, why)

    family = {"every N": judge(False), "smallest N left out": judge(True)}
    return across(family["every N"], family, "the N fitted (every N; the smallest left out)",
                  decided_by=f"beta = 1/sqrt(N) (a transformer's; at a fixed beta the law is "
                  f"exp(c N)), {retrieval}, the N fitted and {SEEDS}")


def _growth_order(table: pd.DataFrame, ladder: list[pd.Series]) -> Check:
    """Section 4's ladder, on the exact-recall runs at a fixed temperature: per seed, the
    smallest step of local log-log slopes between consecutive tiers, > 0 on its interval."""
    criterion = ("smallest step between consecutive tiers of local log-log slopes (linear, x^3, "
                 "x^4, exponential) > 0")
    present = [t for t in TIERS if any(MODELS[r["model"]].tier == t for r in ladder)]
    if len(present) < 2:
        return missing("growth_order", criterion,
                       "fewer than two growth tiers were simulated in this run")
    tiers = [[i for i, r in enumerate(ladder) if MODELS[r["model"]].tier == t]
             for t in present]

    def gap(curves: list[Curve]) -> float:
        # > 0 when every run of a tier grows faster than every run of the tier below.
        local = [local_slope(c) for c in curves]
        return min(min(local[i] for i in upper) - max(local[i] for i in lower)
                   for lower, upper in itertools.pairwise(tiers))
    gaps = curve_interval([table[table["run"] == r["run"]] for r in ladder], gap,
                          "the smallest step between tiers", key=repr(tiers))
    words = " < ".join(f"{t} " + "/".join(f"{r['run']} {r['local_loglog_slope']:.3g}"
                                          for r in ladder if MODELS[r["model"]].tier == t)
                       for t in present)
    found = interval_at_least("growth_order", gaps, 0.0, criterion,
                              f"on the mean: {words}", origin=PAPER)
    return replace(found, decided_by=f"the local slope (the two largest N of each run) and "
                   f"{SEEDS}")


def _hebbian(full: pd.DataFrame, rows: list[pd.Series], criteria: Mapping[str, float],
             scales: Sequence[float]) -> Check:
    """Hebbian linear attention, "linear": judged under every recall criterion of its run
    (exact: the law N / (2 ln N), McEliece et al.; an overlap: ~0.14 N) and the slope band's
    half-width at ``scales``; the main check is the run's own criterion (exact)."""
    name = "linear_capacity_hebbian"
    low, high = criteria["linear_slope_min"], criteria["linear_slope_max"]
    center, half = (low + high) / 2, (high - low) / 2
    if not rows:
        return missing(name, f"log-log slope of capacity on N in [{low:g}, {high:g}]",
                       "linear_attention was not simulated with exact recall")
    run = str(rows[0]["run"])
    family = recall_family(full, run)

    def judge(overlap: float, width: float) -> Check:
        at = family[overlap]
        row = growth(at.assign(run=run)).iloc[0]
        found = _linear_law(name, at.assign(run=run), center - width, center + width, row)
        return replace(found, detail=f"recall {criterion_words(overlap)}; {found.detail}")

    own = float(rows[0]["min_overlap"])
    return across_criteria(judge, list(family), own, [half * s for s in scales], half,
                           "slope band half-width",
                           "the recall criterion (exact: N / (2 ln N), McEliece et al. 1987; "
                           "overlap 0.99, 0.95, 0.9), the slope band's width (ours) and "
                           + SEEDS)


def _rate_against_theory(table: pd.DataFrame, rows: list[pd.Series],
                         criteria: Mapping[str, float]) -> Check:
    """The exponential energy's semilog rate, fitted per seed on the N >= N_min where C > 1,
    between Demircigil et al.'s I(1 - 2 rho) / 2 and the rate of the nearest-neighbour limit
    fitted on the same N; re-judged with N_min the grid's neighbours of the chosen one."""
    name = "exponential_rate_theory"
    chosen = int(criteria.get("exp_rate_N_min", DEFAULT_EXP_RATE_N_MIN))
    criterion = (f"semilog rate (slope of ln C on N, N >= {chosen}, C > 1) between "
                 "I(1 - 2 rho) / 2 (Demircigil et al.) and the nearest-neighbour limit's rate "
                 "on the same N")
    if not rows:
        return missing(name, criterion, "exponential was not simulated in this run")
    row = rows[0]
    at = table[table["run"] == row["run"]]
    rho, threshold = float(at["rho"].iloc[0]), float(at["threshold"].iloc[0])
    law = theory(str(row["model"]), rho)

    def judge(N_min: int) -> Check:
        words = criterion.replace(f"N >= {chosen}", f"N >= {N_min}")
        mean = at.groupby("N")["capacity"].mean()
        grid = np.array([n for n, c in mean.items() if n >= N_min and c > 1], dtype=float)
        if len(grid) < 2:
            return missing(name, words, f"fewer than 2 N >= {N_min} where C > 1")

        def rate(curves: list[Curve]) -> float:
            N, C = curves[0]
            keep = np.isin(N, grid)
            return fit_line(N[keep], C[keep], log_y=True).slope
        limit = fit_line(grid, [nearest_neighbour_capacity(int(n), rho, threshold)
                                for n in grid], log_y=True).slope
        detail = (f"N {', '.join(str(int(n)) for n in grid)}; the nearest-neighbour limit's "
                  f"rate on these N {limit:.4g} (asymptotically I(1 - 2 rho) = "
                  f"{law.rate_upper:.4g}, approached from above); {_where(row)}")
        return interval_within(name, curve_interval([at], rate, "the semilog rate of the mean",
                                                    key=f"N >= {N_min}"),
                               law.rate, limit, law.rate_upper, words, detail, origin=THEORY)

    grid = sorted(int(n) for n in at["N"].unique())
    below = [n for n in grid if n < chosen]
    above = [n for n in grid if n > chosen]
    values = ([below[-1]] if below else []) + [chosen] + ([above[0]] if above else [])
    family = {f"N_min {n}": judge(n) for n in values}
    return across(judge(chosen), family, f"exp_rate_N_min in {{{', '.join(map(str, values))}}}",
                  decided_by="the N fitted (C > 1, N >= exp_rate_N_min, ours), the upper limit "
                  f"at these N (not its asymptote) and {SEEDS}")


def _paired_ratios(table: pd.DataFrame, ours: str, theirs: str, from_N: float = 0.0
                   ) -> dict[int, dict[int, float]]:
    """{seed: {N: C(ours) / C(theirs)}} at the common N >= from_N where both are > 0: the two
    models store the same patterns and hear the same cues per (seed, N)."""
    a = table[table["model"] == ours].groupby(["seed", "N"])["capacity"].min()
    b = table[table["model"] == theirs].groupby(["seed", "N"])["capacity"].max()
    out: dict[int, dict[int, float]] = {}
    for (seed, N), mine in a.items():
        if (seed, N) in b.index and N >= from_N and b[(seed, N)] > 0 and mine > 0:
            out.setdefault(int(seed), {})[int(N)] = float(mine / b[(seed, N)])
    return out


def _projection_over_hebbian(table: pd.DataFrame, exact: set[str],
                             criteria: Mapping[str, float], factor: float) -> Check:
    """Per seed, min over common N >= from_N and the projection models of C(projection rule) /
    C(Hebbian), on its interval over seeds."""
    from_N = criteria["projection_over_hebbian_from_N"]
    criterion = (f"min over N >= {from_N:g} of capacity(OLS-Transformer memory) / capacity("
                 f"Hebbian linear attention) >= {factor:g}")
    rows = table[table["run"].isin(exact)]
    ratios = {model: _paired_ratios(rows, model, "linear_attention", from_N)
              for model in PROJECTION_MODELS}
    ratios = {m: r for m, r in ratios.items() if r}
    if not ratios:
        return missing("projection_over_hebbian", criterion, "ols_attention and linear_attention "
                       f"share no N >= {from_N:g} with exact recall in this run")
    seeds = set.intersection(*(set(r) for r in ratios.values()))
    worst = {s: min(min(r[s].values()) for r in ratios.values()) for s in seeds}
    mean = mean_capacity(rows)
    hebbian = mean[mean["model"] == "linear_attention"].groupby("N")["capacity"].max()
    words = "; ".join(f"{m} (mean over seeds): " + ", ".join(
        f"N={N} x{c / hebbian[N]:.2f}" for N, c in
        mean[mean["model"] == m].groupby("N")["capacity"].min().items()
        if N in hebbian.index and N >= from_N and hebbian[N] > 0) for m in ratios)
    return interval_at_least("projection_over_hebbian", seed_interval(worst), factor, criterion,
                             words)


def _same_memory(table: pd.DataFrame, exact: set[str], runs: Mapping[str, pd.Series],
                 factor: float) -> Check:
    """The paper's "the attention mechanism is essentially the original Hopfield network": the
    projection rule (the OLS-Transformer's memory) against the Hebbian rule, like for like
    (``SAME_MEMORY_PAIRS``), exact recall, per seed the largest ratio max(r, 1/r) over the
    pairs and their common N, on its interval over seeds (must be <= ``factor``). The ratio
    grows with N: the two are different learning rules, not one network."""
    criterion = (f"max over common N of capacity ratio projection rule / Hebbian rule (or its "
                 f"inverse) <= {factor:.4g}")
    rows = table[table["run"].isin(exact)]
    ratios = {(ours, hebb): _paired_ratios(rows, ours, hebb) for ours, hebb in SAME_MEMORY_PAIRS}
    ratios = {pair: r for pair, r in ratios.items() if r}
    if not ratios:
        return missing("attention_is_hopfield_network", criterion,
                       "no projection-rule model and its Hebbian counterpart (ols_attention / "
                       "linear_attention, ols_attention_zero_diag / classical) share an N with "
                       "exact recall in this run")
    seeds = set.intersection(*(set(r) for r in ratios.values()))
    worst = {s: max(max(max(v, 1 / v) for v in r[s].values()) for r in ratios.values())
             for s in seeds}
    mean = mean_capacity(rows)
    words = []
    for (ours, hebb) in ratios:
        mine = mean[mean["model"] == ours].groupby("N")["capacity"].mean()
        theirs = mean[mean["model"] == hebb].groupby("N")["capacity"].mean()
        common = [N for N in mine.index if N in theirs.index and theirs[N] > 0]
        words.append(f"{ours} / {hebb} (mean over seeds): " + ", ".join(
            f"N={N} x{mine[N] / theirs[N]:.2f}" for N in common))
    laws = "; ".join(_laws(r) for r in runs.values()
                     if r["model"] in {m for pair in ratios for m in pair} and r["run"] in exact)
    return interval_at_most(
        "attention_is_hopfield_network", seed_interval(worst), factor, criterion,
        "the projection rule (slow memory Sigma^+), not the Hebbian rule: the ratio grows with "
        "N; " + "; ".join(words) + f"; {laws}")


def _amit(full: pd.DataFrame, criteria: Mapping[str, float]) -> Check:
    """alpha_inf under every fit form and the raw alpha at the largest N, each fitted per seed
    and judged on its interval over seeds within ``amit_alpha_tol`` of ``amit_alpha``;
    re-judged across the run's overlap criteria, the forms and the tolerance's scales (the
    run's own overlap, the sqrt form and the chosen tolerance are the main check)."""
    name = "classical_capacity_amit"
    target, tol = criteria["amit_alpha"], criteria["amit_alpha_tol"]

    def criterion(t: float, form: str) -> str:
        what = (f"alpha(N) = C/N fitted as {FORM_LABELS[form]}" if form != RAW
                else "C/N at the largest N")
        return (f"|alpha_inf - {target:g}| <= {t:g}, {what} (classical network, overlap "
                "criterion)")

    table = primary(full)
    amit = [str(run) for run, at in table.groupby("run", sort=False)
            if at["model"].iloc[0] == "classical" and not exact_recall(at)]
    if not amit:
        return missing(name, criterion(tol, "sqrt"),
                       "the classical network was not simulated at Amit's criterion")
    run = amit[0]
    family = recall_family(full, run)
    own = float(table[table["run"] == run]["min_overlap"].iloc[0])
    fits: dict[tuple[float, str], Interval] = {}
    for overlap, at in family.items():
        per_seed: dict[str, dict[int, float]] = {form: {} for form in [*FIT_FORMS, RAW]}
        for seed, rows in at.groupby("seed"):
            mean = rows.groupby("N")["capacity"].mean().sort_index()
            N = mean.index.to_numpy(dtype=float)
            alpha = mean.to_numpy(dtype=float) / N
            per_seed[RAW][int(seed)] = float(alpha[-1])
            for form, p in FIT_FORMS.items():
                per_seed[form][int(seed)] = (finite_size_fit(N, alpha, p).intercept
                                             if len(N) >= 3 else math.nan)
        for form, values in per_seed.items():
            fits[(overlap, form)] = seed_interval(values)
    at = table[table["run"] == run].iloc[0]
    numbers = "; ".join(
        f"{criterion_words(o)}: " + ", ".join(
            f"{SHORT[f]} {fits[(o, f)].estimate:.4g} [{fits[(o, f)].low:.4g}, "
            f"{fits[(o, f)].high:.4g}]" for f in [*FIT_FORMS, RAW]) for o in family)
    detail = (f"{run}, rho {at['rho']:g}, {at['threshold']:g} of cues; alpha_inf per seed, "
              f"mean [95% t-interval over {fits[(own, 'sqrt')].replicates} seeds]: {numbers}; "
              "the paper's ref. [7] is Hopfield 1982 (~0.15 N)")

    def judge(overlap: float, form: str, t: float) -> Check:
        if not math.isfinite(fits[(overlap, form)].estimate):
            return missing(name, criterion(t, form),
                           f"fewer than 3 N in an Amit run: {FORM_LABELS.get(form, form)} (two "
                           "parameters) cannot be fitted; add N to the run")
        return interval_within(name, fits[(overlap, form)], target - t, target + t, target,
                               criterion(t, form), f"overlap >= {overlap:g}; {detail}",
                               origin=LITERATURE)

    forms = [*FIT_FORMS, RAW]
    tols = sorted(tol * s for s in _scales(criteria))
    family_checks = {f"{criterion_words(o)}, {SHORT[f]}, tol {t:.4g}": judge(o, f, t)
                     for o in family for f in forms for t in tols}
    per = []
    for o in family:
        held = sum(judge(o, f, t).verdict == PASS for f in forms for t in tols)
        per.append(f"{criterion_words(o)} {held}/{len(forms) * len(tols)}")
    # at the run's own overlap, the forms holding at each tolerance
    per_tol = []
    for t in tols:
        holding = [SHORT[f] for f in forms if judge(own, f, t).verdict == PASS]
        per_tol.append(f"tol {t:.4g}: " + ("every form" if len(holding) == len(forms) else
                                           ", ".join(holding) or "none"))
    where = ("holds at (of fit forms x tolerances) " + "; ".join(per)
             + f"; at {criterion_words(own)}: " + "; ".join(per_tol))
    return across(judge(own, "sqrt", tol), family_checks,
                  f"overlap in {{{', '.join(f'{o:g}' for o in family)}}} x fit forms "
                  f"{', '.join(SHORT[f] for f in forms)} x amit_alpha_tol in "
                  f"{{{_values(tols)}}}",
                  where, decided_by="the overlap criterion (0.99, 0.95, 0.9), the finite-size fit "
                  f"form, amit_alpha_tol (ours) and {SEEDS}")

