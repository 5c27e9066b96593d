"""Checks of the attention_regression stage: the SECOND seed paper's claims (Goulet Coulombe,
"Ordinary Least Squares as an Attention Mechanism", and its public repository's README), not
the OLS-Transformer paper's. Tables: ar_r2 (per replicate), ar_identity, ar_optimisation,
ar_kernel (experiments/attention_regression.py).

Monte Carlo claims are judged on Student-t intervals over replicates (``stats.mean_interval``),
of paired differences (same data) where two models are compared, with the verdict rule of
``checks``: PASS only where every condition's interval clears the threshold, FAIL where one lies
wholly on the failing side, INCONCLUSIVE otherwise (with the replicates that would decide it).
A replicate whose R^2 is NaN (an LBFGS run that turned non-finite) is left out and counted in
the detail ("NaN in k of n"), never scored as an error and never dropped silently.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from ..stats import Interval, finite_mean_interval, t_quantile
from . import (
    ALL,
    CHOSEN,
    FAIL,
    INCONCLUSIVE,
    PAPER,
    PASS,
    THEORY,
    Check,
    MissingInput,
    across_tolerance,
    at_most,
    criteria_with_defaults,
    interval_at_least,
    interval_at_most,
    interval_within,
    missing,
    reported,
    require,
)

DEFAULTS = {"rounding_constant": 64.0, "prediction_tol": 1e-6, "omega_tol": 1e-3,
            "kernel_tol": 1e-12, "linear_margin": 0.1, "competitive_margin": 0.05,
            "confidence": 0.95, "digits_ols": 5e-5, "digits_rf": 6e-5, "digits_gbm": 2.5e-4,
            "equivalence_margin": 0.02, "equivalence_confidence": 0.90, "paper_gap": 0.1}
# The deterministic estimators (same seed, same data: the paper's numbers to its printed digits)
# and the criterion of each: |our run mean - the printed run mean| <= digits_<model>.
DIGIT_MODELS = {"OLS": "digits_ols", "RF": "digits_rf", "GBM": "digits_gbm"}
# Estimators whose fits differ by platform (float32 on an A100 there): judged by equivalence.
EQUIVALENCE_MODELS = ("AttReg_M5", "MLP")
PAPER_RANKING = ("MLP", "AttReg_M5", "RF", "GBM", "OLS")  # the paper's pooled order, best first
UNIT_ROUNDOFF = {"float64": 2.0**-53, "float32": 2.0**-24}
ATTREG = "AttReg_M5"
NONLINEAR = ("friedman1", "friedman2", "friedman3", "rotated_sine", "soft_radial")
R2 = ("design", "n", "snr", "replicate", "model", "r2_test", "r2_train")
REPLICATES = "replicates (seed base_seed + 1000 r), the paper's estimator settings"
# The choice that decides each algebra row (deterministic: no replicates).
ALGEBRA_DECIDED_BY = {
    "identity_out_of_sample": "the rounding constant c of c cond(X)^2 u (the proof stage's)",
    "optimisation_recovers_ols": "prediction_tol, and LBFGS's iteration cap",
    "omega_identified": "omega_tol, and the target count k >= p (identification)",
    "kernel_identity": "kernel_tol (float64 rounding of the two weight forms)",
}
# Each algebra tolerance re-judged at these multiples of the chosen one (its value among them):
# the identity's c at 16-64, the others 4x either side. Not tighter: c = 8 and kernel_tol 1e-13
# sit on the rounding these rows measure (the reference's draws: 1.01 x c = 8 and 1.5e-13; the
# other seeds': 0.65 and 1.9e-14), so their verdict there is a coin toss over seeds; the rival
# (no identity) errs by O(1), far outside every alternative.
TOLERANCE_FACTORS = {"rounding_constant": (0.25, 0.5, 1.0),
                     "prediction_tol": (0.25, 1.0, 4.0), "omega_tol": (0.25, 1.0, 4.0),
                     "kernel_tol": (0.25, 1.0, 4.0)}
MC_NAMES = ("beats_ols_nonlinear", "close_to_ols_linear", "competitive_with_trees",
            "train_r2_above_ceiling", "refit_rule_paired", "refit_rule_effect", "masking_effect")


def combine(verdicts: list[str]) -> str:
    """Every condition must hold: any FAIL fails, all PASS passes, else not decided."""
    if FAIL in verdicts:
        return FAIL
    return PASS if verdicts and all(v == PASS for v in verdicts) else INCONCLUSIVE


def paired(r2: pd.DataFrame, a: str, b: str, column: str = "r2_test") -> pd.DataFrame:
    """Per condition and replicate: model a's value minus model b's (same data)."""
    keys = ["design", "n", "snr", "replicate"]
    wide = r2[r2["model"].isin([a, b])].pivot_table(index=keys, columns="model", values=column,
                                                     dropna=False)
    if a not in wide or b not in wide:
        raise MissingInput(f"ar_r2.csv lacks model {a if a not in wide else b}")
    return (wide[a] - wide[b]).rename("diff").reset_index()


def _nan_note(nan: int, total: int) -> str:
    return f"NaN in {nan} of {total}" if nan else ""


def _difference_check(name: str, diffs: pd.DataFrame, designs: tuple[str, ...], bound: float,
                      above: bool, criterion: str, confidence: float,
                      origin: str = CHOSEN, decided_by: str = REPLICATES) -> list[Check]:
    """One row per (design, N, SNR), its paired difference's interval over replicates against
    ``bound``, and the main row: the worst condition's, with every condition's verdicts
    combined (any FAIL fails, all PASS passes, else INCONCLUSIVE)."""
    judge = interval_at_least if above else interval_at_most
    rows: list[Check] = []
    for (design, n, snr), g in diffs[diffs["design"].isin(designs)].groupby(
            ["design", "n", "snr"], sort=False):
        found, nan = finite_mean_interval(g["diff"], [f"r{int(r)}" for r in g["replicate"]],
                                          confidence)
        rows.append(replace(judge(name, found, bound, criterion, _nan_note(nan, len(g)),
                                  f"{design} N={int(n)} SNR={snr:g}", origin),
                            decided_by=decided_by))
    if not rows:
        return [missing(name, criterion, f"no rows of designs {', '.join(designs)}")]
    verdicts = [r.verdict for r in rows]

    def edge(r: Check) -> float:
        value = r.ci_low if above else -r.ci_high
        return value if math.isfinite(value) else -math.inf

    # The headline is a condition that decides the row: a failing one where any fails (a wide,
    # undecided interval can reach lower and would show a FAIL with a straddling interval),
    # else an undecided one, else the closest pass.
    rank = {FAIL: 0, INCONCLUSIVE: 1}
    worst = min(rows, key=lambda r: (rank.get(r.verdict, 2), edge(r)))
    main = replace(worst, scope=ALL, verdict=combine(verdicts),
                   detail=f"worst of {len(rows)} conditions: {worst.scope}, {worst.detail}; "
                          f"{verdicts.count(PASS)} hold, {verdicts.count(FAIL)} fail, "
                          f"{verdicts.count(INCONCLUSIVE)} undecided")
    return [main, *rows]


def refit_pairs(r2: pd.DataFrame) -> pd.DataFrame:
    """The paper's refit rule where it fires: per condition, the paper variant's fits, how many
    fired, and on the fits where it fired their first fit's test R^2 (the rule not applied)
    against the one kept (the rule applied: the refit), the paired difference; beside them the
    validation variant's mean test R^2 on the same draws (NaN where it did not run)."""
    paper = r2[r2["model"] == ATTREG]
    if "r2_test_first" not in paper or paper.empty:
        return pd.DataFrame()
    valid = r2[r2["model"] == "AttReg_M5_validation"].set_index(
        ["design", "n", "snr", "base_seed", "replicate"])["r2_test"]
    rows = []
    for (design, n, snr), g in paper.groupby(["design", "n", "snr"], sort=False):
        fired = g[g["refit"].astype(bool)]
        keys = list(zip(fired["design"], fired["n"], fired["snr"], fired["base_seed"],
                        fired["replicate"], strict=True))
        rows.append({"design": design, "n": int(n), "snr": float(snr), "fits": len(g),
                     "fired": len(fired),
                     "first_fit_mean": float(fired["r2_test_first"].mean()),
                     "rule_applied_mean": float(fired["r2_test"].mean()),
                     "paired_diff_mean": float((fired["r2_test"] - fired["r2_test_first"]).mean()),
                     "validation_mean": float(valid.reindex(keys).mean()) if keys else math.nan,
                     "all_fits_first_mean": float(g["r2_test_first"].mean()),
                     "all_fits_rule_mean": float(g["r2_test"].mean())})
    return pd.DataFrame(rows)


