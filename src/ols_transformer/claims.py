"""The claims ledger: one row per claim of the paper, its estimate (with its interval over
replicates where the measurement is random) and a verdict.

Pure: stage tables in (``{table name: DataFrame or None}``), a ledger DataFrame and Markdown
out. The numbers come from each stage's check functions (``checks.<stage>``), the same ones
that write the stage's own summary, run here again on the tables on disk: editing a table to
break a claim turns its verdict to FAIL. A stage whose table is absent, or a check whose model
was not run, gives MISSING, never PASS. Rows of kind ``extension`` are our additions, beyond
the paper's claims, and are counted apart.

Each row quotes the paper's words it tests (``quote``, with its ``section``; the paper text is in
``shared/seeds``) and says where its threshold comes from (``threshold_origin``: theory,
literature, paper or chosen). A random measurement is judged on its 95% interval over
replicates (``estimate``, ``ci_low``, ``ci_high``, ``replicates``): PASS only when the whole
interval passes, INCONCLUSIVE when it straddles the threshold. Each row names the choice its
verdict rests on (``decided_by``): its stated criterion (``holds_where`` then gives the
tolerance that would flip it, as a number), the reading of the sentence, or a scientific choice
swept by ``checks.across`` (``share_holds`` and ``holds_where`` say where it holds).

A paper row may declare its readings (``Reading``: the words supporting each, the hypothesis it
implies, the check judging it; the headline first, with ``headline_why``): the row is judged
under each, its verdict the headline's when they agree and CONDITIONAL (decided by "reading of
the sentence") when they do not; ``headline_reading`` and ``readings`` record them.

Criteria come from the run's config, ``<stage>.criteria`` (validated by the schema), so the
ledger judges with the numbers the stage was run with.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from . import stages as registry
from .checks import (
    ALL,
    BY_READING,
    CONDITIONAL,
    FAIL,
    INCONCLUSIVE,
    MISSING,
    PASS,
    REPORTED,
    VERDICTS,
    Check,
    MissingInput,
    with_origins,
)
from .checks import attention_regression as ar_checks
from .checks import hopfield as hopfield_checks
from .checks import icl as icl_checks
from .checks import nist as nist_checks
from .checks import proof as proof_checks
from .checks import shift as shift_checks
from .checks import training as training_checks

Tables = Mapping[str, "pd.DataFrame | None"]
Criteria = Mapping[str, Mapping[str, float]]  # stage -> its criteria
Kind = Literal["paper", "extension", "related"]

COLUMNS = ["claim_id", "kind", "section", "quote", "claim", "estimate", "ci_low", "ci_high",
           "replicates", "criterion", "threshold", "threshold_origin", "verdict", "decided_by",
           "share_holds", "holds_where", "headline_reading", "readings", "source", "detail",
           "sense"]
# Ledgers written before a column was renamed (old name -> new) or added (column -> empty).
RENAMED = {"measured": "estimate", "origin": "threshold_origin"}
ADDED: dict[str, Any] = {"ci_low": math.nan, "ci_high": math.nan, "replicates": 0,
                         "decided_by": "", "holds_where": "", "share_holds": math.nan,
                         "threshold_origin": "", "quote": "", "sense": "",
                         "headline_reading": "", "readings": ""}


@dataclass(frozen=True)
class Stage:
    """What the ledger reads of a stage of the registry (``stages.STAGES``, which gives its
    config section, ``<section>.criteria``): the tables it judges and its check function."""

    tables: tuple[str, ...]
    checks: Callable[[Tables, Mapping[str, float]], list[Check]]


STAGES: dict[str, Stage] = {
    "proof": Stage(("proof_check",), lambda t, c: proof_checks.checks(t.get("proof_check"), c)),
    "nist": Stage(("nist_lre",), lambda t, c: nist_checks.checks(t.get("nist_lre"), c)),
    "training": Stage(
        ("fig1_headline", "fig1_alignment", "fig1_endpoint", "fig1_sensitivity"),
        lambda t, c: training_checks.checks(
            t.get("fig1_headline"), c, alignment=t.get("fig1_alignment"),
            endpoint=t.get("fig1_endpoint"), sweep=t.get("fig1_sensitivity"))),
    "training_sweep": Stage(
        ("fig1_sensitivity",),
        lambda t, c: training_checks.sweep_checks(t.get("fig1_sensitivity"), c)),
    "shift": Stage(("covariance_shift",),
                   lambda t, c: shift_checks.checks(t.get("covariance_shift"), c)),
    "hopfield": Stage(("hopfield_capacity", "hopfield_asymmetric"),
                      lambda t, c: hopfield_checks.checks(
                          t.get("hopfield_capacity"), c,
                          asymmetric=t.get("hopfield_asymmetric"))),
    "icl": Stage(("icl_preconditioner", "icl_risk", "icl_shift", "icl_sensitivity"),
                 lambda t, c: icl_checks.checks(t, c)),
    "attention_regression": Stage(
        ("ar_r2", "ar_comparison", "ar_identity", "ar_optimisation", "ar_kernel"),
        lambda t, c: ar_checks.checks(t, c)),
}


def section(stage: str) -> str:
    """The config section holding ``stage``'s criteria (the registry's)."""
    return registry.STAGES[stage].criteria_section


@dataclass(frozen=True)
class Reading:
    """One reading of a paper claim's sentence: the paper's words that support it
    (``support``, quoted), the hypothesis it implies against its rival (``hypothesis``: the
    law that holds if the reading is true, and the law that would hold if it were false), and
    the stage's check (scope "all") that judges it (``check``)."""

    name: str
    support: str
    hypothesis: str
    check: str


@dataclass(frozen=True)
class Claim:
    claim_id: str  # <stage>.<name>
    section: str
    claim: str
    kind: Kind = "paper"
    check_name: str = ""  # the stage's check judging it; default: <name>
    quote: str = ""  # the paper's words this row tests (kind "paper"); "" for our extensions
    # The readings of ``quote`` (kind "paper"), the headline first; each judged by its own
    # check. Empty: one reading, judged by ``check``. ``headline_why``: why the first reading
    # is the one the paper's own words support most directly.
    readings: tuple[Reading, ...] = ()
    headline_why: str = ""

    @property
    def stage(self) -> str:
        return self.claim_id.split(".", 1)[0]

    @property
    def check(self) -> str:
        """The check judging the row: ``check_name``, else its headline reading's, else the
        claim's own name."""
        if self.check_name:
            return self.check_name
        return self.readings[0].check if self.readings else self.claim_id.split(".", 1)[1]


def sole(name: str, support: str, hypothesis: str, check: str, why: str) -> dict[str, Any]:
    """The one reading of a sentence that allows no other (its ``readings`` and
    ``headline_why``, for ``Claim(..., **sole(...))``)."""
    return {"readings": (Reading(name, support, hypothesis, check),), "headline_why": why}


