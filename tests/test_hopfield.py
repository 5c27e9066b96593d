"""Hopfield models and the capacity estimator (Section 4), against brute force, closed forms and
the known capacities of the classical network."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import torch
from hopfield_reference import numpy_step

from ols_transformer import hopfield as hp
from ols_transformer.checks.hopfield import amit_fit, growth
from ols_transformer.experiments import capacity as cap
from ols_transformer.hopfield_theory import (
    MODEL_NAMES,
    PROJECTION_MODELS,
    exact_dtype,
    field_polynomials,
    theory,
    theory_capacity,
)


def random_signs(rng: np.random.Generator, rows: int, N: int) -> np.ndarray:
    return 2.0 * rng.integers(0, 2, size=(rows, N)) - 1.0


@pytest.mark.parametrize(("N", "M"), [(15, 7), (40, 30), (101, 60), (101, 250)])
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_batched_update_equals_brute_force_energy_comparison(name: str, N: int, M: int,
                                                             rng: np.random.Generator) -> None:
    """The torch models use two matmuls per step (the projection rule: one, with the OLS-
    Transformer's attention map); the numpy reference flips each bit and compares energies (a
    B x M x N tensor), or projects with np.linalg.pinv. Binary models agree bit for bit."""
    if name in PROJECTION_MODELS and M >= N:
        pytest.skip("M >= N: the patterns span R^N, P = I and the zero-diagonal field is 0 "
                    "exactly, its float sign a coin flip")
    patterns, states = random_signs(rng, M, N), random_signs(rng, 9, N)
    model = hp.make_model(name, softmax_beta=0.5)
    got = model.step(torch.tensor(states), model.prepare(torch.tensor(patterns))).numpy()
    expected = numpy_step(name, states, patterns, softmax_beta=0.5)
    if name == "softmax":
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    else:
        np.testing.assert_array_equal(got, expected)


def test_projection_rule_keeps_every_stored_pattern_up_to_M_equals_N(
        rng: np.random.Generator) -> None:
    """P xi = xi for every stored pattern while M <= N (Personnaz et al. 1985): each is a fixed
    point of the OLS-Transformer's memory, whatever the crosstalk."""
    N = 64
    for M in (10, 40, 64):
        patterns = torch.tensor(random_signs(rng, M, N))
        model = hp.make_model("ols_attention")
        assert torch.equal(model.step(patterns, model.prepare(patterns)), patterns)


def test_float32_is_used_only_where_it_is_exact() -> None:
    """Integer fields in float32 below 2^24, float64 above; the update is the same either way."""
    assert exact_dtype("classical", 1600, 100) == "float32"
    assert exact_dtype("poly4", 160, 100) == "float64"  # 8 N^3 alone passes 2^24
    assert exact_dtype("exponential", 50, 10) == "float64"  # not integers
    assert exact_dtype("poly4", 2000, 262144) is None
    rng = np.random.default_rng(0)
    N, M = 1600, 2000  # classical: M (4N + 4) = 1.3e7 < 2^24 -> float32
    patterns, states = random_signs(rng, M, N), random_signs(rng, 5, N)
    model = hp.make_model("classical")
    prepared = model.prepare(torch.tensor(patterns))
    assert prepared.field.dtype == torch.float32
    np.testing.assert_array_equal(model.step(torch.tensor(states), prepared).numpy(),
                                  numpy_step("classical", states, patterns))


def test_field_polynomials_are_the_energy_differences() -> None:
    """P(h) = g(h-1) + g(h+1) and Q(h) = g(h+1) - g(h-1) with g(a) = ((a+1)^n - (a-1)^n) / 2,
    against the definition and the expansions by hand: n = 2: 4h, 4; n = 3: 6h^2 + 8, 12h;
    n = 4: 8h^3 + 32h, 24h^2 + 16."""
    h = torch.arange(-40.0, 41.0, dtype=torch.float64)

    def g(a: torch.Tensor, n: int) -> torch.Tensor:
        return ((a + 1) ** n - (a - 1) ** n) / 2

    by_hand = {2: (4 * h, torch.full_like(h, 4.0)), 3: (6 * h**2 + 8, 12 * h),
               4: (8 * h**3 + 32 * h, 24 * h**2 + 16)}
    for n, (P_hand, Q_hand) in by_hand.items():
        P, Q = field_polynomials(n)
        assert torch.equal(hp.horner(P, h), g(h - 1, n) + g(h + 1, n))
        assert torch.equal(hp.horner(Q, h), g(h + 1, n) - g(h - 1, n))
        assert torch.equal(hp.horner(P, h), P_hand) and torch.equal(hp.horner(Q, h), Q_hand)


def test_exponential_energy_does_not_overflow_at_large_N() -> None:
    # Overlaps of 2000: e^2000 overflows float64, the shifted form must not.
    rng = np.random.default_rng(0)
    patterns = torch.tensor(random_signs(rng, 50, 2000))
    cue = patterns[:5].clone()
    cue[:, :400] *= -1  # 20% of the bits flipped
    for name in ("exponential", "softmax"):
        model = hp.make_model(name)
        found = hp.retrieve(model, model.prepare(patterns), cue, max_iter=10)
        assert torch.isfinite(found.states).all()
        assert torch.equal(found.states, patterns[:5]) and found.fixed.all()


