"""Checks of Figure 1 (Sec. 2.3), from ``fig1_headline.csv`` (one row per seed of the main run),
``fig1_alignment.csv`` (its first aligned epoch per alignment tolerance), ``fig1_endpoint.csv``
(the perturbed endpoint trained on) and ``fig1_sensitivity.csv`` (the sweep).

Criteria (config ``training.criteria``; every tolerance is ours, ``origin`` chosen):
- ``w_rel_tol``: | |w| / w* - 1 | at the last epoch (w and -w give the same model); also the
  tolerance within which a perturbed endpoint counts as back at w*;

w, the noise floor and the endpoint are random (each seed draws its own data), so each is
judged on the 95% Student-t interval over the training seeds of its per-seed value (the mean
of | |w|/w* - 1 |, of |MSE / OLS MSE - 1|, of the slowest return epoch of a seed's
perturbations; ``checks.interval_at_most``): PASS only when the whole interval is within the
tolerance, INCONCLUSIVE when it straddles it; a seed that never returns makes the mean
infinite, a FAIL.
- ``alignment_epochs``: the paper's "within the first 1000 epochs" (``origin`` paper), against
  the slowest seed's first epoch with a relative distance to OLS below ``training.alignment_tol``;
- ``mse_rel_tol``: | final MSE / OLS residual MSE - 1 |, the noise floor;
- ``tol_factors``: the grid of tolerances shown where the flipping tolerance is not computed
  exactly (the endpoint's return, the alignment tolerance); a tolerance never changes a verdict:
  each row is judged at its stated tolerance and the one that would flip it is in its detail;
- ``synchrony_ratio_max``: Fig. 1b's "temporally synchronized": per seed, the epochs at which
  | |w|/w* - 1 | and the relative distance to OLS first fall below ``alignment_tol`` agree
  within this factor (``synchronized_emergence``); the rival, one leading the other by a lot.

The paper's "synchronized monotonic decay ... within the first 1000 epochs" is one joint row,
``aligned_and_monotone``: aligned within ``alignment_epochs`` and no epoch whose MSE rose (beyond
float64 rounding) in the whole run. In one dimension the MSE is the floor plus a constant times
the squared distance to OLS, so the MSE and the distance rise and fall together. Neither the
learning rate nor w0 is in the paper (ours: Adam's default 1e-3, w0 = 0.1), so the row is
judged at the main run (Adam's default step: the paper's reading) and, apart, at every setting
of the sweep (``aligned_and_monotone_any_setting``, a scientific-choice sweep: in 1-D Adam's
path in w/w* depends only on lr/w* and w0/w*, and its ``holds_where`` is the region of
(lr/w*, w0/w*) where the claim holds, per form, derived from the sweep: ``alignment_region``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ..stats import Interval, mean_interval
from . import (
    ALL,
    BY_CHOICE,
    BY_CRITERION,
    CHOSEN,
    FAIL,
    MISSING,
    PAPER,
    PASS,
    Check,
    MissingInput,
    across,
    across_tolerance,
    at_most,
    interval_at_most,
    missing,
    passing_bound,
    reported,
    require,
    truthy,
)

FORMS = ("eq8", "eq5")
# A setting of the sweep, the columns the sweep's checks read, and the plane's coordinates.
SETTING = ("parameterisation", "learning_rate", "w0", "n", "x_scale")
R_COLUMN, S_COLUMN = "lr_over_w_star", "w0_over_w_star"
SWEEP_COLUMNS = (*SETTING, "seed", "aligned_epoch", "mse_rises", "diverged", R_COLUMN, S_COLUMN)
R_NAME, S_NAME = "lr/w*", "w0/w*"


def _over_seeds(seeds: pd.Series, values: pd.Series) -> Interval:
    """The mean of a per-seed value over the training seeds and its Student-t interval."""
    return mean_interval(values.to_numpy(dtype=float),
                         labels=[f"seed {s}" for s in seeds.to_numpy()])


SEEDS = "the training seeds (data draws)"


def _worst_seed(head: pd.DataFrame, values: pd.Series) -> str:
    seed = head.loc[values.fillna(math.inf).idxmax(), "seed"]
    return f"worst seed {seed} of {len(head)}"


def _tolerances(chosen: float, criteria: Mapping[str, Any]) -> list[float]:
    """The chosen tolerance and its alternatives (times each of ``tol_factors``), ascending."""
    return sorted({float(chosen), *(float(chosen) * float(f) for f in criteria["tol_factors"])})


def _tolerance_words(name: str, family: Mapping[float, Check]) -> str:
    """Where a tolerance-judged check holds, e.g. 'w_rel_tol >= 1e-4 (fails at 1e-5)' (only the
    judged tolerances count; one that could not be judged is named)."""
    holding = sorted(t for t, c in family.items() if c.verdict == PASS)
    failing = sorted(t for t, c in family.items() if c.verdict == FAIL)
    judged = holding + failing
    unjudged = sorted(t for t in family if t not in judged)
    note = (f" ({', '.join(f'{t:g}' for t in unjudged)} not judged)" if unjudged else "")
    if not judged:
        return f"no {name} could be judged"
    if not failing:
        return f"every {name} from {min(judged):g} to {max(judged):g}{note}"
    if not holding:
        return f"no {name} from {min(judged):g} to {max(judged):g}{note}"
    if max(failing) < min(holding):  # the usual case: looser tolerances hold
        return f"{name} >= {min(holding):g} (fails at {max(failing):g}){note}"
    return f"{name} in {{{', '.join(f'{t:g}' for t in holding)}}}{note}"


def _across_tolerance(judge: Any, name: str, chosen: float,
                      criteria: Mapping[str, Any], decided_by: str | None = None,
                      exact: bool = False) -> Check:
    """``judge(tol) -> Check`` judged at the stated tolerance (its verdict stands); the
    tolerance that flips it in its detail: exact (``passing_bound``) where ``exact`` (the
    tolerance is the check's bound), else from the grid ``tol_factors`` x the tolerance."""
    main = replace(judge(chosen), criterion_name=name)
    if exact:
        return across_tolerance(main, None, name, decided_by, flips_at=passing_bound(main))
    family = {t: judge(t) for t in _tolerances(chosen, criteria)}
    return across_tolerance(main, family, name, decided_by)


# ---- the main run: w, the noise floor, and the joint alignment row -------------------------

def checks(head: pd.DataFrame | None, criteria: Mapping[str, Any],
           alignment: pd.DataFrame | None = None, endpoint: pd.DataFrame | None = None,
           sweep: pd.DataFrame | None = None) -> list[Check]:
    """Every check of Figure 1 from the main run's headline (required: without it the stage is
    MISSING); the rows needing the alignment table, the endpoint run or the sweep are MISSING,
    with the reason, where those are absent."""
    head = require(head, "fig1_headline", ("seed", "rel_w_error", "alignment_epoch",
                                           "alignment_tol", "mse_excess_over_ols", "ols_mse",
                                           "mse_rises_before_alignment",
                                           "mse_rises_after_alignment"))
    w_error = head["rel_w_error"].abs()
    excess = head["mse_excess_over_ols"].abs()

    def w_check(tol: float) -> Check:
        return interval_at_most("w_converges_to_w_star", _over_seeds(head["seed"], w_error),
                                tol, f"mean over seeds of | |w|/w* - 1 | <= {tol:g} (its 95% "
                                "interval)", f"{_worst_seed(head, w_error)}: "
                                f"{w_error.max():.3g}", origin=CHOSEN)

    def mse_check(tol: float) -> Check:
        return interval_at_most("mse_at_noise_floor", _over_seeds(head["seed"], excess), tol,
                                f"mean over seeds of |final MSE / OLS MSE - 1| <= {tol:g} (its "
                                "95% interval)", f"OLS residual MSE {head['ols_mse'].min():.4g} "
                                f"to {head['ols_mse'].max():.4g}; {_worst_seed(head, excess)}: "
                                f"{excess.max():.3g}", origin=CHOSEN)

    out = [_across_tolerance(w_check, "w_rel_tol", criteria["w_rel_tol"], criteria,
                             f"{BY_CRITERION}: w_rel_tol and {SEEDS}", exact=True),
           _across_tolerance(mse_check, "mse_rel_tol", criteria["mse_rel_tol"], criteria,
                             f"{BY_CRITERION}: mse_rel_tol and {SEEDS}", exact=True)]
    out += aligned_and_monotone(head, alignment, sweep, criteria)
    out.append(synchronized_emergence(head, criteria))
    out += endpoint_checks(endpoint, criteria)
    return out


def _joint(check: str, epochs: pd.Series, rises: float, limit: float, tol: float,
           seeds: int, scope: str = ALL) -> Check:
    """Aligned (every seed's first epoch below ``tol``, -1: never) within ``limit`` epochs and
    no MSE rise: the joint claim at one setting."""
    never = int((epochs < 0).sum())
    slowest = math.inf if never or epochs.empty else float(epochs.max())
    holds = slowest <= limit and rises == 0
    return Check(check, slowest,
                 f"slowest seed's first epoch with relative distance to OLS < {tol:g} <= "
                 f"{limit:g}, and no epoch whose MSE rose", float(limit),
                 PASS if holds else FAIL,
                 f"{seeds} seeds; {never} never aligned; {int(rises)} MSE rises", scope, PAPER)


def _at_tolerance(table: pd.DataFrame, column: str, tol: float) -> pd.DataFrame:
    """The rows of ``table`` measured at tolerance ``tol`` (within float rounding)."""
    return table[np.isclose(table[column].astype(float), tol, rtol=1e-9, atol=0.0)]


def aligned_and_monotone(head: pd.DataFrame, alignment: pd.DataFrame | None,
                         sweep: pd.DataFrame | None, criteria: Mapping[str, Any]) -> list[Check]:
    """The joint row at the paper's setting (the main run), re-judged across every setting of the
    sweep and across the alignment tolerance (``fig1_alignment``: the main run's first aligned
    epoch per tolerance), with its parts (``scope`` aligned / monotone) at the main run."""
    name, limit = "aligned_and_monotone", float(criteria["alignment_epochs"])
    tol = float(head["alignment_tol"].iloc[0])
    before = float(head["mse_rises_before_alignment"].sum())
    rises = before + float(head["mse_rises_after_alignment"].sum())
    main = _joint(name, head["alignment_epoch"].astype(float), rises, limit, tol, len(head))
    parts = [replace(at_most(name, main.value, limit, f"slowest seed's first aligned epoch "
                             f"(relative distance < {tol:g}) <= {limit:g}", scope="aligned",
                             origin=PAPER), detail=main.detail),
             at_most(name, rises, 0.0, "epochs whose training MSE rose (beyond float64 "
                     "rounding), every seed: 0", f"{int(before)} before the first aligned "
                     f"epoch, {int(rises - before)} from it on", scope="monotone",
                     origin=PAPER)]
    any_name = "aligned_and_monotone_any_setting"
    try:
        alignment = require(alignment, "fig1_alignment", ("seed", "alignment_tol",
                                                          "alignment_epoch"))
        sweep = require(sweep, "fig1_sensitivity", SWEEP_COLUMNS)
    except MissingInput as why:
        return [replace(main, verdict=MISSING, value=math.nan,
                        detail=f"the alignment tolerance's grid or the sweep is absent ({why}); "
                               f"at the main run: {main.verdict}, {main.detail}"),
                replace(main, check=any_name, verdict=MISSING, value=math.nan, detail=str(why)),
                *parts]
    family = {"the main run": main}
    for key, rows in sweep.groupby(list(SETTING), sort=True):
        label = " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in zip(SETTING, key, strict=True))
        setting = _joint(name, rows["aligned_epoch"].astype(float),
                         float(rows["mse_rises"].sum()), limit, tol, len(rows))
        # A setting that diverged (in any seed) does not hold, whatever it did before.
        family[label] = replace(setting, verdict=FAIL) if truthy(rows["diverged"]).any() \
            else setting
    tolerance_family = {}
    for t in _tolerances(tol, criteria):
        if t == tol:
            continue
        rows = _at_tolerance(alignment, "alignment_tol", t)
        tolerance_family[t] = (
            _joint(name, rows["alignment_epoch"].astype(float), rises, limit, t, len(rows))
            if len(rows) == len(head) else
            missing(name, "", f"fig1_alignment.csv has no alignment_tol {t:g} for every seed "
                              "(re-run the training stage)"))
    tolerance_family[tol] = main
    # the paper's setting, judged at the stated tolerance and epochs: the slowest seed's epoch
    # is the alignment_epochs that flips it (no MSE rise), the alignment_tol from the grid
    at_main = across_tolerance(replace(main, criterion_name="alignment_epochs"), None,
                               "alignment_epochs", f"{BY_CRITERION}: alignment_epochs (the "
                               "paper's 1000) at the main run",
                               flips_at=main.value if rises == 0 else math.inf)
    at_main = replace(at_main, detail=at_main.detail + "; alignment_tol: "
                      + _tolerance_words("alignment_tol", tolerance_family))
    regions = [alignment_region(sweep, limit, form) for form in FORMS
               if (sweep["parameterisation"] == form).any()]
    any_setting = across(replace(main, check=any_name), family,
                         "the sweep's settings (form, learning rate, w0, n, x_scale)",
                         "; ".join(r.words for r in regions),
                         decided_by=f"{BY_CHOICE}: the learning rate and w0 (lr/w*, w0/w*: "
                         "neither is in the paper) and the form (eq. 8 / eq. 5)")
    return [at_main, any_setting, *parts]


def synchronized_emergence(head: pd.DataFrame, criteria: Mapping[str, Any]) -> Check:
    """Fig. 1b: "this structural emergence is temporally synchronized with the functional
    convergence". Per seed, the first epoch with | |w|/w* - 1 | < alignment_tol (``w_epoch``)
    and the first with a relative distance to OLS below it (``alignment_epoch``); their ratio
    (larger / smaller; never reached: infinite), worst seed, at most ``synchrony_ratio_max``.
    The rival, one leading the other by a lot, gives a ratio of 10 or more. In one dimension
    the distance is a function of w alone, so the two clocks are tied by construction."""
    name, top = "synchronized_emergence", float(criteria["synchrony_ratio_max"])
    criterion = (f"per seed, max/min of the epochs at which |w|/w* and the prediction come "
                 f"within alignment_tol of w* and OLS <= {top:g} (worst seed)")
    if "w_epoch" not in head.columns:
        return missing(name, criterion, "fig1_headline.csv lacks w_epoch (re-run the training "
                       "stage)")
    w_ep, f_ep = head["w_epoch"].astype(float), head["alignment_epoch"].astype(float)
    reached = (w_ep >= 0) & (f_ep >= 0)
    ratio = (np.maximum(w_ep, f_ep) / np.maximum(np.minimum(w_ep, f_ep), 1.0)).where(
        reached, math.inf)
    worst = int(ratio.idxmax())
    check = replace(at_most(name, float(ratio.max()), top, criterion,
                            f"{len(head)} seeds; worst seed {head.loc[worst, 'seed']}: w at "
                            f"epoch {w_ep[worst]:g}, prediction at {f_ep[worst]:g}; "
                            + ", ".join(f"seed {s}: {a:g}/{b:g}" for s, a, b in
                                        zip(head["seed"], w_ep, f_ep, strict=True)),
                            origin=CHOSEN), criterion_name="synchrony_ratio_max")
    return across_tolerance(check, None, "synchrony_ratio_max",
                            flips_at=passing_bound(check))


# ---- the endpoint: perturbed, does w return to w*? -----------------------------------------

def endpoint_checks(endpoint: pd.DataFrame | None, criteria: Mapping[str, Any]) -> list[Check]:
    """``endpoint_stable``: every perturbed run (each seed and perturbation) back within
    ``w_rel_tol`` of w* and staying there by the last epoch (``return_epoch`` >= 0), re-judged
    across the tolerance; per perturbation (scope) the slowest seed's return epoch."""
    name = "endpoint_stable"
    criterion = "every perturbed endpoint back within w_rel_tol of w* (and staying) by the end"
    try:
        endpoint = require(endpoint, "fig1_endpoint", ("seed", "perturbation", "tol",
                                                       "return_epoch", "epochs"))
    except MissingInput as why:
        return [missing(name, criterion, str(why))]
    last = float(endpoint["epochs"].max())

    def judge(tol: float, scope: str = ALL, rows: pd.DataFrame = endpoint) -> Check:
        at = _at_tolerance(rows, "tol", tol)
        if at.empty:
            return missing(name, criterion, f"fig1_endpoint.csv has no tolerance {tol:g} "
                                            "(re-run the training stage)", scope)
        back = at["return_epoch"].astype(float).where(at["return_epoch"] >= 0, math.inf)
        per = back.groupby(at["perturbation"]).max()
        # per seed: its slowest perturbation (infinite where one never returned)
        slowest = back.groupby(at["seed"]).max()
        return interval_at_most(
            name, _over_seeds(pd.Series(slowest.index), slowest), last,
            f"mean over seeds of the slowest return epoch (|w|/w* back within {tol:g} of 1 "
            f"and staying; never: infinite) <= the {int(last)} epochs trained on (its 95% "
            "interval)", f"fresh Adam state; {at['seed'].nunique()} seeds; epochs to return "
            "(slowest seed): " + ", ".join(f"{p:+.0%}: {e:g}" for p, e in per.items()),
            scope=scope, origin=CHOSEN)

    tol = float(criteria["w_rel_tol"])
    main = _across_tolerance(judge, "w_rel_tol", tol, criteria,
                             f"{BY_CRITERION}: w_rel_tol, the perturbations (+-10%, +-50%) and "
                             f"{SEEDS}")
    parts = [judge(tol, f"perturbation {p:+.0%}", rows)
             for p, rows in endpoint.groupby("perturbation", sort=True)]
    return [main, *parts]


# ---- the sweep: where in (lr/w*, w0/w*) the joint claim holds ------------------------------



def region_points(sweep: pd.DataFrame, limit: float) -> pd.DataFrame:
    """The sweep's trainings as points of the (lr/w*, w0/w*) plane, each with its own w* (the
    sample's sqrt(n / sum x^2)): ``aligned`` within ``limit`` epochs, ``monotone`` (no MSE
    rise) and ``holds`` (both, and not diverged). One row per training, in the sweep's order."""
    sweep = require(sweep, "fig1_sensitivity", SWEEP_COLUMNS)
    epochs = sweep["aligned_epoch"].astype(float)
    aligned = (epochs >= 0) & (epochs <= limit)
    monotone = sweep["mse_rises"].astype(float) == 0
    return pd.DataFrame({
        "parameterisation": sweep["parameterisation"],
        R_COLUMN: sweep[R_COLUMN].astype(float), S_COLUMN: sweep[S_COLUMN].astype(float),
        "aligned": aligned, "monotone": monotone,
        "holds": aligned & monotone & ~truthy(sweep["diverged"]),
    })


@dataclass(frozen=True)
class Region:
    """Where the joint claim holds for one form: the box of (lr/w*, w0/w*) holding the most
    holding points and no failing one; a side that could run to the sweep's edge without
    taking in a failing point is left open (infinite bound). In words in ``words``."""

    form: str
    r_bounds: tuple[float, float]  # (low, high); -inf / inf where open; NaN: no region
    s_bounds: tuple[float, float]
    inside: int  # holding points in the box
    holding: int  # holding points of this form
    points: int  # points of this form
    words: str


# Most candidate bounds per axis in the exhaustive box search (an even subset of the holding
# points' coordinates beyond it): the search costs (candidates^2 / 2)^2 boxes.
MAX_CANDIDATES = 48


def _bound_words(name: str, low: float, high: float, below: float, above: float) -> str:
    """'lr/w* >= 0.001', '0.001 <= lr/w* <= 0.003', 'lr/w* = 0.001' (3 significant digits),
    with the nearest failing
    values beyond each stated bound (``below``, ``above``; NaN: none)."""
    beyond = [f"{v:.3g}" for v in (below, above) if np.isfinite(v)]
    tail = f" (fails at {' and '.join(beyond)})" if beyond else ""
    if np.isinf(low) and np.isinf(high):
        return ""
    if np.isinf(low):
        return f"{name} <= {high:.3g}{tail}"
    if np.isinf(high):
        return f"{name} >= {low:.3g}{tail}"
    if f"{low:.3g}" == f"{high:.3g}":
        return f"{name} = {low:.3g}{tail}"
    return f"{low:.3g} <= {name} <= {high:.3g}{tail}"


def _candidates(values: np.ndarray, everything: np.ndarray) -> np.ndarray:
    """Indices into ``everything`` (sorted unique coordinates) of the holding points' values,
    at most ``MAX_CANDIDATES`` of them (evenly spaced, both ends kept)."""
    idx = np.unique(np.searchsorted(everything, values))
    if len(idx) > MAX_CANDIDATES:
        idx = idx[np.unique(np.linspace(0, len(idx) - 1, MAX_CANDIDATES).round().astype(int))]
    return idx


def alignment_region(sweep: pd.DataFrame, limit: float, form: str) -> Region:
    """The region of (lr/w*, w0/w*) where ``form`` aligns within ``limit`` epochs with no MSE
    rise, from the sweep's points (``region_points``): among boxes whose sides pass through
    holding points, the one holding the most holding points and no failing point (ties: the
    smallest), its sides opened where they can reach the sweep's edge, in words."""
    points = region_points(sweep, limit)
    points = points[points["parameterisation"] == form]
    if points.empty:
        raise MissingInput(f"fig1_sensitivity.csv has no {form} points")
    hold = points["holds"].to_numpy()
    holding = int(hold.sum())
    if holding == 0:
        return Region(form, (math.nan, math.nan), (math.nan, math.nan), 0, 0, len(points),
                      f"{form}: nowhere in the sweep (0 of {len(points)} trainings)")
    r, s_ = points[R_COLUMN].to_numpy(), points[S_COLUMN].to_numpy()
    rs, ss = np.unique(r), np.unique(s_)
    i, j = np.searchsorted(rs, r), np.searchsorted(ss, s_)
    good = np.zeros((len(rs), len(ss)), dtype=np.int64)
    bad = np.zeros_like(good)
    np.add.at(good, (i[hold], j[hold]), 1)
    np.add.at(bad, (i[~hold], j[~hold]), 1)
    G = np.pad(good.cumsum(0).cumsum(1), ((1, 0), (1, 0)))  # 2-D prefix sums, zero border
    B = np.pad(bad.cumsum(0).cumsum(1), ((1, 0), (1, 0)))

    def count(T: np.ndarray, a0: Any, a1: Any, b0: Any, b1: Any) -> Any:
        """Points in rows a0..a1 and columns b0..b1 (inclusive) of the compressed grid."""
        return T[a1 + 1, b1 + 1] - T[a0, b1 + 1] - T[a1 + 1, b0] + T[a0, b0]

    cr, cs = _candidates(r[hold], rs), _candidates(s_[hold], ss)
    pr, ps = np.triu_indices(len(cr)), np.triu_indices(len(cs))
    I0, I1 = cr[pr[0]][:, None], cr[pr[1]][:, None]
    J0, J1 = cs[ps[0]][None, :], cs[ps[1]][None, :]
    inside = np.where(count(B, I0, I1, J0, J1) == 0, count(G, I0, I1, J0, J1), -1)
    span = np.broadcast_to(np.log(rs[I1] / rs[I0]), inside.shape)  # lr/w* > 0 always
    a, b = np.unravel_index(np.lexsort((span.ravel(), -inside.ravel()))[0], inside.shape)
    n_in = int(inside[a, b])
    box = [int(I0[a, 0]), int(I1[a, 0]), int(J0[0, b]), int(J1[0, b])]
    # Open a side where the box can run to the sweep's edge without taking in a failing point
    # (one side after the other, so the opened box, corners included, has none either).
    edges = (0, len(rs) - 1, 0, len(ss) - 1)
    opened = [False] * 4
    for side in range(4):
        wider = list(box)
        wider[side] = edges[side]
        if count(B, *wider) == 0:
            box, opened[side] = wider, True
    r0, r1, s0, s1 = box

    def nearest_bad(steps: range, axis: int) -> float:
        """The nearest coordinate beyond a bound where a point in the box's band fails."""
        for k in steps:
            if (bad[k, s0:s1 + 1] if axis == 0 else bad[r0:r1 + 1, k]).any():
                return float((rs if axis == 0 else ss)[k])
        return math.nan

    r_bounds = (-math.inf if opened[0] else float(rs[r0]),
                math.inf if opened[1] else float(rs[r1]))
    s_bounds = (-math.inf if opened[2] else float(ss[s0]),
                math.inf if opened[3] else float(ss[s1]))
    text = " and ".join(w for w in (
        _bound_words(R_NAME, *r_bounds,
                     math.nan if opened[0] else nearest_bad(range(r0 - 1, -1, -1), 0),
                     math.nan if opened[1] else nearest_bad(range(r1 + 1, len(rs)), 0)),
        _bound_words(S_NAME, *s_bounds,
                     math.nan if opened[2] else nearest_bad(range(s0 - 1, -1, -1), 1),
                     math.nan if opened[3] else nearest_bad(range(s1 + 1, len(ss)), 1)),
    ) if w) or "everywhere in the sweep"
    rest = "" if n_in == holding else f"; {holding - n_in} more hold outside it"
    return Region(form, r_bounds, s_bounds, n_in, holding, len(points),
                  f"{form}: {text} ({n_in} of {len(points)} trainings in this box{rest})")


def sweep_checks(table: pd.DataFrame | None, criteria: Mapping[str, Any]) -> list[Check]:
    """Per parameterisation (REPORTED): the share of the sweep's trainings where the joint claim
    holds (aligned within ``alignment_epochs`` and no MSE rise), and the region of
    (lr/w*, w0/w*) where it holds (``holds_where``, ``alignment_region``)."""
    limit = float(criteria["alignment_epochs"])
    points = region_points(table, limit)
    out = []
    for form in FORMS:
        name = f"alignment_region_{form}"
        criterion = (f"share of trainings aligned within {limit:g} epochs with no MSE rise; "
                     "where in (lr/w*, w0/w*)")
        rows = points[points["parameterisation"] == form]
        if rows.empty:
            out.append(missing(name, criterion, f"the sweep has no {form} points"))
            continue
        region = alignment_region(table, limit, form)
        share = float(rows["holds"].mean())
        out.append(replace(reported(
            name, share, criterion,
            f"{int(rows['holds'].sum())} of {len(rows)} trainings hold; aligned alone "
            f"{rows['aligned'].mean():.3g}, monotone alone {rows['monotone'].mean():.3g}; "
            f"lr/w* {rows[R_COLUMN].min():.2g} to {rows[R_COLUMN].max():.2g}, w0/w* "
            f"{rows[S_COLUMN].min():.2g} to {rows[S_COLUMN].max():.2g}"),
            share_holds=share, holds_where=region.words))
    return out