def _refit_check(r2: pd.DataFrame, conf: float) -> Check:
    """REPORTED: the paired effect of the paper's refit rule (rule applied minus first fit) over
    the fits where it fired, and where that was."""
    paper = r2[(r2["model"] == ATTREG)]
    if "r2_test_first" not in paper:
        return missing("refit_rule_paired", "the refit rule's paired effect",
                       "ar_r2 lacks r2_test_first")
    fired = paper[paper["refit"].astype(bool)]
    where = refit_pairs(r2)
    where = where[where["fired"] > 0] if not where.empty else where
    if fired.empty:
        return reported("refit_rule_paired", 0.0, "the paper's refit rule (test R^2 < "
                        "refit_below: refit, kept whatever its score): fits where it fired",
                        f"fired in 0 of {len(paper)} fits: no paired effect here")
    found, nan = finite_mean_interval(fired["r2_test"] - fired["r2_test_first"],
                                      confidence=conf)
    return replace(reported(
        "refit_rule_paired", found.estimate, "test R^2 with the paper's refit rule applied "
        "minus its first fit, on the fits where the rule fired (paired, same fits)",
        f"fired in {len(fired)} of {len(paper)} fits; " + found.words() + "; " + ", ".join(
            f"{r.design} N={r.n} SNR={r.snr:g}: {r.fired}/{r.fits}, {r.first_fit_mean:.3f} -> "
            f"{r.rule_applied_mean:.3f}" for r in where.itertuples())
        + (f"; {_nan_note(nan, len(fired))}" if nan else "")),
        ci_low=found.low, ci_high=found.high, replicates=found.replicates)


