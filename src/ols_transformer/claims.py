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
verdict rests on (``decided_by``) and is re-judged across alternatives to it
(``checks.across``): ``share_holds`` and ``holds_where`` say where it holds, and a verdict that
flips inside that family is CONDITIONAL, never PASS.

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
    CONDITIONAL,
    FAIL,
    INCONCLUSIVE,
    MISSING,
    PASS,
    REPORTED,
    VERDICTS,
    Check,
    MissingInput,
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
           "share_holds", "holds_where", "source", "detail", "sense"]
# Ledgers written before a column was renamed (old name -> new) or added (column -> empty).
RENAMED = {"measured": "estimate", "origin": "threshold_origin"}
ADDED: dict[str, Any] = {"ci_low": math.nan, "ci_high": math.nan, "replicates": 0,
                         "decided_by": "", "holds_where": "", "share_holds": math.nan,
                         "threshold_origin": "", "quote": "", "sense": ""}


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
    "hopfield": Stage(("hopfield_capacity",),
                      lambda t, c: hopfield_checks.checks(t.get("hopfield_capacity"), c)),
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
        return self.check_name or self.claim_id.split(".", 1)[1]


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

CLAIMS: tuple[Claim, ...] = (
    Claim("proof.transformer_equals_ols", "Sec. 2.1 (theorem)",
          "The single-layer linear OLS-Transformer (eq. 8) predicts the OLS prediction; in "
          "floating point to rounding, c cond(X)^2 u, on every cond(X) and dtype",
          quote="there exists a parameter configuration such that the Transformer’s forward "
                "pass is equivalent to the OLS projection"),
    Claim("proof.in_context_equals_ols", "Sec. 2.2 (eq. 5)",
          "In context, x_q^T W W^T (1/n) sum_i x_i y_i equals x_q^T beta_hat; in floating "
          "point to rounding, c cond(X)^2 u, on every cond(X) and dtype",
          quote="the above equation’s form suggests a direct attention-like computation"),
    Claim("proof.steps_hold", "Sec. 2.2 (eqs. 3-7)",
          "W W^T = Sigma^-1, beta_hat = W c, and the attention scores are the hat matrix "
          "(float64, to rounding n p eps cond(X)^2)",
          quote="By construction, the inverse of the covariance matrix can be expressed as"),
    Claim("proof.invariant_to_sequence_length", "Sec. 2.1 (eq. 2)",
          "With every context pair duplicated (n -> 2n), the 1/n factor leaves the "
          "OLS-Transformer's prediction unchanged to rounding (both forms)",
          quote="The factor serves as a normalization constant ensuring the attention energy "
                "remains invariant to the sequence length"),
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
          "digit of numpy's lstsq on every StRD dataset (the row says where it misses, by how "
          "much)", kind="extension"),
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
          quote="the learnable scalar converging precisely to the theoretical value"),
    Claim("training.aligned_and_monotone", "Sec. 2.3 (Fig. 1a)",
          "Near Adam's default step (lr ~ 1e-3 w*, w0 ~ 0.1 w*: the paper's setting as we read "
          "it, eq. 8) the training MSE and the distance to OLS decay monotonically and the model "
          "aligns with OLS within ~1000 epochs; 'holds where' gives the region of (lr/w*, w0/w*) "
          "where it does, per form, from the sweep",
          quote="exhibit a synchronized monotonic decay. Notably, the functional alignment "
                "occurs rapidly within the first 1000 epochs"),
    Claim("training.mse_at_noise_floor", "Sec. 2.3 (Fig. 1a)",
          "The training MSE settles at the noise floor (the OLS residual MSE)",
          quote="the MSE stabilizes at the noise floor"),
    Claim("training.endpoint_stable", "Sec. 2.3",
          "w* is a stable endpoint: w moved from it by +-10% and +-50% trains back to it",
          quote="whether this configuration is a reachable and stable endpoint under standard "
                "gradient-based optimization"),
    Claim("training_sweep.alignment_region_eq8", "Sec. 2.3, sensitivity (ours)",
          "Where in (lr/w*, w0/w*) the eq.-8 model aligns within 1000 epochs with no MSE rise",
          kind="extension"),
    Claim("training_sweep.alignment_region_eq5", "Sec. 2.3, sensitivity (ours)",
          "Where in (lr/w*, w0/w*) the eq.-5 model aligns within 1000 epochs with no MSE rise",
          kind="extension"),
    Claim("shift.no_shift_recovers_ols", "Sec. 3",
          "With Sigma_te = Sigma_tr the OLS-Transformer recovers static OLS only as the context "
          "grows: its excess error over static OLS falls like m^(-1/2) (the m where the two "
          "agree within 10% is in the detail)", check_name="no_shift_gap_slope",
          quote="when the inference environment’s covariance structure is consistent with that "
                "of the training environment, the middle term , and the model accurately "
                "recovers the OLS analytical solution"),
    Claim("shift.eq10_holds", "Sec. 3 (eq. 10)",
          "In context the model predicts X' Sigma_tr^-1 Sigma_te beta + "
          "(1/m) X' Sigma_tr^-1 X'^T eps'", check_name="eq10_identity",
          quote="Substituting the underlying relationship yields"),
    Claim("shift.distortion_is_sigma_tr_inv_sigma_te", "Sec. 3",
          "Under covariance shift the model's distortion ||D - I||_F follows the predicted "
          "D = Sigma_tr^-1 Sigma_te (slope of measured on predicted near 1, at the largest m)",
          check_name="distortion_agreement",
          quote="when the distribution of deviates from , the prediction results will be "
                "linearly distorted by the term"),
    Claim("shift.static_ols_undistorted", "Sec. 3",
          "Static OLS (X' beta_hat_tr) is not distorted by the shift: its error stays at its "
          "O(1/n) sampling theory",
          quote="This logic is entirely fixed and does not change with the distribution of the "
                "inference set"),
    Claim("hopfield.linear_capacity_linear", "Sec. 5",
          "The OLS-Transformer's attention, used as an associative memory (slow memory "
          "Sigma^+, the projection rule, exact recall), has a capacity linear in N",
          quote="we elucidate its linear associative memory capacity as a quadratic Hopfield "
                "prototype"),
    Claim("hopfield.linear_capacity_hebbian", "Sec. 1 (contribution 3)",
          "Hebbian linear attention (the quadratic energy) has a capacity linear in N (c N fits "
          "better than c N / ln N) under an overlap criterion of recall; under exact recall its "
          "law is N / (2 ln N) (McEliece et al. 1987): 'holds where' says under which criteria "
          "(exact; overlap 0.99, 0.95, 0.9) the paper's 'linear' holds",
          quote="achieving a breakthrough in memory capacity from linear to exponential scale"),
    Claim("hopfield.attention_is_hopfield_network", "Sec. 4",
          "The OLS-Transformer's attention, as a memory, is the original (Hebbian) Hopfield "
          "network, its capacity the Hebbian rule's within a factor at every N; it is not: its "
          "slow memory Sigma^+ makes it the projection rule, whose capacity ratio to the "
          "Hebbian rule grows with N",
          quote="In the OLS-Transformer, the attention mechanism is essentially the original "
                "Hopfield network generalized to continuous states"),
    Claim("hopfield.projection_over_hebbian", "Sec. 4 (ours)",
          "The OLS-Transformer's memory stores several times what the Hebbian rule stores",
          kind="extension"),
    Claim("hopfield.classical_capacity_amit", "Sec. 4",
          "The classical Hopfield network stores about 0.14 N patterns (the paper's ref. [7] "
          "is Hopfield 1982, ~0.15 N; its number is lost in the paper's text; 0.138 N is Amit "
          "et al. 1985's), under every fit form of the finite-size correction and at the "
          "largest N; the overlap criterion of recall (0.99, 0.95, 0.9) is varied",
          quote="the memory capacity of the original Hopfield network was quite limited"),
    Claim("hopfield.exponential_capacity_exponential", "Sec. 4",
          "Capacity grows exponentially in N for the exponential energy",
          quote="Demircigil et al. further transitioned the energy function from a power "
                "function to an exponential form, allowing the memory capacity to reach the "
                "order of [5]"),
    Claim("hopfield.exponential_rate_theory", "Sec. 4",
          "The exponential energy's capacity grows at Demircigil et al.'s rate or faster "
          "(2^(N/2) at rho = 0) and no faster than a nearest-neighbour decoder's (I(1 - 2 rho) "
          "= 0.193 at rho = 0.2 asymptotically; its rate on the N fitted, from above), fitted "
          "on the N where C > 1 (N >= 25)",
          quote="allowing the memory capacity to reach the order of [5]"),
    Claim("hopfield.softmax_capacity_exponential", "Sec. 1 (contribution 3)",
          "Capacity grows exponentially in N for softmax attention (modern Hopfield), at a "
          "fixed inverse temperature, iterated to a fixed point",
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
          "A degree-n energy F(x) = x^n raises the capacity to the order of N^(n-1)",
          quote="By changing this function to a higher-order power function, such as a "
                "polynomial of degree , the memory capacity of the Hopfield network can be "
                "increased to the order of [9]"),
    Claim("hopfield.growth_order", "Abstract",
          "Capacity grows linear < polynomial < exponential along Section 4's energies",
          quote="the transition of the Hopfield energy function from linear to exponential "
                "memory capacity"),
    # Beyond the paper: does training find the OLS-Transformer? (stage icl)
    Claim("icl.gamma_matches_gamma_star", ICL_SECTION,
          "One layer of linear self-attention, trained on in-context regression, learns the "
          "optimal preconditioner Gamma* = ((1 + 1/N) Lambda + (tr Lambda + sigma^2)/N I)^-1, "
          "not the OLS-Transformer's Lambda^-1, at every context size N (judged on its distance "
          "to Gamma* relative to the gap from Gamma* to Lambda^-1)", kind="extension"),
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
          "relative error stays near its no-shift error", kind="extension"),
    Claim("icl.softmax_enhances_robustness", "Sec. 5 (conclusion)",
          "Softmax attention (one layer, learned scale), trained on the same tasks, grows less "
          "under shift than the one-layer linear model at equal or better no-shift risk",
          quote=ROBUSTNESS_QUOTE),
    Claim("icl.multi_head_enhances_robustness", "Sec. 5 (conclusion)",
          "Two-head linear attention, trained on the same tasks, grows less under shift than the "
          "one-layer linear model at equal or better no-shift risk", quote=ROBUSTNESS_QUOTE),
    Claim("icl.mlp_enhances_robustness", "Sec. 5 (conclusion)",
          "Linear attention followed by a GELU MLP (a nonlinear activation), trained on the same "
          "tasks, grows less under shift than the one-layer linear model at equal or better "
          "no-shift risk", quote=ROBUSTNESS_QUOTE),
    Claim("icl.stacking_enhances_robustness", "Sec. 5 (conclusion)",
          "Stacked linear attention as standard Transformers stack layers (pre-norm LayerNorm "
          "and residual connections, L = 2..4), trained on the same tasks, grows less under "
          "shift than the one-layer linear model at equal or better no-shift risk",
          quote=ROBUSTNESS_QUOTE),
    Claim("icl.plain_stacking_enhances_robustness", ICL_SECTION,
          "Bare stacked linear attention (no normalisation, no residual; L >= 2), trained on the "
          "same tasks, grows less under shift than the one-layer linear model at equal or better "
          "no-shift risk (not the paper's sentence, which names modern, normalised designs: an "
          "L-layer bare stack is a polynomial of degree 3^L in its tokens)", kind="extension"),
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


