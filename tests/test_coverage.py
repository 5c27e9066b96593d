"""Coverage of the project's intervals (stats.py), by simulation against a known truth.

Each kind of interval the checks use is computed, by the project's own code (the ``*_bounds``
array functions that the Interval functions call with one row), on ``SIMULATIONS`` seeded
simulated experiments of r replicates whose truth is known, at the replicate counts the configs
use (5 in config.yaml and quick.yaml, 10 in large.yaml). The share of intervals that cover the
truth must be 95% +- 2%: with 4000 simulations the binomial standard error of a 95% coverage is
sqrt(0.95 0.05 / 4000) = 0.34 percentage points, so the band is ~5.8 standard errors wide on
each side: an interval that truly covers 95% fails it with probability ~1e-8, and the seeds fix
the outcome anyway. The percentile bootstrap it replaced is shown to cover ~84% at 5 replicates.
"""

import math

import numpy as np
import pytest

from ols_transformer import stats
from ols_transformer.config import MIN_REPLICATES

SIMULATIONS = 4000
BAND = 0.02
SE = math.sqrt(0.95 * 0.05 / SIMULATIONS)
REPLICATES = (MIN_REPLICATES, 10)  # config.yaml / quick.yaml, and large.yaml's largest


def _covered(low: np.ndarray, high: np.ndarray, truth: float | np.ndarray) -> float:
    return float(np.mean((low <= truth) & (truth <= high)))


def _assert_covers(share: float, what: str) -> None:
    assert BAND > 5 * SE  # the band is not a coin toss
    assert abs(share - 0.95) <= BAND, f"{what}: coverage {share:.4f}, not 0.95 +- {BAND}"


@pytest.mark.parametrize("r", REPLICATES)
def test_t_interval_covers_the_mean(r):
    rng = np.random.default_rng([1, r])
    x = rng.normal(3.0, 2.0, size=(SIMULATIONS, r))
    _, low, high = stats.t_bounds(x)
    _assert_covers(_covered(low, high, 3.0), f"student-t, r = {r}")
    # the Interval the checks get is the same computation
    one = stats.mean_interval(x[0])
    assert (one.low, one.high) == pytest.approx((low[0], high[0]), rel=1e-12)


N_GRID = np.array([50.0, 100.0, 200.0, 400.0, 800.0])


def _loglog_slope(mean_curve: np.ndarray) -> np.ndarray:
    """Least-squares slope of ln C on ln N of a mean curve (..., len(N_GRID))."""
    x = np.log(N_GRID) - np.log(N_GRID).mean()
    return (np.log(mean_curve) * x).sum(-1) / (x * x).sum()


@pytest.mark.parametrize("r", REPLICATES)
@pytest.mark.parametrize("noise", [0.05, 0.3])
def test_jackknife_interval_covers_a_fit_to_the_mean_curve(r, noise):
    """What the Hopfield rows bootstrapped: the log-log slope of the mean capacity curve over
    seeds, each seed's curve C = 0.1 N exp(noise z) (z normal per seed and N). The truth: the
    slope of the population mean curve, 0.1 N exp(noise^2 / 2): exactly 1."""
    rng = np.random.default_rng([2, r, int(noise * 100)])
    C = 0.1 * N_GRID * np.exp(noise * rng.standard_normal((SIMULATIONS, r, len(N_GRID))))
    full = _loglog_slope(C.mean(1))
    loo = np.stack([_loglog_slope(np.delete(C, i, axis=1).mean(1)) for i in range(r)], -1)
    _, low, high = stats.jackknife_bounds(full, loo)
    _assert_covers(_covered(low, high, 1.0), f"jackknife t, r = {r}, noise {noise}")
    one = stats.jackknife_interval(np.arange(r), lambda idx: float(_loglog_slope(
        C[0, idx].mean(0))), "the slope of the mean")
    assert (one.estimate, one.low, one.high) == pytest.approx((full[0], low[0], high[0]),
                                                              rel=1e-12)