def monte_carlo_checks(r2: pd.DataFrame, c: Mapping[str, float]) -> list[Check]:
    """The Monte Carlo claims, on ar_r2."""
    conf = float(c["confidence"])
    out: list[Check] = []

    def attempt(name: str, build: object) -> None:
        try:
            out.extend(build())  # type: ignore[operator]
        except MissingInput as why:
            out.append(missing(name, "see checks/attention_regression.py", str(why)))

    attempt("beats_ols_nonlinear", lambda: _difference_check(
        "beats_ols_nonlinear", paired(r2, ATTREG, "OLS"), NONLINEAR, 0.0, True,
        f"Attention Regression's test R^2 above OLS's on every nonlinear design: {conf:.0%} "
        "t interval of the paired difference (AttReg - OLS) > 0", conf))
    attempt("close_to_ols_linear", lambda: _difference_check(
        "close_to_ols_linear", paired(r2, "OLS", ATTREG), ("linear",), c["linear_margin"], False,
        f"on the linear design OLS - AttReg test R^2 below {c['linear_margin']:g} ({conf:.0%} t "
        "interval of the paired difference)", conf))

    def trees() -> list[Check]:
        rows = []
        for other in ("RF", "GBM"):
            rows += [r for r in _difference_check(
                "competitive_with_trees", paired(r2, ATTREG, other), NONLINEAR,
                -c["competitive_margin"], True,
                f"AttReg - {other} test R^2 above -{c['competitive_margin']:g} on every nonlinear "
                f"design ({conf:.0%} t interval of the paired difference)", conf)]
        mains = [r for r in rows if r.scope == ALL]
        worst = min(mains, key=lambda m: m.ci_low if math.isfinite(m.ci_low) else -math.inf)
        main = replace(worst, verdict=combine([m.verdict for m in mains]),
                       criterion="AttReg - RF and AttReg - GBM test R^2 above "
                       f"-{c['competitive_margin']:g} on every nonlinear design ({conf:.0%} t "
                       "intervals of the paired differences)",
                       detail="; ".join(f"vs {o}: {m.verdict} ({m.detail})"
                                        for o, m in zip(("RF", "GBM"), mains, strict=True)))
        return [main, *[r for r in rows if r.scope != "all"]]

    attempt("competitive_with_trees", trees)

    def ceiling() -> list[Check]:
        rows = r2[r2["model"] == ATTREG].copy()
        if rows.empty:
            raise MissingInput(f"ar_r2.csv has no {ATTREG} rows")
        rows["diff"] = rows["r2_train"] - rows["snr"].map(lambda s: s / (1 + s))
        return _difference_check(
            "train_r2_above_ceiling", rows, tuple(dict.fromkeys(rows["design"])), 0.0, True,
            "with self-attention in training, Attention Regression's training R^2 exceeds the "
            f"noise ceiling SNR / (1 + SNR) on every design ({conf:.0%} t interval of train R^2 "
            "- ceiling > 0): the fit sees its own label", conf, THEORY)

    attempt("train_r2_above_ceiling", ceiling)
    out.append(_refit_check(r2, conf))
    for name, other, what in (("refit_rule_effect", "AttReg_M5_validation",
                               "the validation-split refit rule"),
                              ("masking_effect", "AttReg_M5_masked",
                               "self-attention masked in training")):
        try:
            d = paired(r2, other, ATTREG)
            found, nan = finite_mean_interval(d["diff"], confidence=conf)
            out.append(replace(reported(
                name, found.estimate, f"test R^2 of {what} minus the paper's estimator "
                "(mean over every condition and replicate)",
                "; ".join(filter(None, [found.words(), _nan_note(nan, len(d))]))),
                ci_low=found.low, ci_high=found.high, replicates=found.replicates))
        except MissingInput as why:
            out.append(missing(name, f"{what} against the paper's estimator", str(why)))
    return out