def criteria_from_config(config: Mapping[str, Any]) -> dict[str, Mapping[str, float]]:
    """Stage -> ``config[<its section>]['criteria']``, for the stages the config has."""
    return {stage: config[section(stage)]["criteria"] for stage in STAGES
            if "criteria" in config.get(section(stage), {})}


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
    return {c.check: c for c in found if c.scope == ALL}


def _row(claim: Claim, check: Check | str) -> dict[str, Any]:
    base = {"claim_id": claim.claim_id, "kind": claim.kind, "section": claim.section,
            "quote": claim.quote, "claim": claim.claim,
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
    for column in ("holds_where", "decided_by", "threshold_origin", "quote", "sense"):
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
        if isinstance(found, dict):
            rows.append(_row(claim, found.get(
                claim.check, f"stage '{claim.stage}' has no check '{claim.check}'")))
        else:
            rows.append(_row(claim, found))
    return pd.DataFrame(rows, columns=COLUMNS)


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
             "when it straddles the threshold; CONDITIONAL: it changes across the choice that "
             "decides the row (``decided by``)."]
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
    lines += ["", "## Details", ""]
    lines += [f"- `{row.claim_id}` ({row.verdict}): {row.detail}"
              for row in ledger.itertuples(index=False)]
    return "\n".join(lines) + "\n"


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