ICL_SECTION = "Beyond the paper: trained LSA (ICL)"
# Rows of kind "related": the SECOND seed paper's claims (Goulet Coulombe, "Ordinary Least
# Squares as an Attention Mechanism"; summary in shared/seeds, public README of
# philgoucou/ols-attention), not the OLS-Transformer paper's; counted apart.
AR_SECTION = "Second paper: OLS as an attention mechanism"
AR_ABSTRACT = ("ordinary least squares (OLS) predictions can be rewritten as the output of a "
               "restricted attention module")
NIST_SECTION = "Beyond the paper: NIST StRD"
ROBUSTNESS_QUOTE = ("modern designs including nonlinear activations, Softmax transformation, "
                    "multi-head attention, and multi-layer stacking are essential evolutions to "
                    "handle this sensitivity and enhance robustness")

COVARIANCE_SHIFT = "when the distribution of deviates from"
ANY_SHIFT = "enhancing inference robustness under complex distributional shifts"
GROWTH = "OLS-Transformer’s sensitivity to data distribution changes"
ABSOLUTE = "handle this sensitivity and enhance robustness"
ROBUSTNESS_WHY = ("'this sensitivity' is the one Section 3 derives, 'when the distribution of X' "
                  "deviates from X' (eq. 10: a distortion of the prediction relative to its "
                  "no-shift value), so the sensitivity is the error's growth under covariance "
                  "shift; task shift is not in the paper, and the absolute error mixes in the "
                  "no-shift risk, which the sentence does not speak of")


def robustness_readings(name: str, design: str) -> tuple[Reading, ...]:
    """The four readings of the robustness sentence for ``design`` (check ``name`` and its
    suffixes, ``checks.icl.ROBUST_READINGS``), the headline first: covariance shift or any
    test-time shift, error growth or absolute error."""
    def one(suffix: str, shifts: str, shift_words: str, growth: bool) -> Reading:
        what = "error growth (relative error over its no-shift one)" if growth else \
            "absolute error (RMS)"
        return Reading(
            f"{shifts}, {'growth' if growth else 'absolute error'}",
            f"{shift_words} ... {GROWTH if growth else ABSOLUTE}",
            f"under {shifts} the {design}'s {what} is below the one-layer linear model's at "
            "every family's farthest magnitude (ratio < 1), against the rival: no better "
            "(ratio >= 1)", name + suffix)
    return (one("", "covariance shift", COVARIANCE_SHIFT, True),
            one("_absolute", "covariance shift", COVARIANCE_SHIFT, False),
            one("_any_shift", "any test-time shift", ANY_SHIFT, True),
            one("_any_shift_absolute", "any test-time shift", ANY_SHIFT, False))