def _cell(row: pd.Series) -> str:
    return f"{row['design']} N={int(row['n'])} SNR={float(row['snr']):g} {row['run']}"


def _not_compared(comparison: pd.DataFrame, models: Sequence[str]) -> str:
    """Why rows of ``models`` were not compared, with their counts ('' where all were)."""
    rows = comparison[comparison["model"].isin(models) & (comparison["comparable"] != "yes")]
    return "; ".join(f"{len(g)} not compared: {why}" for why, g in rows.groupby("comparable"))


def digit_checks(comparison: pd.DataFrame, c: Mapping[str, float]) -> list[Check]:
    """OLS, RF and GBM against the notebooks' printed run means, cell by cell: the same seeds
    draw the same data and these estimators are deterministic given the seed, so each run mean
    must agree within the printing's rounding (0.00005) plus the estimator's cross-platform
    noise (``digits_<model>``). One row per model and run (every condition), naming any cell
    that does not agree, and the main row over all of them."""
    rows = comparison[comparison["model"].isin(list(DIGIT_MODELS))
                      & (comparison["comparable"] == "yes")]
    skipped = _not_compared(comparison, list(DIGIT_MODELS))
    if rows.empty:
        return [reported("paper_digits", math.nan, "OLS, RF and GBM run means against the "
                         "paper's printed ones", skipped or "no OLS, RF or GBM rows")]
    out = []
    for (model, run), g in rows.groupby(["model", "run"], sort=False):
        tol = float(c[DIGIT_MODELS[model]])
        off = g[(g["diff"].abs() > tol) | ~np.isfinite(g["diff"])]
        worst = float(g["diff"].abs().max())
        out.append(at_most(
            "paper_digits", worst, tol, f"{model}: |our {run} mean - the printed one| <= "
            f"{tol:g} in every condition (rounding 5e-05 + the estimator's noise)",
            f"{len(g)} conditions; " + (f"{len(off)} off: " + ", ".join(
                f"{_cell(r)} {r['diff']:+.5f}" for _, r in off.iterrows()) if len(off)
                else "all agree"), f"{model} {run}"))
    verdict = FAIL if any(r.verdict == FAIL for r in out) else PASS
    main = replace(max(out, key=lambda r: r.value - r.threshold), scope=ALL, verdict=verdict,
                   criterion="OLS, RF and GBM: each run mean equals the paper's printed one "
                   "within its rounding plus the estimator's cross-platform noise "
                   f"(OLS {c['digits_ols']:g}, RF {c['digits_rf']:g}, GBM {c['digits_gbm']:g})",
                   detail=f"{len(rows)} (condition, model, run) cells; " + "; ".join(
                       f"{r.scope}: {r.verdict}" for r in out) + (f"; {skipped}" if skipped
                                                                   else ""))
    return [main, *out]


def tost_interval(row: pd.Series, confidence: float) -> Interval:
    """The (1 - 2 alpha) interval of our run mean minus the paper's printed one for a TOST at
    level alpha: our replicates' variance counted twice, once for our mean and once for the
    paper's (its fits vary by platform as ours by rounding; its data are ours, so the data's
    share of that variance makes the interval wider, never narrower, than the fits' alone)."""
    k = int(row["replicates"])
    if k < 2 or not math.isfinite(float(row["r2_sd"])):
        return Interval(float(row["diff"]), math.nan, math.nan, k)
    half = t_quantile(0.5 + confidence / 2, k - 1) * float(row["r2_sd"]) * math.sqrt(2.0 / k)
    return Interval(float(row["diff"]), float(row["diff"]) - half, float(row["diff"]) + half, k,
                    method="student-t, our replicates' variance twice", confidence=confidence)