def test_retrieve_stops_at_a_two_cycle() -> None:
    """Synchronous updates of a symmetric energy end at a fixed point or in a 2-cycle; in a
    2-cycle retrieve() stops (not a fixed point) instead of spending max_iter steps."""
    patterns = torch.tensor([[-1, 1, -1, 1, -1, -1, -1, -1], [-1, -1, -1, -1, -1, 1, 1, 1],
                             [-1, 1, 1, -1, -1, 1, 1, 1]], dtype=torch.float64)
    cue = torch.tensor([[-1, 1, 1, 1, 1, 1, 1, -1]], dtype=torch.float64)
    model = hp.make_model("classical")
    prepared = model.prepare(patterns)
    once = model.step(cue, prepared)
    assert not torch.equal(once, cue) and torch.equal(model.step(once, prepared), cue)
    found = hp.retrieve(model, prepared, cue, max_iter=100)
    assert int(found.steps[0]) == 2 and not bool(found.fixed[0])


# ---- the search over M --------------------------------------------------------------------------

@pytest.mark.parametrize("K", [0, 1, 2, 3, 37, 64, 65, 1000, 4095])
def test_search_finds_the_exact_step(K: int) -> None:
    calls: list[int] = []

    def rate(M: int) -> float:
        calls.append(M)
        return 1.0 if M <= K else 0.0

    found = cap.search_capacity(rate, threshold=0.9, max_patterns=10**6)
    assert found.capacity == K and not found.censored
    assert len(calls) == len(set(calls)) == found.evaluations  # no M measured twice
    assert found.evaluations <= 2 * math.log2(K + 2) + 2  # doubling + bisection, not a scan


def test_search_reports_censoring_at_the_cap_and_respects_rtol() -> None:
    always = cap.search_capacity(lambda M: 1.0, 0.9, max_patterns=300)
    assert always.capacity == 300 and always.censored
    coarse = cap.search_capacity(lambda M: float(M <= 5000), 0.9, 10**6, rtol=0.05)
    assert 0.95 * 5000 <= coarse.capacity <= 5000
    assert coarse.evaluations < cap.search_capacity(lambda M: float(M <= 5000), 0.9,
                                                    10**6).evaluations


def test_search_patience_steps_over_a_dip_at_small_M() -> None:
    # The rate dips below the threshold at M = 4 only (one unlucky pattern weighs 1/M).
    def rate(M: int) -> float:
        return 0.0 if M == 4 or M > 100 else 1.0

    assert cap.search_capacity(rate, 0.9, 10**6, patience=1).capacity == 3
    assert cap.search_capacity(rate, 0.9, 10**6, patience=2).capacity == 100


@dataclass(frozen=True)
class NearestPatternUpToK:
    """A memory with a known capacity K: exact nearest-pattern recall while M <= K, and no
    recall at all (the cue is kept) beyond."""

    K: int
    name: str = "known"
    continuous: bool = False

    def prepare(self, patterns: torch.Tensor) -> torch.Tensor:
        return patterns

    def step(self, state: torch.Tensor, patterns: torch.Tensor) -> torch.Tensor:
        if len(patterns) > self.K:
            return state
        return patterns[hp.overlaps(state, patterns).argmax(dim=1)]



@pytest.mark.parametrize("K", [1, 13, 100])
def test_estimator_recovers_a_known_capacity(K: int) -> None:
    """Patterns, corrupted cues, retrieval, success rate and search together: the estimate is
    exactly K. At N = 64 with 13 flips a cue stays far closer to its own pattern than to any
    other, so nearest-pattern recall succeeds for every cue while M <= K."""
    settings = cap.Settings(rho=0.2, threshold=0.9, n_cues=50, max_iter=5, max_patterns=4096)
    found = cap.estimate(NearestPatternUpToK(K), 64, seed=3, settings=settings)
    assert found.capacity == K and found.rate_at_capacity == 1.0 and found.rate_above == 0.0


def test_cues_flip_exactly_rho_N_bits_and_patterns_are_prefixes() -> None:
    signs = cap.flip_signs(seed=1, N=50, n_cues=30, flips=cap.flip_count(50, 0.2))
    assert ((signs == -1).sum(axis=1) == 10).all()
    pool = cap.PatternPool(seed=1, N=50)
    small = pool.first(10).clone()
    assert torch.equal(cap.PatternPool(seed=1, N=50).first(2000)[:10], small)
    assert set(pool.first(2000).unique().tolist()) == {-1.0, 1.0}


# ---- measured capacities against theory ---------------------------------------------------------