CLAIMS: tuple[Claim, ...] = (
    Claim("proof.transformer_equals_ols", "Sec. 2.1 (theorem)",
          "The single-layer linear OLS-Transformer (eq. 8) predicts the OLS prediction: an "
          "identity, the construction run in 40-digit mpmath differing from OLS only by that "
          "arithmetic's rounding; in floating point, within the error law u (a sqrt(n) p + b "
          "cond(X)^2) with a, b of order 1",
          quote="there exists a parameter configuration such that the Transformer’s forward "
                "pass is equivalent to the OLS projection",
          readings=(
              Reading("an exact identity", "a single-layer Linear Transformer can exactly "
                      "represent the OLS solution", "in exact (40-digit) arithmetic the "
                      "construction equals OLS to that arithmetic's rounding; the rival (not an "
                      "identity) differs at O(1), or at ~1e-16 if exact only in float64",
                      "transformer_equals_ols"),
              Reading("equal in floating point", "the Transformer’s forward pass is equivalent "
                      "to the OLS projection", "a forward pass in float64/float32 is OLS to "
                      "rounding: error <= u (a sqrt(n) p + b cond(X)^2) with order-1 a, b; the "
                      "rival, errors that need constants growing with n or cond",
                      "rounding_error_law")),
          headline_why="the theorem says the Transformer can 'exactly represent' OLS: an "
                       "algebraic statement, which exact arithmetic tests; floating point is "
                       "what a user computes, hence the second reading"),
    Claim("proof.in_context_equals_ols", "Sec. 2.2 (eq. 5)",
          "In context, x_q^T W W^T (1/n) sum_i x_i y_i equals x_q^T beta_hat: an identity in "
          "40-digit mpmath; in floating point within the error law u (a sqrt(n) p + b cond^2)",
          quote="the above equation’s form suggests a direct attention-like computation",
          readings=(
              Reading("an exact identity", "Substituting this decomposition into the OLS "
                      "closed-form solution, we obtain", "eq. 5 equals OLS in exact (40-digit) "
                      "arithmetic; the rival differs at O(1)", "in_context_equals_ols"),
              Reading("equal in floating point", "the above equation’s form suggests a direct "
                      "attention-like computation", "computed as attention in float64/float32 "
                      "it is OLS to rounding (the error law, order-1 constants)",
                      "rounding_error_law")),
          headline_why="eq. 5 is obtained by substitution, an algebraic identity; its "
                       "computation as attention in floating point is the second reading"),
    Claim("proof.steps_hold", "Sec. 2.2 (eqs. 3-7)",
          "W W^T = Sigma^-1, beta_hat = W c, and the attention scores are the hat matrix "
          "(float64, to rounding n p eps cond(X)^2)",
          quote="By construction, the inverse of the covariance matrix can be expressed as",
          **sole("each step holds to rounding", "By construction, the inverse of the covariance "
                 "matrix can be expressed as", "W W^T = Sigma^-1, beta_hat = W c and the scores "
                 "= the hat matrix, in float64 within the error law with k = "
                 "error_law_constant_max; the rival, a step off by more than rounding",
                 "steps_hold", "'by construction' names the steps as identities; float64 is "
                 "where they are computed (their exact algebra is the theorem's rows)")),
    Claim("proof.invariant_to_sequence_length", "Sec. 2.1 (eq. 2)",
          "With every context pair duplicated (n -> 2n), the 1/n factor leaves the "
          "OLS-Transformer's prediction unchanged: an identity in 40-digit mpmath (both forms; "
          "without the factor the prediction would double)",
          quote="The factor serves as a normalization constant ensuring the attention energy "
                "remains invariant to the sequence length",
          **sole("an identity in the context's length", "ensuring the attention energy remains "
                 "invariant to the sequence length", "duplicating every context pair leaves the "
                 "prediction unchanged in exact arithmetic; the rival (no 1/n) doubles it",
                 "invariant_to_sequence_length", "'ensuring ... invariant' is a property of "
                 "the algebra: one reading")),
    Claim("proof.rounding_error_law", "Sec. 2 (numerics, ours)",
          "In floating point the OLS-Transformer (both forms, float64 and float32, every case "
          "and draw) is within u (a sqrt(n) p + b cond(X)^2) of OLS with fitted a, b of order 1 "
          "(rounding of sums of n terms, and Sigma's perturbation amplified by cond(X)^2)",
          kind="extension"),
    Claim("proof.sigma_route_cond_squared", "Sec. 2 (numerics, ours)",
          "The transformer route goes through Sigma, so its error grows like cond(X)^2 eps",
          kind="extension"),
    Claim("proof.qr_cond_linear", "Sec. 2 (numerics, ours)",
          "QR least squares grows at most like cond(X) eps", kind="extension"),
    # Beyond the paper: NIST's certified regressions (stage nist)
    Claim("nist.fitted_digits_min", NIST_SECTION,
          "The OLS-Transformer as the paper builds it (W from the eigenvalues of Sigma) keeps "
          "at least 7 digits of the fitted values on every lower- and average-difficulty StRD "
          "dataset (Norris, Pontius, NoInt1, NoInt2), float64, without refusing one",
          kind="extension", check_name="fitted_digits_lower_average"),
    Claim("nist.svd_scaled_fitted_digits", NIST_SECTION,
          "With W from the SVD of X and the columns scaled (not the paper's route), the "
          "OLS-Transformer keeps at least 7 digits of the fitted values on every lower- and "
          "average-difficulty StRD dataset, float64", kind="extension",
          check_name="fitted_digits_svd_scaled"),
    Claim("nist.svd_scaled_near_lstsq", NIST_SECTION,
          "With W from the SVD of X and the columns scaled, the OLS-Transformer is within 1 "
          "digit of numpy's lstsq on every StRD dataset (judged at that band; the gap that "
          "would flip it is in the detail, with where it misses and by how much)",
          kind="extension"),
    Claim("nist.covariance_route_cond_law", NIST_SECTION,
          "The covariance route (W from the eigenvalues of Sigma) keeps at least the digits of "
          "the rounding law 16 - 2 log10 cond(X), less a band, and refuses only where the law "
          "leaves none (a bound: the detail says by how much designs beat it)",
          kind="extension"),
    Claim("nist.rank_refusals_honest", NIST_SECTION,
          "No route calls a StRD design rank deficient where X has full numerical rank in its "
          "dtype (Longley, Pontius: refused by the covariance route as ill-conditioned, not "
          "rank deficient)", kind="extension"),
    Claim("training.w_converges_to_w_star", "Sec. 2.3 (Fig. 1b)",
          "Adam drives w to w* = Sigma^-1/2 (|w|, as w and -w give the same model)",
          quote="the learnable scalar converging precisely to the theoretical value",
          **sole("|w| reaches w*", "the learnable scalar converging precisely to the "
                 "theoretical value", "the final | |w|/w* - 1 | is within w_rel_tol, over seeds; "
                 "the rival, w stalls or settles elsewhere", "w_converges_to_w_star",
                 "'precisely' gives no number: one reading, the tolerance that flips it in the "
                 "detail")),
    Claim("training.aligned_and_monotone", "Sec. 2.3 (Fig. 1a)",
          "At Adam's default step (lr 1e-3, w0 0.1: the paper's setting as we read it, eq. 8) "
          "the training MSE and the distance to OLS decay monotonically and the model aligns "
          "with OLS within 1000 epochs; under the reading 'any setting', at every (lr/w*, "
          "w0/w*) of the sweep (its region in the detail)",
          quote="exhibit a synchronized monotonic decay. Notably, the functional alignment "
                "occurs rapidly within the first 1000 epochs",
          readings=(
              Reading("at the paper's setting (Adam's defaults)", "optimized using the Adam "
                      "algorithm for 5000 epochs", "at Adam's default step the slowest seed "
                      "aligns within 1000 epochs with no MSE rise; the rival, a later alignment "
                      "or a rise", "aligned_and_monotone"),
              Reading("at any setting", "under standard gradient-based optimization",
                      "it holds at every learning rate and start of the sweep; the rival, "
                      "settings where it does not", "aligned_and_monotone_any_setting")),
          headline_why="the paper names Adam and no learning rate or start, so its run used "
                       "Adam's defaults; 'standard gradient-based optimization' is the general "
                       "reading"),
    Claim("training.synchronized_emergence", "Sec. 2.3 (Fig. 1b)",
          "w reaches w* (structural emergence) and the prediction reaches OLS (functional "
          "convergence) at the same time: per seed, the epochs at which each comes within "
          "alignment_tol agree within a factor synchrony_ratio_max (the rival: one leads by 10x "
          "or more); in 1-D the distance is a function of w, so they are tied by construction",
          check_name="synchronized_emergence",
          quote="this structural emergence is temporally synchronized with the functional "
                "convergence of the model’s output",
          **sole("the two clocks agree", "this structural emergence is temporally synchronized "
                 "with the functional convergence", "per seed the epochs at which w and the "
                 "prediction reach their targets agree within a factor synchrony_ratio_max; the "
                 "rival, one leads by 10x or more", "synchronized_emergence",
                 "'temporally synchronized' compares two times: one reading")),
    Claim("training.mse_at_noise_floor", "Sec. 2.3 (Fig. 1a)",
          "The training MSE settles at the noise floor (the OLS residual MSE)",
          quote="the MSE stabilizes at the noise floor",
          **sole("the MSE ends at the OLS residual MSE", "the MSE stabilizes at the noise floor",
                 "the final MSE over the OLS residual MSE is 1 within mse_rel_tol, over seeds; "
                 "the rival, it stays above", "mse_at_noise_floor",
                 "the noise floor of a regression is the OLS residual MSE: one reading")),
    Claim("training.endpoint_stable", "Sec. 2.3",
          "w* is a stable endpoint: w moved from it by +-10% and +-50% trains back to it",
          quote="whether this configuration is a reachable and stable endpoint under standard "
                "gradient-based optimization",
          **sole("perturbed, w returns", "a reachable and stable endpoint", "w moved from w* "
                 "by +-10% and +-50% trains back within w_rel_tol; the rival, it drifts away",
                 "endpoint_stable", "'stable endpoint' is stability under perturbation: one "
                 "reading")),
    Claim("training_sweep.alignment_region_eq8", "Sec. 2.3, sensitivity (ours)",
          "Where in (lr/w*, w0/w*) the eq.-8 model aligns within 1000 epochs with no MSE rise",
          kind="extension"),
    Claim("training_sweep.alignment_region_eq5", "Sec. 2.3, sensitivity (ours)",
          "Where in (lr/w*, w0/w*) the eq.-5 model aligns within 1000 epochs with no MSE rise",
          kind="extension"),
    Claim("shift.no_shift_recovers_ols", "Sec. 3",
          "When the context's covariance equals the slow memory's (Sigma_te = Sigma_tr, "
          "empirical: the oracle W W^T = Sigma_te^-1), the OLS-Transformer is OLS on the "
          "context exactly (float64 identity); under the reading 'recovered as m grows' (the "
          "population covariances equal), its distance to static OLS would vanish with m: it "
          "levels off instead, as our sampling theory says",
          check_name="oracle_is_context_ols",
          quote="when the inference environment’s covariance structure is consistent with that "
                "of the training environment, the middle term , and the model accurately "
                "recovers the OLS analytical solution",
          readings=(
              Reading("exact when the covariances are equal", "the middle term , and the model "
                      "accurately recovers the OLS analytical solution", "with Sigma_te = "
                      "Sigma_tr (the matrices of eq. 10) the middle term is I and the model is "
                      "OLS to rounding; the rival, a residual far above rounding",
                      "oracle_is_context_ols"),
              Reading("recovered as m grows", "when the inference environment’s covariance "
                      "structure is consistent with that of the training environment",
                      "with the same population covariance, the distance to static OLS falls "
                      "like m^-1/2; the rival (our theory), it levels off at the training set's "
                      "sampling error", "no_shift_distance_vanishes")),
          headline_why="the sentence reads eq. 10: 'the middle term' becomes I when the two "
                       "(empirical) matrices are equal, an identity; the environments' "
                       "'covariance structure' could mean the population, hence the second "
                       "reading"),
    Claim("shift.oracle_is_context_ols", "Sec. 3 (fast memory)",
          "Context-awareness: with its slow memory matched to the context (W W^T = "
          "Sigma_te^-1) the OLS-Transformer's fast memory computes OLS on the context itself "
          "(float64 identity against lstsq)",
          quote="OLS-Transformer can perceive the current context in real-time",
          **sole("the fast memory is in-context OLS", "can perceive the current context in "
                 "real-time", "with W W^T = Sigma_te^-1 the model's prediction is lstsq on the "
                 "context to float64 rounding; the rival, a residual far above rounding",
                 "oracle_is_context_ols", "the sentence concludes eq. 10's reading of the "
                 "fast memory; its testable content is this identity")),
    Claim("shift.no_shift_sampling_law", "Sec. 3 (sampling, ours)",
          "With no shift the OLS-Transformer's distance to static OLS is its sampling error "
          "(shift.no_shift_sampling_rmse), which levels off in m (the rival m^-1/2 law's "
          "prediction is in the detail)", kind="extension", check_name="no_shift_matches_ols"),
    Claim("shift.eq10_holds", "Sec. 3 (eq. 10)",
          "In context the model predicts X' Sigma_tr^-1 Sigma_te beta + "
          "(1/m) X' Sigma_tr^-1 X'^T eps'", check_name="eq10_identity",
          quote="Substituting the underlying relationship yields",
          **sole("eq. 10 is an identity", "Substituting the underlying relationship yields",
                 "the model's prediction equals eq. 10's two terms to float64 rounding; the "
                 "rival (eq. 10 without its noise term) differs at the noise-to-signal ratio",
                 "eq10_identity", "a substitution is algebra: one reading")),
    Claim("shift.distortion_is_sigma_tr_inv_sigma_te", "Sec. 3",
          "Under covariance shift the model's distortion, probed from its predictions, is "
          "D = Sigma_tr^-1 Sigma_te with Sigma_te the context's empirical covariance (as the "
          "paper defines it): an identity to float64 rounding",
          check_name="probe_identity",
          quote="when the distribution of deviates from , the prediction results will be "
                "linearly distorted by the term",
          **sole("D with the empirical Sigma_te", "We also define their empirical covariance "
                 "matrices as and , respectively", "the distortion probed from the model equals "
                 "Sigma_tr^-1 Sigma_te (empirical) to float64 rounding; the rival D = I",
                 "probe_identity", "the paper defines Sigma_te as the context's empirical "
                 "matrix; the population version is our extension row "
                 "shift.distortion_population_law")),
    Claim("shift.distortion_population_law", "Sec. 3 (population, ours)",
          "With population matrices, the distortion ||D - I||_F follows Sigma_tr^-1 Sigma_te "
          "within its sampling spread: the slope of measured on predicted, over seeds, holds 1 "
          "and not 0 (the rival D = I), every family (the paper defines Sigma_te as the "
          "empirical matrix, so the population law is ours)", kind="extension",
          check_name="distortion_agreement"),
    Claim("shift.static_ols_undistorted", "Sec. 3",
          "Static OLS (X' beta_hat_tr) is not distorted by the shift: its error stays at its "
          "O(1/n) sampling theory",
          quote="This logic is entirely fixed and does not change with the distribution of the "
                "inference set",
          **sole("static OLS keeps its sampling error", "This logic is entirely fixed and does "
                 "not change with the distribution of the inference set", "static OLS's error "
                 "is its O(1/n) theory's under every shift; the rival, distorted like the "
                 "transformer", "static_ols_undistorted", "'does not change with the "
                 "distribution' says the error follows the fixed estimator's theory: one "
                 "reading")),
    Claim("hopfield.linear_capacity_linear", "Sec. 5",
          "The OLS-Transformer's attention, used as an associative memory (slow memory "
          "Sigma^+, the projection rule, exact recall), has a capacity linear in N: c N fits "
          "ln C better than its rival c N / ln N, per seed",
          quote="we elucidate its linear associative memory capacity as a quadratic Hopfield "
                "prototype"),
    Claim("hopfield.linear_capacity_hebbian", "Sec. 1 (contribution 3)",
          "Hebbian linear attention (the quadratic energy) has a capacity linear in N (c N fits "
          "better than its rival c N / ln N, per seed) under an overlap criterion of recall; "
          "under exact recall its law is N / (2 ln N) (McEliece et al. 1987): 'holds where' "
          "says under which criteria (exact; overlap 0.99, 0.95, 0.9) the paper's 'linear' holds",
          quote="achieving a breakthrough in memory capacity from linear to exponential scale"),
    Claim("hopfield.attention_is_hopfield_network", "Sec. 4",
          "The OLS-Transformer's attention, as a memory, is the original (Hebbian) Hopfield "
          "network: its capacity and the classical network's follow one law (their ratio's "
          "log-log slope nearer 0 than the rival's 1 / ln N, projection over Hebbian rule), "
          "under each reading of its slow memory W W^T",
          quote="In the OLS-Transformer, the attention mechanism is essentially the original "
                "Hopfield network generalized to continuous states",
          readings=(
              Reading("slow memory learned from the patterns' distribution",
                      "is the slow memory learned based on the training set distribution ... "
                      "the matrix represents slow memory as a fixed parameter obtained during "
                      "training",
                      "W W^T = E[x x^T]^-1 = I for random +-1 patterns: the memory is Hebbian "
                      "linear attention, whose capacity ratio to the classical network is "
                      "constant in N (slope 0), against the rival slope 1 / ln N",
                      "attention_is_hopfield_network"),
              Reading("slow memory Sigma^+ of the stored patterns",
                      "By construction, the inverse of the covariance matrix can be expressed "
                      "as",
                      "W W^T = Sigma^+ of the very patterns stored: the projection rule, whose "
                      "capacity ratio to the Hebbian rule (like for like) would be constant "
                      "(slope 0) if it were the same network, against the rival slope 1 / ln N "
                      "(c N over N / (2 ln N))", "attention_is_hopfield_network_projection")),
          headline_why="the paper's own definition of slow memory (Sec. 3) is a fixed parameter "
          "learned from the training distribution, apart from the context the attention reads "
          "(the stored patterns are the keys, its fast memory); for random +-1 patterns that "
          "distribution's covariance is I. Sigma^+ of the stored patterns is the in-context "
          "construction (eq. 5) where training and inference data coincide"),
    Claim("hopfield.projection_over_hebbian", "Sec. 4 (ours)",
          "The OLS-Transformer's memory stores at least 2x what the Hebbian rule stores at every "
          "N >= 200 (geometric mean over seeds, simultaneous intervals over N and models; the "
          "laws c N and N / (2 ln N) make the ratio grow like ln N)",
          kind="extension"),
    Claim("hopfield.classical_capacity_amit", "Sec. 4",
          "The classical Hopfield network stores about 0.14 N patterns (the paper's ref. [7] "
          "is Hopfield 1982, ~0.15 N; its number is lost in the paper's text; 0.138 N is Amit "
          "et al. 1985's): alpha_inf of alpha(N) = alpha_inf + a / sqrt(N), per seed, within "
          "0.015 (the other fit forms and the tolerance that would flip each in the detail); "
          "the overlap criterion of recall (0.99, 0.95, 0.9) is varied",
          quote="the memory capacity of the original Hopfield network was quite limited"),
    Claim("hopfield.exponential_capacity_exponential", "Sec. 4",
          "Capacity grows exponentially in N for the exponential energy: fitted on the smaller "
          "N, exp(c N) predicts the largest third of the N better than a power law N^k, per "
          "seed",
          quote="Demircigil et al. further transitioned the energy function from a power "
                "function to an exponential form, allowing the memory capacity to reach the "
                "order of [5]"),
    Claim("hopfield.exponential_rate_theory", "Sec. 4",
          "The exponential energy's capacity grows at Demircigil et al.'s rate I(1 - 2 rho) / 2 "
          "or faster (2^(N/2) at rho = 0; fitted per seed on the N where C > 1, N >= 25), and "
          "stays under the nearest-neighbour decoder's capacity at every N and seed up to the "
          "cue sample's resolution (a level test: the capacity sits on that limit)",
          quote="allowing the memory capacity to reach the order of [5]"),
    Claim("hopfield.softmax_capacity_exponential", "Sec. 1 (contribution 3)",
          "Capacity grows exponentially in N for softmax attention (modern Hopfield), at a "
          "fixed inverse temperature, iterated to a fixed point: exp(c N) predicts held-out N "
          "better than a power law, and fits better than exp(c sqrt(N))",
          quote="the transition from linear projection to Softmax attention ... ultimately "
                "achieving a breakthrough in memory capacity from linear to exponential scale"),
    Claim("hopfield.softmax_transformer_capacity_exponential", "Sec. 1 (contribution 3)",
          "At a transformer's temperature, beta = 1/sqrt(N), iterated to convergence, softmax "
          "attention's capacity follows theory's exp(c sqrt(N)) (the scores are O(sqrt N)), not "
          "exp(c N): the paper's 'exponential' holds at a fixed beta, not at a transformer's",
          quote="the transition from linear projection to Softmax attention ... ultimately "
                "achieving a breakthrough in memory capacity from linear to exponential scale"),
    Claim("hopfield.softmax_one_update_capacity_exponential", "Sec. 4 (ours)",
          "One transformer layer (one softmax update at beta = 1/sqrt(N), sign read-out) "
          "retrieves a number of patterns growing like exp(c sqrt(N)), as theory predicts at "
          "that temperature", kind="extension"),
    Claim("hopfield.polynomial_capacity_power", "Sec. 4",
          "A degree-n energy F(x) = x^n raises the capacity to the order of N^(n-1): its growth "
          "exponent (log-log slope over the 3 largest N, per seed) nearer n - 1 than n - 2 or n",
          quote="By changing this function to a higher-order power function, such as a "
                "polynomial of degree , the memory capacity of the Hopfield network can be "
                "increased to the order of [9]"),
    Claim("hopfield.growth_order", "Abstract",
          "Capacity grows linear < polynomial < exponential along Section 4's energies: every "
          "step between consecutive tiers of growth exponents (log-log slope over each run's 3 "
          "largest N, paired by seed) > 0, simultaneous intervals over the pairs",
          quote="the transition of the Hopfield energy function from linear to exponential "
                "memory capacity"),
    Claim("hopfield.qkv_asymmetric_associations", "Sec. 5 (modification 2)",
          "Distinct query and key matrices represent an asymmetric association no single W W^T "
          "can: scores x_i^T W_Q W_K^T x_j make every token of a directed cycle (N = 64, M = 3, "
          "8, 16 random +-1 tokens) score its successor highest, where any symmetric score "
          "reaches at most M - 1 of M (exact counts, every seed)",
          quote="use distinct matrices , , and instead of a single matrix , allowing the model "
                "to represent asymmetric associations between features"),
    # Beyond the paper: does training find the OLS-Transformer? (stage icl)
    Claim("icl.gamma_matches_gamma_star", ICL_SECTION,
          "One layer of linear self-attention, trained on in-context regression, learns the "
          "optimal preconditioner Gamma* = ((1 + 1/N) Lambda + (tr Lambda + sigma^2)/N I)^-1, "
          "not the OLS-Transformer's Lambda^-1, at every context size N: it is nearer Gamma* than "
          "Lambda^-1 (distance ratio < 1, geometric mean over seeds, simultaneous intervals over "
          "(Lambda, N))", kind="extension"),
    Claim("icl.gamma_nuisance_small", ICL_SECTION,
          "The trained layer predicts through x_q^T Gamma (1/N) X^T y alone (the other weight "
          "blocks contribute next to nothing)", kind="extension"),
    Claim("icl.gamma_approaches_inverse", ICL_SECTION,
          "The learned Gamma approaches the OLS-Transformer's slow memory Lambda^-1 as N grows",
          kind="extension"),
    Claim("icl.risk_near_gamma_star", ICL_SECTION,
          "The trained layer's test risk is that of the Gamma* transformer", kind="extension"),
    Claim("icl.risk_above_ridge", ICL_SECTION,
          "No trained model beats ridge at lambda = sigma^2 (Bayes optimal here)",
          kind="extension"),
    Claim("icl.risk_falls_with_depth", ICL_SECTION,
          "Deeper linear self-attention (L = 1..3; 1..4 in large.yaml), each trained to "
          "convergence, has lower test risk", kind="extension"),
    Claim("icl.covariate_shift_follows_eq10", ICL_SECTION,
          "Under test-time covariate shift the trained one-layer model's error is eq. 10's with "
          "its learned Gamma (plus its no-shift sampling error)", kind="extension"),
    Claim("icl.task_shift_tolerated", ICL_SECTION,
          "Under test-time task shift (w scaled by 0.25..4) the trained one-layer model's "
          "relative error stays within 1.25x its no-shift error at every scale (geometric mean "
          "over seeds)", kind="extension"),
    Claim("icl.softmax_enhances_robustness", "Sec. 5 (conclusion)",
          "Softmax attention (one layer, learned scale), trained on the same tasks, grows less "
          "under covariance shift than the one-layer linear model (readings: any shift; "
          "absolute error)", quote=ROBUSTNESS_QUOTE,
          readings=robustness_readings("softmax_enhances_robustness", "softmax layer"),
          headline_why=ROBUSTNESS_WHY),
    Claim("icl.multi_head_enhances_robustness", "Sec. 5 (conclusion)",
          "Two-head linear attention, trained on the same tasks, grows less under covariance "
          "shift than the one-layer linear model (readings: any shift; absolute error)",
          quote=ROBUSTNESS_QUOTE,
          readings=robustness_readings("multi_head_enhances_robustness", "two-head layer"),
          headline_why=ROBUSTNESS_WHY),
    Claim("icl.mlp_enhances_robustness", "Sec. 5 (conclusion)",
          "Linear attention followed by a GELU MLP (a nonlinear activation), trained on the same "
          "tasks, grows less under covariance shift than the one-layer linear model (readings: "
          "any shift; absolute error)", quote=ROBUSTNESS_QUOTE,
          readings=robustness_readings("mlp_enhances_robustness", "attention + MLP layer"),
          headline_why=ROBUSTNESS_WHY),
    Claim("icl.stacking_enhances_robustness", "Sec. 5 (conclusion)",
          "Stacked linear attention as standard Transformers stack layers (pre-norm LayerNorm "
          "and residual connections, L = 2..4), trained on the same tasks, grows less under "
          "covariance shift than the one-layer linear model (readings: any shift; absolute "
          "error)", quote=ROBUSTNESS_QUOTE,
          readings=robustness_readings("stacking_enhances_robustness", "normalised stack"),
          headline_why=ROBUSTNESS_WHY),
    Claim("icl.multi_head_improves_generalization", "Sec. 5 (modification 4)",
          "Two-head linear attention, trained on the same tasks and budget, has a lower no-shift "
          "test risk than the one-head layer (geometric mean ratio < 1; the rival: no gain, 1)",
          quote="Standard Transformers use multi-head attention to process different feature "
                "subspaces in parallel, which improves the model’s generalization ability "
                "through a form of ensemble learning"),
    Claim("icl.plain_stacking_enhances_robustness", ICL_SECTION,
          "Bare stacked linear attention (no normalisation, no residual; L >= 2), trained on the "
          "same tasks, grows less under covariance shift than the one-layer linear model "
          "(geometric mean ratio of error growth, log scale; not the paper's sentence, which "
          "names modern, normalised designs: an L-layer bare stack is a polynomial of degree "
          "3^L in its tokens)", kind="extension"),
    # The second seed paper (stage attention_regression), kind "related"
    Claim("attention_regression.identity_out_of_sample", AR_SECTION,
          "[second paper] OLS predictions at held-out queries equal attention f_q^T F^T y with "
          "F = X U Lambda^-1/2 (F^T F = I), eigen and SVD routes, to rounding c cond(X)^2 u",
          kind="related", quote=AR_ABSTRACT),
    Claim("attention_regression.optimisation_recovers_ols", AR_SECTION,
          "[second paper] Minimising squared prediction error over the embedding Omega = L L^T "
          "recovers the OLS predictions, in and out of sample", kind="related",
          quote="the OLS solution can be recast as the outcome of an alternative problem: "
                "minimizing squared prediction errors by optimizing the embedding space"),
    Claim("attention_regression.omega_identified", AR_SECTION,
          "[second paper, our precision] Omega itself equals (X^T X)^-1 where identified (k >= p "
          "targets sharing X); with one target only Omega X^T y is (omega_not_identified in "
          "the stage summary)", kind="related",
          quote="we equivalently learn optimal encoding and decoding operations for predictors"),
    Claim("attention_regression.kernel_identity", AR_SECTION,
          "[second paper, exact algebra] softmax_j(x^T Omega x_j) is a Gaussian-kernel "
          "(Nadaraya-Watson) weight with metric Omega times exp(x_j^T Omega x_j / 2) per key",
          kind="related", quote="a similarity-based method in a transformed regressor space"),
    Claim("attention_regression.beats_ols_nonlinear", AR_SECTION,
          "[second paper] Attention Regression beats OLS on the nonlinear designs (paired t "
          "intervals over replicates)", kind="related",
          quote="The paper presents OLS as a form of non-linear Attention Regression"),
    Claim("attention_regression.close_to_ols_linear", AR_SECTION,
          "[second paper] Attention Regression stays close to OLS on the linear design",
          kind="related",
          quote="The paper presents OLS as a form of non-linear Attention Regression"),
    Claim("attention_regression.competitive_with_trees", AR_SECTION,
          "[second paper] Attention Regression is competitive with RF and GBM (pooled means in "
          "its README: AttReg 0.476, RF 0.454, GBM 0.418)", kind="related",
          quote="| Attention Regression (M=5) | 0.47565 | 0.476 | 0.48 |"),
    Claim("attention_regression.paper_digits", AR_SECTION,
          "[second paper, its printed numbers] On the paper's own seeds (its runs: base 42 and "
          "24, r = 0..4) OLS, RF and GBM reproduce each printed run mean to its 4 decimals plus "
          "the estimator's cross-platform noise (scope: the conditions run)", kind="related",
          quote="| OLS | 0.27876 | 0.279 | 0.28 |"),
    Claim("attention_regression.paper_equivalence", AR_SECTION,
          "[second paper, its printed numbers] On the paper's own seeds Attention Regression "
          "(and the MLP, the seed-24 run's 10-network average, where run) is equivalent to each "
          "printed run mean within the margin (TOST; scope: the conditions run)",
          kind="related", quote="| Attention Regression (M=5) | 0.47565 | 0.476 | 0.48 |"),
    Claim("attention_regression.paper_ranking", AR_SECTION,
          "[second paper] Pooled over its conditions the models rank MLP > Attention "
          "Regression > RF > GBM > OLS (scope: the conditions run, the models run)",
          kind="related", quote="| MLP (5 repeats, cell 2) | 0.53395 | 0.534 | 0.52 |"),
    Claim("attention_regression.paper_linear_gap", AR_SECTION,
          "[second paper] On the linear design OLS beats Attention Regression by more than 0.1 "
          "R^2 in 5 of its 16 conditions (reported: the count on the conditions run)",
          kind="related", quote="| OLS, Linear DGP only | 0.55660 | 0.557 | 0.56 |"),
    Claim("attention_regression.refit_rule_paired", AR_SECTION,
          "(ours) The paper's refit rule, which looks at the test set, where it fires: the fit "
          "kept against its first fit, paired (reported)", kind="extension"),
    Claim("attention_regression.train_r2_above_ceiling", AR_SECTION,
          "(ours) With each point attending to itself in training, Attention Regression's "
          "training R^2 exceeds the noise ceiling SNR / (1 + SNR): the fit sees its own label",
          kind="extension"),
)