def cell_verdicts(comparison: pd.DataFrame, c: Mapping[str, float]) -> pd.DataFrame:
    """Each compared (design, n, snr, model, run) cell's verdict against the paper's printed run
    mean: digits for OLS, RF and GBM (PASS where |diff| <= digits_<model>), TOST for Attention
    Regression and the MLP (``equivalence_checks``'s rule), with the smallest margin shown
    (``margin``: |diff| for digits). For the figure; the checks' rows say the same."""
    conf, margin = float(c["equivalence_confidence"]), float(c["equivalence_margin"])
    rows = []
    for _, row in comparison[comparison["comparable"] == "yes"].iterrows():
        if row["model"] in DIGIT_MODELS:
            tol = float(c[DIGIT_MODELS[row["model"]]])
            verdict = PASS if abs(float(row["diff"])) <= tol else FAIL
            shown = abs(float(row["diff"]))
        elif row["model"] in EQUIVALENCE_MODELS:
            found = tost_interval(row, conf)
            verdict = interval_within("cell", found, -margin, margin, 0.0, "").verdict
            shown = max(abs(found.low), abs(found.high)) if found.defined else math.nan
        else:
            continue
        rows.append({"design": row["design"], "n": int(row["n"]), "snr": float(row["snr"]),
                     "model": row["model"], "run": row["run"], "diff": float(row["diff"]),
                     "verdict": verdict, "margin": shown})
    return pd.DataFrame(rows, columns=["design", "n", "snr", "model", "run", "diff", "verdict",
                                       "margin"])


def equivalence_checks(comparison: pd.DataFrame, c: Mapping[str, float]) -> list[Check]:
    """Attention Regression and the MLP against the paper's printed run means by equivalence
    (TOST): PASS where the interval of ``tost_interval`` lies inside +- equivalence_margin,
    FAIL where it lies wholly outside, else INCONCLUSIVE; each cell's detail gives the smallest
    margin its interval would pass (max |end|)."""
    margin, conf = float(c["equivalence_margin"]), float(c["equivalence_confidence"])
    rows = comparison[comparison["model"].isin(list(EQUIVALENCE_MODELS))
                      & (comparison["comparable"] == "yes")]
    skipped = _not_compared(comparison, list(EQUIVALENCE_MODELS))
    if rows.empty:
        return [reported("paper_equivalence", math.nan, "Attention Regression and the MLP "
                         "against the paper's printed run means (TOST)",
                         skipped or "no Attention Regression or MLP rows")]
    out = []
    for _, row in rows.iterrows():
        found = tost_interval(row, conf)
        smallest = max(abs(found.low), abs(found.high)) if found.defined else math.nan
        out.append(interval_within(
            "paper_equivalence", found, -margin, margin, 0.0,
            f"{row['model']}: our {row['run']} mean - the paper's printed one inside "
            f"+-{margin:g} ({conf:.0%} interval, TOST)",
            f"smallest margin shown {smallest:.4f}; ours {row['r2_mean']:.4f}, printed "
            f"{row['paper_r2']:.4f}", f"{row['model']} {_cell(row)}"))
    verdicts = [r.verdict for r in out]
    worst = max(out, key=lambda r: (r.verdict == FAIL, r.verdict == INCONCLUSIVE,
                                    max(abs(r.ci_low), abs(r.ci_high))
                                    if math.isfinite(r.ci_low) else math.inf))
    smallest = [max(abs(r.ci_low), abs(r.ci_high)) for r in out if math.isfinite(r.ci_low)]
    main = replace(worst, scope=ALL, verdict=combine(verdicts),
                   criterion=f"Attention Regression and the MLP: every run mean equivalent to "
                   f"the paper's printed one within +-{margin:g} ({conf:.0%} interval, TOST)",
                   detail=f"worst: {worst.scope}, {worst.detail}; {verdicts.count(PASS)} "
                   f"equivalent, {verdicts.count(FAIL)} not, {verdicts.count(INCONCLUSIVE)} "
                   f"undecided of {len(out)}; smallest margins shown: median "
                   f"{np.median(smallest) if smallest else math.nan:.3f}, max "
                   f"{max(smallest) if smallest else math.nan:.3f}"
                   + (f"; {skipped}" if skipped else ""))
    return [main, *out]