def test_jackknife_of_a_mean_is_the_t_interval():
    x = np.array([0.3, 1.1, 0.7, 2.0, 0.9])
    jack = stats.jackknife_interval(x, lambda idx: float(x[idx].mean()), "mean")
    t = stats.mean_interval(x)
    assert (jack.low, jack.high) == pytest.approx((t.low, t.high), rel=1e-12)
    assert jack.method == f"{stats.JACKKNIFE_METHOD} of mean"


@pytest.mark.parametrize("r", REPLICATES)
@pytest.mark.parametrize("spread", [0.1, 0.4])
def test_ratio_interval_covers_the_ratio_of_means(r, spread):
    """Paired replicates (a model's error and its baseline's on the same seed): bivariate
    normal, correlation 0.6, means 1.5 and 1, each with standard deviation ``spread`` times its
    mean (at 0.4 the denominator is not always clear of 0 at r = 5: unbounded, covering)."""
    rng = np.random.default_rng([3, r, int(spread * 100)])
    z = rng.standard_normal((2, SIMULATIONS, r))
    y = 1.0 + spread * z[0]
    x = 1.5 + 1.5 * spread * (0.6 * z[0] + 0.8 * z[1])
    _, low, high = stats.ratio_bounds(x, y)
    _assert_covers(_covered(low, high, 1.5), f"Fieller ratio, r = {r}, spread {spread}")
    one = stats.ratio_interval(x[0], y[0])
    assert (one.low, one.high) == pytest.approx((low[0], high[0]), rel=1e-12)
    assert one.method == stats.RATIO_METHOD


def test_ratio_interval_without_a_clear_denominator_bounds_nothing():
    got = stats.ratio_interval([1.0, 2.0, 1.5, 0.5, 1.0], [0.1, -0.2, 0.3, -0.1, 0.05])
    assert (got.low, got.high) == (-math.inf, math.inf) and not got.defined


def test_ratio_interval_without_spread_is_the_ratio():
    y = np.array([10.0, 11.0, 12.0, 13.0, 14.0])
    got = stats.ratio_interval(2 * y, y)  # x = 2 y exactly: every x_i - rho y_i is 0 at 2
    assert (got.estimate, got.low, got.high) == pytest.approx((2.0, 2.0, 2.0))
    # by hand: y = 1, 2, 3 has ybar = 2 < t_2 s / sqrt(3) = 2.48: its mean may be 0
    assert not stats.ratio_interval(2 * y[:3] - 18, y[:3] - 9).defined


@pytest.mark.parametrize("r", REPLICATES)
def test_log_ratio_interval_covers_the_geometric_mean_ratio(r):
    """Ratios spread over orders of magnitude (log10 spread 3: 10 to 1e11 happen): log-normal,
    median 100; the truth is the median exp(E ln ratio)."""
    rng = np.random.default_rng([4, r])
    ratios = np.exp(np.log(100.0) + 3 * np.log(10.0) * rng.standard_normal((SIMULATIONS, r)))
    _, low, high = stats.log_ratio_bounds(ratios)
    _assert_covers(_covered(low, high, 100.0), f"log ratio, r = {r}")
    one = stats.log_ratio_interval(ratios[0] * 2.0, np.full(r, 2.0))
    assert (one.low, one.high) == pytest.approx((low[0], high[0]), rel=1e-12)
    assert one.low > 0  # never below 0, as a t interval on such raw ratios often is


def test_log_ratio_of_a_non_positive_ratio_is_nan():
    assert math.isnan(stats.log_ratio_interval([1.0, -2.0, 3.0, 1.0, 2.0]).estimate)