# Every table some claim reads (the claims rule's inputs, where the workflow has them).
LEDGER_TABLES: tuple[str, ...] = tuple(sorted({t for s in STAGES.values() for t in s.tables}))


class StageCriteria(dict):  # type: ignore[type-arg]
    """A stage's criteria (``<section>.criteria``, what its checks read) with where each comes
    from (``origins``: ``<section>.criteria_origin``, criterion -> "<origin>: <why>"), which
    the ledger gives the checks that name their criterion (``checks.with_origins``)."""

    def __init__(self, criteria: Mapping[str, Any], origins: Mapping[str, str] | None = None):
        super().__init__(criteria)
        self.origins: dict[str, str] = dict(origins or {})


def criteria_from_config(config: Mapping[str, Any]) -> dict[str, Mapping[str, float]]:
    """Stage -> ``config[<its section>]['criteria']`` (a ``StageCriteria`` carrying the
    section's ``criteria_origin``), for the stages the config has."""
    return {stage: StageCriteria(config[section(stage)]["criteria"],
                                 config[section(stage)].get("criteria_origin", {}))
            for stage in STAGES if "criteria" in config.get(section(stage), {})}


def tables_among(outputs: Iterable[str], tables_dir: str,
                 names: Iterable[str] = LEDGER_TABLES) -> dict[str, str]:
    """{name: path} of the tables ``<tables_dir>/<name>.csv`` found among ``outputs`` (the
    workflow's output paths): the claims rule reads only the stages the workflow has."""
    outputs = set(outputs)
    paths = {name: f"{tables_dir}/{name}.csv" for name in names}
    return {name: path for name, path in paths.items() if path in outputs}