def test_classical_capacity_is_near_0138_N() -> None:
    """Amit, Gutfreund & Sompolinsky (1985): retrieval states (overlap ~0.97) exist up to
    M = 0.138 N. Measured as the largest M at which half the cues (5% of bits flipped) end at an
    overlap >= 0.95. Finite N raises it: here alpha(N) ~ 0.138 + 0.64 / sqrt(N) (0.17 at N=400,
    0.155 at N=1600), so at N=800 the tolerance is 0.138 N x [0.8, 1.25]."""
    settings = cap.Settings(rho=0.05, threshold=0.5, n_cues=100, max_iter=50,
                            max_patterns=10_000, search_rtol=0.01, search_patience=2,
                            min_overlap=0.95)
    N = 800
    alphas = [cap.estimate(hp.make_model("classical"), N, seed, settings).capacity / N
              for seed in (0, 1)]
    assert 0.8 * 0.138 <= np.mean(alphas) <= 1.25 * 0.138, alphas


def test_exponential_beats_polynomial_beats_classical_at_the_same_N() -> None:
    settings = cap.Settings(rho=0.2, threshold=0.9, n_cues=100, max_iter=20,
                            max_patterns=100_000, search_rtol=0.01, search_patience=2)
    N = 40
    mean = {name: np.mean([cap.estimate(hp.make_model(name), N, seed, settings).capacity
                           for seed in (0, 1)])
            for name in ("classical", "poly3", "poly4", "exponential", "softmax")}
    assert mean["classical"] < mean["poly3"] <= mean["poly4"], mean
    assert mean["exponential"] > 3 * mean["poly4"], mean
    assert mean["softmax"] > 3 * mean["poly4"], mean


def test_theory_rates_match_closed_forms() -> None:
    # rho = 0: I(1) = ln 2, so exp(I N / 2) = 2^(N/2) (Demircigil et al.).
    assert theory("exponential", 0.0).rate == pytest.approx(math.log(2) / 2)
    # I(1 - 2 rho) = ln 2 - H(rho) in nats, the capacity of a binary symmetric channel.
    rho = 0.2
    entropy = -(rho * math.log(rho) + (1 - rho) * math.log(1 - rho))
    assert theory("softmax", rho).rate_upper == pytest.approx(math.log(2) - entropy)
    assert theory("poly4", rho).loglog_slope == 3.0
    curves = theory_capacity("classical", np.array([100.0]), rho)
    assert curves["N / (2 ln N), exact"][0] == pytest.approx(100 / (2 * math.log(100)))


def test_t_interval_uses_students_quantile() -> None:
    assert cap.t_quantile(0.975, 4) == pytest.approx(2.776445105, rel=1e-8)  # t table
    assert cap.t_quantile(0.975, 1000) == pytest.approx(1.962339, rel=1e-5)
    mean, low, high = cap.mean_interval([10.0, 12.0, 14.0], 0.95)
    half = 4.302652730 * 2.0 / math.sqrt(3)  # t_{0.975, 2} * s / sqrt(n)
    assert (mean, low, high) == pytest.approx((12.0, 12.0 - half, 12.0 + half))


def test_growth_fits_recover_known_laws() -> None:
    N = np.array([20, 40, 80, 160, 320])
    laws = {"poly3": ("poly3", 0.5 * N**2), "exponential": ("exponential", 3 * np.exp(0.1 * N)),
            "softmax_transformer": ("softmax", 2 * np.exp(0.6 * np.sqrt(N)))}
    rows = [(run, model, n, seed, c) for run, (model, law) in laws.items()
            for n, c in zip(N, law, strict=True) for seed in (0, 1)]
    table = pd.DataFrame(rows, columns=["run", "model", "N", "seed", "capacity"]).assign(
        rho=0.2, min_overlap=1.0, beta="", censored=False)
    fits = growth(table).set_index("run")
    assert fits.loc["poly3", "loglog_slope"] == pytest.approx(2.0)
    assert fits.loc["poly3", "local_loglog_slope"] == pytest.approx(2.0)
    assert fits.loc["exponential", "semilog_rate"] == pytest.approx(0.1)
    assert fits.loc["exponential", "semilog_r2"] > fits.loc["exponential", "sqrt_r2"]
    assert fits.loc["softmax_transformer", "sqrt_rate"] == pytest.approx(0.6)
    assert fits.loc["softmax_transformer", "sqrt_r2"] > fits.loc["softmax_transformer",
                                                                 "semilog_r2"]


def test_amit_fit_recovers_alpha_inf() -> None:
    """alpha(N) = C / N = alpha_inf + a / sqrt(N): the fit's intercept is alpha_inf."""
    N = np.array([100, 200, 400, 800, 1600])
    table = pd.DataFrame({"run": "amit", "model": "classical", "N": N, "seed": 0,
                          "capacity": N * (0.138 + 0.64 / np.sqrt(N))})
    fit, alpha = amit_fit(table, "amit")
    assert fit.intercept == pytest.approx(0.138) and fit.slope == pytest.approx(0.64)
    np.testing.assert_allclose(alpha.to_numpy(), 0.138 + 0.64 / np.sqrt(N))


def test_cuda_request_without_a_gpu_is_refused() -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(RuntimeError, match="hopfield.device"):
        hp.resolve_device("cuda")
    assert hp.resolve_device("auto").type == "cpu"
