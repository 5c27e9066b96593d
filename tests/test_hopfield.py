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
from ols_transformer.experiments import capacity as cap
from ols_transformer.hopfield_theory import MODEL_NAMES, theory, theory_capacity


def random_signs(rng: np.random.Generator, rows: int, N: int) -> np.ndarray:
    return 2.0 * rng.integers(0, 2, size=(rows, N)) - 1.0


@pytest.mark.parametrize(("N", "M"), [(15, 7), (40, 30), (101, 250)])
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_batched_update_equals_brute_force_energy_comparison(name: str, N: int, M: int,
                                                             rng: np.random.Generator) -> None:
    """The torch models use one matmul per step; numpy_step flips each bit and compares energies
    (a B x M x N tensor). Binary models must agree bit for bit."""
    patterns, states = random_signs(rng, M, N), random_signs(rng, 9, N)
    model = hp.make_model(name, softmax_beta=0.5)
    got = model.step(torch.tensor(states), torch.tensor(patterns)).numpy()
    expected = numpy_step(name, states, patterns, softmax_beta=0.5)
    if name == "softmax":
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    else:
        np.testing.assert_array_equal(got, expected)


def test_separation_polynomials_are_the_energy_differences() -> None:
    # g(a) = ((a+1)^n - (a-1)^n) / 2, expanded by hand: 2a, 3a^2 + 1, 4a^3 + 4a.
    a = torch.arange(-5.0, 6.0, dtype=torch.float64)
    for n, closed_form in ((2, 2 * a), (3, 3 * a**2 + 1), (4, 4 * a**3 + 4 * a)):
        got = hp.horner(hp.separation_coefficients(n), a)
        assert torch.equal(got, closed_form)
        assert torch.equal(got, ((a + 1) ** n - (a - 1) ** n) / 2)


def test_exponential_energy_does_not_overflow_at_large_N() -> None:
    # Overlaps of 2000: e^2000 overflows float64, the shifted form must not.
    rng = np.random.default_rng(0)
    patterns = torch.tensor(random_signs(rng, 50, 2000))
    cue = patterns[:5].clone()
    cue[:, :400] *= -1  # 20% of the bits flipped
    for name in ("exponential", "softmax"):
        found = hp.retrieve(hp.make_model(name), patterns, cue, max_iter=10)
        assert torch.isfinite(found.states).all()
        assert torch.equal(found.states, patterns[:5]) and found.fixed.all()


def test_retrieve_stops_at_a_two_cycle() -> None:
    """Synchronous updates of a symmetric energy end at a fixed point or in a 2-cycle; in a
    2-cycle retrieve() stops (not a fixed point) instead of spending max_iter steps."""
    patterns = torch.tensor([[-1, 1, -1, 1, -1, -1, -1, -1], [-1, -1, -1, -1, -1, 1, 1, 1],
                             [-1, 1, 1, -1, -1, 1, 1, 1]], dtype=torch.float64)
    cue = torch.tensor([[-1, 1, 1, 1, 1, 1, 1, -1]], dtype=torch.float64)
    model = hp.make_model("classical")
    once = model.step(cue, patterns)
    assert not torch.equal(once, cue) and torch.equal(model.step(once, patterns), cue)
    found = hp.retrieve(model, patterns, cue, max_iter=100)
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
    N = np.array([20, 40, 80, 160])
    rows = [("poly3", n, seed, 0.5 * n**2) for n in N for seed in (0, 1)]
    rows += [("exponential", n, seed, 3 * math.exp(0.1 * n)) for n in N for seed in (0, 1)]
    table = pd.DataFrame(rows, columns=["model", "N", "seed", "capacity"]).assign(
        rho=0.2, censored=False)
    fits = cap.growth(table).set_index("model")
    assert fits.loc["poly3", "loglog_slope"] == pytest.approx(2.0)
    assert fits.loc["poly3", "better_fit"] == "power"
    assert fits.loc["exponential", "semilog_rate"] == pytest.approx(0.1)
    assert fits.loc["exponential", "better_fit"] == "exponential"


def test_cuda_request_without_a_gpu_is_refused() -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(RuntimeError, match="hopfield.device"):
        hp.resolve_device("cuda")
    assert hp.resolve_device("auto").type == "cpu"