# ---- the ledger ------------------------------------------------------------------------------

def stage_checks(stage: str, tables: Tables, criteria: Criteria) -> dict[str, Check] | str:
    """The stage's judged checks by name (scope "all"), or why they are missing."""
    if stage not in criteria:
        return f"no criteria for stage '{stage}' (config '{stage}.criteria')"
    try:
        found = STAGES[stage].checks(tables, criteria[stage])
    except MissingInput as why:
        return str(why)
    found = with_origins(found, getattr(criteria[stage], "origins", {}))
    return {c.check: c for c in found if c.scope == ALL}


def _row(claim: Claim, check: Check | str) -> dict[str, Any]:
    base = {"claim_id": claim.claim_id, "kind": claim.kind, "section": claim.section,
            "quote": claim.quote, "claim": claim.claim, "headline_reading": "", "readings": "",
            "source": " + ".join(f"{t}.csv" for t in STAGES[claim.stage].tables)}
    if isinstance(check, str):
        return {**base, "estimate": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                "replicates": 0, "criterion": "", "threshold": math.nan,
                "threshold_origin": "", "verdict": MISSING, "decided_by": "",
                "share_holds": math.nan, "holds_where": "", "detail": check, "sense": ""}
    return {**base, "estimate": check.value, "ci_low": check.ci_low, "ci_high": check.ci_high,
            "replicates": int(check.replicates), "criterion": check.criterion,
            "threshold": check.threshold, "threshold_origin": check.origin,
            "verdict": check.verdict, "decided_by": check.decided_by,
            "share_holds": check.share_holds, "holds_where": check.holds_where,
            "detail": check.detail, "sense": check.sense}


