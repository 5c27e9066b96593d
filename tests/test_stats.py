"""Intervals over replicates (stats.py) and the verdict rule judged on them (checks).

Hand-built replicate tables: the t interval against a hand computation with tabulated t
quantiles, the bootstrap on cases whose answer is known, and the verdict rule (an interval
straddling the threshold is INCONCLUSIVE, never PASS)."""

import math

import numpy as np
import pytest

from ols_transformer import stats
from ols_transformer.checks import (
    CONDITIONAL,
    FAIL,
    INCONCLUSIVE,
    MISSING,
    PASS,
    across,
    across_tolerance,
    at_most,
    frame,
    headline,
    interval_at_least,
    interval_at_most,
    interval_within,
    missing,
)

# Two-sided 95% t quantiles from printed tables (df 1, 2, 4, 9).
T_TABLE = {1: 12.706, 2: 4.303, 4: 2.776, 9: 2.262}


@pytest.mark.parametrize("df", sorted(T_TABLE))
def test_t_quantile_matches_the_printed_table(df):
    assert stats.t_quantile(0.975, df) == pytest.approx(T_TABLE[df], abs=1e-3)


def test_mean_interval_by_hand():
    values = [1.0, 2.0, 6.0]  # mean 3, s = sqrt(((-2)^2 + (-1)^2 + 3^2) / 2) = sqrt(7)
    got = stats.mean_interval(values, labels=[0, 1, 2])
    half = 4.303 * math.sqrt(7.0) / math.sqrt(3.0)
    assert got.estimate == pytest.approx(3.0)
    assert got.low == pytest.approx(3.0 - half, rel=1e-3)
    assert got.high == pytest.approx(3.0 + half, rel=1e-3)
    assert got.replicates == 3 and got.labels == ("0", "1", "2")
    assert got.method == stats.T_METHOD


def test_mean_interval_of_one_replicate_has_no_bounds():
    got = stats.mean_interval([0.5])
    assert got.estimate == 0.5 and not got.defined


def test_bootstrap_of_a_constant_is_the_constant():
    values = np.full(6, 2.5)
    got = stats.bootstrap_interval(values, lambda idx: float(values[idx].max()), "max")
    assert (got.estimate, got.low, got.high) == (2.5, 2.5, 2.5)
    assert "bootstrap of max" in got.method


def test_bootstrap_interval_of_the_max_lies_within_the_data_and_is_seeded():
    values = np.array([0.1, 0.4, 0.2, 0.9, 0.3])
    stat = lambda idx: float(values[idx].max())  # noqa: E731
    got = stats.bootstrap_interval(values, stat, "max", seed=3)
    # a resampled max is one of the values, at most the largest: the interval ends on it
    assert got.estimate == 0.9 and got.high == 0.9 and got.low in values
    assert got == stats.bootstrap_interval(values, stat, "max", seed=3)


def test_bootstrap_of_the_mean_covers_the_mean_of_a_normal_sample():
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(40):
        x = rng.normal(1.0, 1.0, size=30)
        got = stats.bootstrap_interval(x, lambda idx, x=x: float(x[idx].mean()), "mean",
                                       resamples=400, seed=1)
        hits += got.low <= 1.0 <= got.high
    assert hits >= 32  # 95% nominal; a percentile bootstrap at n = 30 covers ~93%


def test_replicates_to_decide_scales_like_one_over_root_n():
    iv = stats.Interval(1.0, 0.0, 2.0, 4)  # half-width 1, estimate 1 from a threshold of 0.5
    # half-width h / sqrt(n' / n) < 0.5 needs n' >= 4 (1 / 0.5)^2 = 16
    assert stats.replicates_to_decide(iv, 0.5) == 16
    assert math.isinf(stats.replicates_to_decide(iv, 1.0))


def _iv(low, high, n=5):
    return stats.Interval((low + high) / 2, low, high, n, tuple(map(str, range(n))))


@pytest.mark.parametrize("judge,args,interval,want", [
    (interval_at_most, (1.0,), (0.2, 0.8), PASS),
    (interval_at_most, (1.0,), (1.1, 1.5), FAIL),
    (interval_at_most, (1.0,), (0.8, 1.2), INCONCLUSIVE),
    (interval_at_least, (1.0,), (1.1, 1.5), PASS),
    (interval_at_least, (1.0,), (0.2, 0.8), FAIL),
    (interval_at_least, (1.0,), (0.9, 1.1), INCONCLUSIVE),
    (interval_within, (1.5, 2.5, 2.0), (1.8, 2.2), PASS),
    (interval_within, (1.5, 2.5, 2.0), (2.6, 3.0), FAIL),
    (interval_within, (1.5, 2.5, 2.0), (0.5, 1.4), FAIL),
    (interval_within, (1.5, 2.5, 2.0), (1.3, 1.9), INCONCLUSIVE),
    (interval_within, (1.5, 2.5, 2.0), (1.0, 3.0), INCONCLUSIVE),
])
def test_verdict_from_the_interval(judge, args, interval, want):
    check = judge("c", _iv(*interval), *args, "criterion")
    assert check.verdict == want
    assert (check.ci_low, check.ci_high, check.replicates) == (*interval, 5)