def paper_claims(r2: pd.DataFrame, c: Mapping[str, float]) -> list[Check]:
    """The paper's own Monte Carlo claims, on the conditions run (the scope says which): the
    linear design's gap (its table: OLS - AttReg > 0.1 in 5 of its 16 linear conditions, the
    gap growing with N), and the pooled ranking MLP > AttReg > RF > GBM > OLS."""
    out = []
    gap = float(c["paper_gap"])
    lin = r2[(r2["design"] == "linear") & (r2["model"].isin(["OLS", ATTREG]))]
    if lin.empty:
        out.append(missing("paper_linear_gap", "OLS - AttReg on the linear design",
                           "no linear rows of OLS and AttReg_M5"))
    else:
        means = lin.groupby(["n", "snr", "model"])["r2_test"].mean().unstack("model")
        if {"OLS", ATTREG} <= set(means.columns):
            d = (means["OLS"] - means[ATTREG]).dropna()
            above = d[d > gap]
            out.append(reported(
                "paper_linear_gap", float(len(above)),
                f"linear conditions run where mean OLS - AttReg test R^2 > {gap:g} (the "
                "paper's table: 5 of its 16)", f"scope: the {len(d)} linear conditions run; "
                f"{len(above)} of {len(d)}; " + ", ".join(
                    f"N={int(n)} SNR={s:g}: {v:+.3f}" for (n, s), v in d.items())))
    models = [m for m in PAPER_RANKING if m in set(r2["model"])]
    if len(models) < 2:
        out.append(missing("paper_ranking", "the pooled ranking of the paper's models",
                           "fewer than two of its models ran"))
        return out
    cells = r2[r2["model"].isin(models)].groupby(["design", "n", "snr", "model"])[
        "r2_test"].mean().unstack("model").dropna()
    pooled = cells.mean()
    ours = sorted(models, key=lambda m: -pooled[m])
    paper = [m for m in PAPER_RANKING if m in models]
    agree = ours == paper
    out.append(Check("paper_ranking", float(agree), "the pooled mean test R^2 ranks the models "
                     f"as the paper: {' > '.join(paper)}", 1.0, PASS if agree else FAIL,
                     f"scope: the {len(cells)} conditions run, pooled; ours: "
                     + " > ".join(f"{m} {pooled[m]:.4f}" for m in ours), ALL, PAPER,
                     sense="=="))
    return out