def normalised(ledger: pd.DataFrame) -> pd.DataFrame:
    """``ledger`` with today's column names: an older ledger's ``measured`` / ``origin``
    renamed (``RENAMED``) and the columns it lacks filled in empty (``ADDED``), so readers of
    old ledgers (``show``, ``compare``, the README table, the overview figure) keep working."""
    ledger = ledger.rename(columns={old: new for old, new in RENAMED.items()
                                    if old in ledger.columns and new not in ledger.columns})
    for column, empty in ADDED.items():
        if column not in ledger.columns:
            ledger[column] = empty
    for column in ("holds_where", "decided_by", "threshold_origin", "quote", "sense",
                   "headline_reading", "readings"):
        ledger[column] = ledger[column].astype(object).fillna("")
    return ledger


def build_ledger(tables: Tables, criteria: Criteria,
                 claims: Iterable[Claim] = CLAIMS) -> pd.DataFrame:
    """One row per claim, in order: each the named check of its stage, run on ``tables``."""
    claims = tuple(claims)
    judged = {stage: stage_checks(stage, tables, criteria) for stage in {c.stage for c in claims}}
    rows = []
    for claim in claims:
        found = judged[claim.stage]
        if claim.readings:
            rows.append(_readings_row(claim, found))
        elif isinstance(found, dict):
            rows.append(_row(claim, found.get(
                claim.check, f"stage '{claim.stage}' has no check '{claim.check}'")))
        else:
            rows.append(_row(claim, found))
    return pd.DataFrame(rows, columns=COLUMNS)