def test_a_straddling_interval_is_never_pass_and_says_what_decides_it():
    # the estimate (0.9) passes the bound 1, but the interval reaches past it
    check = interval_at_most("c", stats.Interval(0.9, 0.7, 1.1, 3), 1.0, "criterion")
    assert check.verdict == INCONCLUSIVE
    # h = 0.2, d = 0.1: 3 (0.2 / 0.1)^2 = 12 replicates
    assert "12 replicates would decide it" in check.detail


def test_nan_estimate_fails_and_one_replicate_is_inconclusive():
    assert interval_at_most("c", stats.Interval(math.nan, math.nan, math.nan, 3), 1.0,
                            "x").verdict == FAIL
    assert interval_at_most("c", stats.mean_interval([0.5]), 1.0, "x").verdict == INCONCLUSIVE


def _at(verdict):
    return {PASS: interval_at_most("c", _iv(0.1, 0.2), 1.0, "x"),
            FAIL: interval_at_most("c", _iv(2.0, 3.0), 1.0, "x"),
            INCONCLUSIVE: interval_at_most("c", _iv(0.5, 1.5), 1.0, "x"),
            MISSING: missing("c", "x", "absent")}[verdict]


@pytest.mark.parametrize("main,family,want", [
    (PASS, [PASS, PASS], PASS),
    (FAIL, [FAIL, FAIL], FAIL),
    (PASS, [PASS, FAIL], CONDITIONAL),
    (PASS, [PASS, FAIL, INCONCLUSIVE], CONDITIONAL),  # it flips, whatever the undecided one
    (PASS, [PASS, INCONCLUSIVE], INCONCLUSIVE),  # passes or flips: undecided, never PASS
    (FAIL, [FAIL, INCONCLUSIVE], INCONCLUSIVE),
    (INCONCLUSIVE, [INCONCLUSIVE, PASS, FAIL], INCONCLUSIVE),  # the main stays undecided
    (PASS, [PASS, MISSING], PASS),  # unjudged alternatives are left out
])
def test_across_with_inconclusive_alternatives(main, family, want):
    got = across(_at(main), {f"alt {i}": _at(v) for i, v in enumerate(family)}, "alts")
    assert got.verdict == want
    judged = [v for v in family if v != MISSING]
    assert got.share_holds == pytest.approx(judged.count(PASS) / len(judged))
    assert got.decided_by == "scientific choice: alts"


def test_across_tolerance_keeps_the_verdict_and_gives_the_flipping_tolerance():
    family = {0.5: at_most("c", 0.7, 0.5, "x"), 1.0: at_most("c", 0.7, 1.0, "x")}
    got = across_tolerance(family[1.0], family, "tol")
    # judged at the stated tolerance (1.0: PASS), never CONDITIONAL; the grid's flip in words
    assert got.verdict == PASS
    assert got.holds_where == "passes for tol >= 1 on the grid 0.5, 1 (fails at 0.5)"
    assert got.decided_by == "criterion: tol"
    # the exact flip where the tolerance is the bound: the value itself
    exact = across_tolerance(family[0.5], family, "tol", flips_at=0.7)
    assert exact.verdict == FAIL and exact.holds_where == "passes for tol >= 0.7"


def test_headline_never_counts_inconclusive_as_passed():
    summary = frame([_at(PASS), _at(INCONCLUSIVE)])
    assert headline(summary).startswith("1/2 checks passed")
    assert {"ci_low", "ci_high", "replicates", "decided_by"} <= set(summary.columns)


@pytest.mark.parametrize("judge", ["within", "at_most"])
def test_across_tolerance_keeps_its_decided_by_on_interval_checks(judge):
    """The proof stage's slope rows: an interval check (``sense`` set) re-judged across a band
    names the choice given to across_tolerance, not an empty string, whatever the verdict
    (a MISSING main included)."""
    def check(k):
        if judge == "within":
            return interval_within("s", _iv(1.9, 2.1), 2 - k * 0.5, 2 + k * 0.5, 2.0, "x")
        return interval_at_most("s", _iv(1.0, 1.2), 1 + k * 0.5, "x")

    family = {k: check(k) for k in (0.5, 1.0, 2.0)}
    got = across_tolerance(family[1.0], family, "band scale", decided_by="the band (ours)")
    assert family[1.0].sense in ("range", "<=")
    assert got.decided_by == "the band (ours)"
    gone = across_tolerance(missing("s", "x", "absent"), family, "band scale",
                            decided_by="the band (ours)")
    assert gone.verdict == MISSING and gone.decided_by == "the band (ours)"