def algebra_checks(tables: Mapping[str, pd.DataFrame | None], c: Mapping[str, float]
                   ) -> list[Check]:
    out: list[Check] = []
    try:
        ident = require(tables.get("ar_identity"), "ar_identity",
                        ("cond_measured", "route", "max_rel_err", "dtype"))
        u = ident["dtype"].map(UNIT_ROUNDOFF).astype(float)
        ratio = ident["max_rel_err"].astype(float).fillna(math.inf) / (
            c["rounding_constant"] * ident["cond_measured"].astype(float) ** 2 * u)
        chosen = float(c["rounding_constant"])

        def identity(worst: float, scope: str, detail: str = "") -> Check:
            def at(k: float) -> Check:  # ratio is at c = chosen; at c = k it scales by chosen/k
                return at_most("identity_out_of_sample", worst * chosen / k, 1.0, (
                    "OLS predictions at held-out queries as attention f_q^T F^T y (F = X U "
                    "Lambda^-1/2, F^T F = I): max relative error / (c cond(X)^2 u) <= 1, c = "
                    f"{k:g}, eigen and SVD routes, every cond(X)"), detail, scope, THEORY)
            return _varied(at, chosen, "rounding_constant", "c")

        out.append(identity(float(ratio.max()), ALL, f"{len(ident)} (cond, route) cases, "
                            f"cond(X) up to {ident['cond_measured'].max():.3g}"))
        for route, g in ident.groupby("route"):
            out.append(identity(float(ratio[g.index].max()), str(route)))
    except MissingInput as why:
        out.append(missing("identity_out_of_sample", "see checks/attention_regression.py",
                           str(why)))
    try:
        opt = require(tables.get("ar_optimisation"), "ar_optimisation",
                      ("targets", "p", "pred_gap_train", "pred_gap_test", "omega_rel_dist"))
        gap = opt[["pred_gap_train", "pred_gap_test"]].astype(float).fillna(math.inf).max(axis=1)
        out.append(_varied(lambda tol: at_most(
            "optimisation_recovers_ols", float(gap.max()), tol, "min over Omega = L L^T of the "
            "squared prediction error (LBFGS) predicts like OLS in and out of sample: max "
            f"relative gap <= {tol:g}, every target count", f"{len(opt)} fits"),
            c["prediction_tol"], "prediction_tol"))
        ident = opt[opt["targets"] >= opt["p"]]
        if ident.empty:
            out.append(missing("omega_identified", "Omega = (X^T X)^-1 where k >= p",
                               "no fit with targets >= p"))
        else:
            worst = float(ident["omega_rel_dist"].max())
            out.append(_varied(lambda tol: at_most(
                "omega_identified", worst, tol, "where identified (k >= p targets sharing X) "
                f"the fitted Omega equals (X^T X)^-1: relative Frobenius distance <= {tol:g}",
                f"{len(ident)} fits"), c["omega_tol"], "omega_tol"))
        lone = opt[opt["targets"] < opt["p"]]
        if not lone.empty:
            out.append(reported("omega_not_identified", float(lone["omega_rel_dist"].median()),
                                "k < p: Omega's relative Frobenius distance to (X^T X)^-1 "
                                "(median), where only Omega X^T Y is identified",
                                f"range {lone['omega_rel_dist'].min():.3g}-"
                                f"{lone['omega_rel_dist'].max():.3g} over {len(lone)} fits, "
                                "while predicting like OLS"))
    except MissingInput as why:
        out.append(missing("optimisation_recovers_ols", "see checks/attention_regression.py",
                           str(why)))
    try:
        kern = require(tables.get("ar_kernel"), "ar_kernel", ("max_abs_diff",))
        diff = float(kern["max_abs_diff"].astype(float).fillna(math.inf).max())
        out.append(_varied(lambda tol: at_most(
            "kernel_identity", diff, tol, "softmax_j(x^T Omega x_j) equals the Gaussian-kernel "
            "(metric Omega) Nadaraya-Watson weight times exp(x_j^T Omega x_j / 2) per key: max "
            f"abs weight difference <= {tol:g}", f"{len(kern)} Omegas", origin=THEORY),
            c["kernel_tol"], "kernel_tol"))
    except MissingInput as why:
        out.append(missing("kernel_identity", "see checks/attention_regression.py", str(why)))
    return [replace(c, decided_by=c.decided_by or ALGEBRA_DECIDED_BY.get(c.check, ""))
            for c in out]


def _varied(judge: Callable[[float], Check], chosen: float, field: str, name: str | None = None
            ) -> Check:
    """``judge(chosen)`` re-judged across TOLERANCE_FACTORS[field] x chosen (``across_tolerance``:
    where the verdict flips, the row says from which value on it holds)."""
    main = judge(float(chosen))
    family = {chosen * f: judge(chosen * f) for f in TOLERANCE_FACTORS[field]}
    return across_tolerance(main, family, name or field,
                            decided_by=ALGEBRA_DECIDED_BY.get(main.check))


def checks(tables: Mapping[str, pd.DataFrame | None], criteria: Mapping[str, float] | None
           ) -> list[Check]:
    """Every check of the stage; an absent table makes its checks MISSING."""
    c = criteria_with_defaults(criteria, DEFAULTS)
    out = algebra_checks(tables, c)
    try:
        r2 = require(tables.get("ar_r2"), "ar_r2", R2)
        out.extend(monte_carlo_checks(r2, c))
    except MissingInput as why:
        out.extend(missing(n, "see checks/attention_regression.py", str(why)) for n in MC_NAMES)
    try:
        comp = require(tables.get("ar_comparison"), "ar_comparison",
                       ("model", "run", "r2_mean", "r2_sd", "replicates", "paper_r2", "diff",
                        "comparable"))
        out.extend(digit_checks(comp, c))
        out.extend(equivalence_checks(comp, c))
    except MissingInput as why:
        out.extend(missing(n, "the paper's printed run means", str(why))
                   for n in ("paper_digits", "paper_equivalence"))
    try:
        out.extend(paper_claims(require(tables.get("ar_r2"), "ar_r2", R2), c))
    except MissingInput as why:
        out.extend(missing(n, "the paper's Monte Carlo claims", str(why))
                   for n in ("paper_linear_gap", "paper_ranking"))
    return out