def reading_verdict(verdicts: Mapping[str, str], headline: str) -> tuple[str, str]:
    """The row's verdict from its readings' (reading -> verdict, ``headline`` among them) and
    what decides it: the headline's verdict when every reading agrees ("" : the headline's
    check says what decides it); a MISSING headline stays MISSING; else CONDITIONAL, decided
    by the reading of the sentence."""
    if len(set(verdicts.values())) == 1:
        return verdicts[headline], ""
    if verdicts[headline] == MISSING:
        return MISSING, ""
    return CONDITIONAL, BY_READING


def _readings_row(claim: Claim, found: dict[str, Check] | str) -> dict[str, Any]:
    """A claim judged under each of its readings by that reading's check (scope "all"): the
    headline's numbers, the verdict per reading, CONDITIONAL where they disagree."""
    checks: dict[str, Check | str] = {}
    for reading in claim.readings:
        checks[reading.name] = (found.get(reading.check, f"stage '{claim.stage}' has no check "
                                          f"'{reading.check}'") if isinstance(found, dict)
                                else found)
    verdicts = {name: c.verdict if isinstance(c, Check) else MISSING
                for name, c in checks.items()}
    headline = claim.readings[0].name
    verdict, decided = reading_verdict(verdicts, headline)
    row = _row(claim, checks[headline])
    per = "; ".join(f"{name}: {v}" for name, v in verdicts.items())
    others = "; ".join(
        f"{r.name} ({r.check}): {c.detail if isinstance(c, Check) else c}"
        for r, c in zip(claim.readings[1:], list(checks.values())[1:], strict=True))
    row.update(verdict=verdict, headline_reading=headline, readings=per,
               detail=f"{row['detail']}; other readings: {others}" if others else row["detail"])
    if decided:
        row["decided_by"] = decided
    return row