@pytest.mark.parametrize("k", [4, 8])
def test_bonferroni_intervals_cover_every_setting_together(k):
    """k settings (icl's Lambda x N: 8), 5 replicates each, independent: all k intervals
    cover their means together in 95% of experiments (Bonferroni: >= 95%, ~95.1% here)."""
    r = MIN_REPLICATES
    rng = np.random.default_rng([5, k])
    means = np.linspace(-1.0, 1.0, k)
    x = means[None, :, None] + rng.standard_normal((SIMULATIONS, k, r))
    level = stats.bonferroni_confidence(0.95, k)
    _, low, high = stats.t_bounds(x, level)
    every = np.all((low <= means) & (means <= high), axis=1).mean()
    _assert_covers(float(every), f"Bonferroni over {k}")
    # unadjusted, the k intervals together cover far less: the row would FAIL by chance
    _, low, high = stats.t_bounds(x)
    assert np.all((low <= means) & (means <= high), axis=1).mean() < 0.95 ** (k - 1) + 0.02
    got = stats.simultaneous_mean_intervals({f"s{j}": x[0, j] for j in range(k)})
    assert got["s0"].confidence == pytest.approx(level)
    half = stats.t_quantile(0.5 + level / 2, r - 1) * x[0, 0].std(ddof=1) / math.sqrt(r)
    assert (got["s0"].low, got["s0"].high) == pytest.approx(
        (x[0, 0].mean() - half, x[0, 0].mean() + half), rel=1e-12)
    assert f"Bonferroni over {k} settings" in got["s0"].method


def test_holm_controls_the_family_wise_error_of_a_failing_setting():
    """k = 8 settings that all hold exactly at their bound (mean = bound): rejecting 'holds'
    at any of them is a false FAIL. Holm keeps that below 5% (at most ~5%); one test per
    setting at 5% would reject somewhere in ~1 - 0.95^8 = 34% of experiments."""
    rng = np.random.default_rng(6)
    sims, k, r = 600, 8, MIN_REPLICATES
    x = 1.0 + rng.standard_normal((sims, k, r))
    false_fail = naive = 0
    for s in range(sims):
        p = [stats.mean_p_value(x[s, j], 1.0, "<=") for j in range(k)]
        false_fail += any(stats.holm_rejects(p))
        naive += any(v <= 0.05 for v in p)
    assert false_fail / sims <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / sims)
    assert naive / sims > 0.25


def test_holm_steps_down():
    # sorted p: 0.001 <= 0.05/4, 0.013 <= 0.05/3, 0.03 > 0.05/2: stop there (0.03 alone
    # at 5% would be rejected)
    assert stats.holm_rejects([0.03, 0.001, 0.9, 0.013]) == [False, True, False, True]
    assert stats.holm_rejects([0.02, 0.001, 0.9, 0.013]) == [True, True, False, True]
    assert stats.holm_rejects([math.nan, 0.001]) == [False, True]


def test_mean_p_value_matches_the_t_table():
    # t = (mean - bound) / (s / sqrt(5)) = 2.132 (df 4): one-sided p = 0.05 from the table
    x = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])  # s = sqrt(2.5)
    bound = -2.132 * math.sqrt(2.5) / math.sqrt(5)
    assert stats.mean_p_value(x, bound, "<=") == pytest.approx(0.05, abs=2e-4)
    assert stats.mean_p_value(-x, -bound, ">=") == pytest.approx(0.05, abs=2e-4)


def test_a_percentile_bootstrap_over_5_replicates_does_not_cover():
    """Why bootstrap_interval is deprecated: over 5 normal replicates its interval for the mean
    covers ~84% (it resamples 5 values: the spread it sees is (4/5) s^2 and its quantiles are
    normal's, not t_4's). 600 simulations: standard error 1.5 points, 95% is ~7 away."""
    rng = np.random.default_rng(7)
    sims = 600
    x = rng.normal(0.0, 1.0, size=(sims, MIN_REPLICATES))
    hits = 0
    for s in range(sims):
        got = stats.bootstrap_interval(x[s], lambda idx, v=x[s]: float(v[idx].mean()), "mean",
                                       resamples=400, seed=s)
        hits += got.low <= 0.0 <= got.high
    assert hits / sims < 0.95 - BAND - 3 * math.sqrt(0.84 * 0.16 / sims)