def counts(ledger: pd.DataFrame) -> str:
    """'17 claims of the paper: 15 PASS, 1 CONDITIONAL, 1 FAIL, 0 MISSING' and the same for
    extensions (CONDITIONAL, INCONCLUSIVE and REPORTED shown where some row has them)."""
    parts = []
    for kind, label in (("paper", "claims of the paper"), ("extension", "extensions"),
                        ("related", "claims of the second paper")):
        rows = ledger[ledger["kind"] == kind]
        if len(rows):
            tally = rows["verdict"].value_counts()
            shown = [v for v in VERDICTS
                     if v not in (REPORTED, CONDITIONAL, INCONCLUSIVE) or tally.get(v, 0)]
            parts.append(f"{len(rows)} {label}: "
                         + ", ".join(f"{int(tally.get(v, 0))} {v}" for v in shown))
    return "; ".join(parts)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.4g}"
    return str(value).replace("|", "\\|")


def where_cell(row: Any) -> str:
    """'everywhere' / 'nowhere' / the region, with the share of alternatives where it holds;
    '' for a row not re-judged across alternatives."""
    if not isinstance(row.holds_where, str) or not row.holds_where:
        return ""
    share = row.share_holds
    return _cell(row.holds_where) + ("" if math.isnan(share) else f" ({share:.0%})")


def to_markdown(ledger: pd.DataFrame, title: str = "Claims ledger") -> str:
    """The ledger as a Markdown page: counts, one table per kind, then the details."""
    ledger = normalised(ledger)
    lines = [f"# {title}", "", counts(ledger) + ".",
             "", "Estimates of random measurements carry their 95% interval over replicates "
             "(seeds or data draws; the method and the seeds are in the details). A verdict is "
             "PASS only when the whole interval passes, FAIL when it wholly fails, INCONCLUSIVE "
             "when it straddles the threshold; CONDITIONAL: the readings of the paper's sentence "
             "disagree, or the verdict changes across a scientific choice (``decided by`` says "
             "which). A row is judged at its stated criterion; the tolerance that would flip it "
             "is a number (``holds where``), never a change of verdict."]
    for kind, heading in (("paper", "Claims of the paper"),
                          ("extension", "Beyond the paper (our extensions)"),
                          ("related", "The second paper's claims (OLS as an attention "
                                      "mechanism)")):
        rows = ledger[ledger["kind"] == kind]
        if rows.empty:
            continue
        lines += ["", f"## {heading}", "",
                  "| claim | section | estimate [95% interval] | criterion (threshold from) "
                  "| verdict | decided by | holds where | source |",
                  "|---|---|---|---|---|---|---|---|"]
        for row in rows.itertuples(index=False):
            verdict = row.verdict if row.verdict in (PASS, REPORTED) else f"**{row.verdict}**"
            said = f" The paper: \"{_cell(row.quote)}\"" if row.quote else ""
            origin = f" ({row.threshold_origin})" if row.threshold_origin else ""
            lines.append(f"| `{row.claim_id}`: {_cell(row.claim)}.{said} | {_cell(row.section)} "
                         f"| {interval_cell(row)} | {_cell(row.criterion)}{origin} | {verdict} "
                         f"| {_cell(row.decided_by)} | {where_cell(row)} | {_cell(row.source)} |")
    lines += readings_markdown(ledger)
    lines += ["", "## Details", ""]
    lines += [f"- `{row.claim_id}` ({row.verdict}): {row.detail}"
              for row in ledger.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def readings_markdown(ledger: pd.DataFrame,
                      claims: Iterable[Claim] = CLAIMS) -> list[str]:
    """The readings section: per row judged under readings, why the headline is the headline
    and, per reading, its verdict, the paper's words supporting it and its hypothesis."""
    declared = {c.claim_id: c for c in claims if c.readings}
    rows = [r for r in ledger.itertuples(index=False) if r.claim_id in declared]
    if not rows:
        return []
    lines = ["", "## Readings", "",
             "A row judged under several readings of the paper's sentence: its verdict is the "
             "headline reading's where every reading agrees, CONDITIONAL (decided by the "
             "reading of the sentence) where they disagree."]
    for row in rows:
        claim = declared[row.claim_id]
        verdicts = dict(part.split(": ", 1) for part in str(row.readings).split("; ")
                        if ": " in part)
        lines += ["", f"### `{row.claim_id}` ({row.verdict})", "",
                  f"Headline: {claim.readings[0].name}. Why: {claim.headline_why}", ""]
        lines += [f"- **{r.name}** ({verdicts.get(r.name, MISSING)}, check `{r.check}`): "
                  f"\"{r.support}\"; {r.hypothesis}" for r in claim.readings]
    return lines


def failed(ledger: pd.DataFrame) -> pd.DataFrame:
    """Rows that are judged and did not pass, nor flip with a choice: FAIL, MISSING and
    INCONCLUSIVE (undecided is never a pass); REPORTED rows are not judged."""
    return ledger[ledger["verdict"].isin([FAIL, MISSING, INCONCLUSIVE])]


def interval_cell(row: Any, digits: int = 4) -> str:
    """'0.2 [0.18, 0.22]' (the 95% interval over replicates), '0.2' without one, 'n/a'."""
    value = float(row.estimate)
    if math.isnan(value):
        return "n/a"
    low, high = float(row.ci_low), float(row.ci_high)
    text = f"{value:.{digits}g}"
    if math.isfinite(low) and math.isfinite(high):
        text += f" [{low:.{digits}g}, {high:.{digits}g}]"
    return text


# ---- estimates at rounding level (what `ols-transformer compare --check` allows to move) -------
# Claims whose estimate measures floating-point rounding: an error at the unit roundoff, a
# ratio of such errors, digits or a slope of them. Another CPU (or BLAS) rounds differently, so
# these move between machines by factors (identity_out_of_sample 0.126 -> 0.176) while their
# verdict holds; `compare --check` compares them by order of magnitude, every other estimate
# within its relative tolerance.
ROUNDING_ESTIMATES: frozenset[str] = frozenset({
    "proof.transformer_equals_ols", "proof.in_context_equals_ols", "proof.steps_hold",
    "proof.invariant_to_sequence_length", "proof.sigma_route_cond_squared",
    "proof.qr_cond_linear",
    "nist.fitted_digits_min", "nist.svd_scaled_fitted_digits", "nist.svd_scaled_near_lstsq",
    "nist.covariance_route_cond_law",
    "training.w_converges_to_w_star", "training.mse_at_noise_floor",
    "shift.eq10_holds",
    "attention_regression.identity_out_of_sample",
    "attention_regression.optimisation_recovers_ols", "attention_regression.omega_identified",
    "attention_regression.kernel_identity",
})
