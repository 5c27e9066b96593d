"""Trained transformers on in-context regression (experiments/icl*.py) against independent
computation: the one-layer optimum Gamma* against a Monte Carlo minimisation of the risk, the
baselines against numpy and closed forms, every model's forward pass against a loop over tokens,
the moment path against the token path and construction.py's attention, the preconditioner read
from the weights, the training loop (early stopping, per-model budgets), the checks on
hand-built tables (PASS, CONDITIONAL, FAIL), validation, divergence and determinism."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from ols_transformer import checks, icl_models, icl_theory, icl_training
from ols_transformer.checks import icl as icl_checks
from ols_transformer.config import icl_lsa_groups, icl_part_tables, icl_parts, icl_problems
from ols_transformer.construction import (
    moment_attention_map,
    second_moment,
    shared_attention_map,
)
from ols_transformer.experiments import icl
from ols_transformer.plots import icl as plots


def summarize(tables, criteria):
    """The icl stage's summary, as its script writes it."""
    return checks.frame(icl_checks.checks(tables, criteria))

TINY: dict[str, Any] = {
    "device": "cpu", "d": 3, "noise_sigma": 0.5,
    "lambdas": {"isotropic": {"largest": 1.0, "smallest": 1.0},
                "anisotropic": {"largest": 1.0, "smallest": 0.25}},
    "context_sizes": [8, 16], "depths": [1, 2], "seeds": [0], "population_seed": 7,
    "steps": 400, "batch_size": 64, "learning_rate": 0.02, "init_scale": 0.1, "grad_clip": 0.3,
    "test_tasks": 1000, "eval_every": 50, "patience": 3, "validation_tasks": 300,
    "designs": ["softmax", "multi_head", "mlp"], "heads": 2, "mlp_width": 8,
    "sensitivity": {"lambda": "anisotropic", "context_sizes": [8], "depths": [1, 2],
                    "seeds": [0], "steps": [200], "learning_rates": [], "inits": ["random"],
                    "grad_clips": []},
    "shift": {"lambda": "anisotropic", "context_size": 16,
              "families": {"isotropic_scale": [1.0, 4.0], "rotation": [0.0, 90.0],
                           "task_scale": [0.25, 1.0, 4.0]}},
    "criteria": {},
}


def tiny(**changes: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(TINY)
    cfg.update(changes)
    return cfg


@pytest.fixture(scope="module")
def tiny_run() -> dict[str, pd.DataFrame]:
    torch.set_num_threads(1)
    return icl.run(tiny())


def random_layers(rng: np.random.Generator, depth: int, p: int,
                  scale: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
    """Full random W_KQ, W_PV: every block nonzero (the read-out must not rely on zeros)."""
    return (torch.from_numpy(scale * rng.standard_normal((depth, p, p))),
            torch.from_numpy(scale * rng.standard_normal((depth, p, p))))


# ---- Gamma* and the baselines ----------------------------------------------------------------

def test_gamma_star_is_the_monte_carlo_minimiser_of_the_risk() -> None:
    """The risk of x_q^T Gamma h is quadratic in Gamma: its minimiser over sampled tasks is the
    least-squares fit of y_q on the features vec(x_q h^T). It must agree with the closed form
    within its Monte Carlo error, and be told apart from the OLS-Transformer's Lambda^-1."""
    lam, N, sigma, d = np.array([1.0, 0.5, 0.2]), 6, 0.5, 3
    rng = np.random.default_rng(11)
    fits = []
    for _ in range(8):  # independent batches: the spread of their minimisers is the MC error
        tasks = icl_theory.draw_tasks(rng, lam, N, sigma, 60_000)
        h = np.einsum("bnd,bn->bd", tasks.X, tasks.y) / N
        features = np.einsum("bi,bj->bij", tasks.xq, h).reshape(len(h), d * d)
        fits.append(np.linalg.lstsq(features, tasks.yq, rcond=None)[0].reshape(d, d))
    fits = np.array(fits)
    estimate, error = fits.mean(0), fits.std(0, ddof=1) / np.sqrt(len(fits))
    star = icl_theory.gamma_star(lam, N, sigma)
    assert np.all(np.abs(estimate - star) <= 4 * error + 1e-12)
    assert np.max(np.abs(np.linalg.inv(np.diag(lam)) - star) / error) > 50  # discriminating
    # The example: d = 5, N = 20, Lambda geometric 1..0.1, sigma = 0.5.
    example = icl_theory.gamma_star(np.geomspace(1, 0.1, 5), 20, 0.5)
    assert example[-1, -1] == pytest.approx(4.4, abs=0.05)


def test_closed_form_risks_match_monte_carlo() -> None:
    lam, N, sigma = np.array([1.0, 0.4, 0.1]), 10, 0.7
    tasks = icl_theory.draw_tasks(np.random.default_rng(3), lam, N, sigma, 200_000)
    h = np.einsum("bnd,bn->bd", tasks.X, tasks.y) / N
    for gamma in (icl_theory.gamma_star(lam, N, sigma), np.diag(1 / lam), np.eye(3)):
        err = (np.einsum("bi,ij,bj->b", tasks.xq, gamma, h) - tasks.truth) ** 2
        assert abs(err.mean() - icl_theory.gamma_excess_risk(gamma, lam, N, sigma)) \
            <= 4 * err.std() / np.sqrt(len(err))
    coef = icl_theory.context_ols(tasks.X, tasks.y)
    err = np.einsum("bd,bd->b", tasks.xq, coef - tasks.w) ** 2
    assert abs(err.mean() - icl_theory.ols_excess_risk(3, N, sigma)) \
        <= 4 * err.std() / np.sqrt(len(err))


def test_context_ols_and_ridge_against_numpy() -> None:
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((20, 9, 4)), rng.standard_normal((20, 9))
    ols = icl_theory.context_ols(X, y)
    for b in range(len(X)):
        np.testing.assert_allclose(ols[b], np.linalg.lstsq(X[b], y[b], rcond=None)[0],
                                   rtol=1e-10, atol=1e-12)
    sigma = 0.6
    fit = icl_theory.ridge(X, y, sigma**2)
    for b in range(len(X)):
        # ridge as least squares on the data augmented by sigma I rows: a different route
        aug_X = np.vstack([X[b], sigma * np.eye(4)])
        aug_y = np.concatenate([y[b], np.zeros(4)])
        np.testing.assert_allclose(fit[b], np.linalg.lstsq(aug_X, aug_y, rcond=None)[0],
                                   rtol=1e-10, atol=1e-12)


def test_ridge_is_the_best_predictor_on_shared_tasks() -> None:
    """Ridge with lambda = sigma^2 is the posterior mean: no other predictor beats it."""
    lam, N, sigma = np.array([1.0, 0.3, 0.1]), 8, 0.5
    tasks = icl_theory.draw_tasks(np.random.default_rng(8), lam, N, sigma, 100_000)

    def risk(coef: np.ndarray) -> float:
        return float(np.mean(np.einsum("bd,bd->b", tasks.xq, coef - tasks.w) ** 2))

    best = risk(icl_theory.ridge(tasks.X, tasks.y, sigma**2))
    for penalty in (0.0, 0.5 * sigma**2, 2 * sigma**2):
        assert risk(icl_theory.ridge(tasks.X, tasks.y, penalty)) > best


def test_pgd_polynomial_is_gradient_descent() -> None:
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((30, 12, 3)), rng.standard_normal((30, 12))
    gamma = np.diag([1.0, 0.5, 2.0]) + 0.1
    for steps, eta in ((1, 1.0), (3, 0.4), (4, 1.3)):
        w = np.zeros((30, 3))
        for _ in range(steps):
            grad = np.einsum("bnd,bn->bd", X, np.einsum("bnd,bd->bn", X, w) - y) / 12
            w = w - eta * grad @ gamma.T
        P = icl_theory.pgd_polynomial(X, y, gamma, steps)
        np.testing.assert_allclose(icl_theory.pgd_weights(P, eta), w, rtol=1e-10, atol=1e-12)


# ---- the model -------------------------------------------------------------------------------

def numpy_lsa(context: np.ndarray, query: np.ndarray, K: np.ndarray, V: np.ndarray) -> float:
    """The LSA stack token by token: z_j <- z_j + (1/N) sum_i (z_j K z_i^T) z_i V."""
    Z = np.vstack([context, query])
    n = len(context)
    for Kl, Vl in zip(K, V, strict=True):
        Z = Z + np.array([sum((z @ Kl @ zi) * (zi @ Vl) for zi in Z[:n]) for z in Z]) / n
    return -Z[n, -1]


def test_lsa_forward_is_construction_attention_and_the_moment_path() -> None:
    rng = np.random.default_rng(4)
    lam, N = np.array([1.0, 0.5, 0.25]), 7
    tasks = icl_theory.draw_tasks(rng, lam, N, 0.3, 5)
    context, queries = tasks.context(), tasks.queries()
    for depth in (1, 2, 3):
        K, V = random_layers(rng, depth, 4)
        tokens = icl_models.lsa_predict(context, queries, K, V)[:, 0].numpy()
        by_hand = [numpy_lsa(context[b].numpy(), queries[b].numpy(), K.numpy(), V.numpy())
                   for b in range(5)]
        np.testing.assert_allclose(tokens, by_hand, rtol=1e-10, atol=1e-12)
        moment = icl.lsa_test_predict(second_moment(context), tasks, K, V)
        np.testing.assert_allclose(moment, tokens, rtol=1e-9, atol=1e-12)
        # batched over models (the training layout): the same coefficients
        u = icl_models.lsa_coefficients(second_moment(context).expand(2, -1, -1, -1),
                                 torch.stack([K, 2 * K]), torch.stack([V, V]))
        np.testing.assert_allclose(np.einsum("bd,bd->b", tasks.xq, u[0].numpy()), tokens,
                                   rtol=1e-9, atol=1e-12)


def test_shared_attention_map_is_moment_attention_map() -> None:
    rng = np.random.default_rng(9)
    S = torch.from_numpy(rng.standard_normal((3, 5, 4, 4)))
    W_Q, W_V = (torch.from_numpy(rng.standard_normal((3, 4, k))) for k in (4, 2))
    np.testing.assert_allclose(shared_attention_map(S, W_Q, W_V),
                               moment_attention_map(S, W_Q[:, None], None, W_V[:, None]),
                               rtol=1e-12, atol=1e-12)


def test_gamma_read_from_the_weights() -> None:
    rng = np.random.default_rng(6)
    lam, N = np.array([1.0, 0.5, 0.25]), 9
    tasks = icl_theory.draw_tasks(rng, lam, N, 0.5, 50)
    h = np.einsum("bnd,bn->bd", tasks.X, tasks.y) / N
    gamma = rng.standard_normal((3, 3))  # not symmetric: the transpose matters
    K, V = icl_models.gamma_weights(torch.from_numpy(gamma))
    np.testing.assert_allclose(icl_models.read_gamma(K[0], V[0]).numpy(), gamma, rtol=0, atol=0)
    pred = icl_models.lsa_predict(tasks.context(), tasks.queries(), K, V)[:, 0].numpy()
    np.testing.assert_allclose(pred, np.einsum("bi,ij,bj->b", tasks.xq, gamma, h), rtol=1e-10,
                               atol=1e-12)
    # Full random weights: x_q^T Gamma h plus the two nuisance terms is the whole prediction.
    K, V = random_layers(rng, 1, 4)
    S = second_moment(tasks.context()).numpy()
    Kx, ky = K[0, :3, :3].numpy(), K[0, :3, 3].numpy()
    vx, vy = V[0, :3, 3].numpy(), float(V[0, 3, 3])
    nuisance = -(np.einsum("ij,bjk,k->bi", Kx, S[:, :3, :3], vx)
                 + np.einsum("i,b->bi", ky, S[:, 3, 3]) * vy)
    expected = (np.einsum("bi,ij,bj->b", tasks.xq, icl_models.read_gamma(K[0], V[0]).numpy(), h)
                + np.einsum("bi,bi->b", tasks.xq, nuisance))
    pred = icl_models.lsa_predict(tasks.context(), tasks.queries(), K, V)[:, 0].numpy()
    np.testing.assert_allclose(pred, expected, rtol=1e-10, atol=1e-12)


def test_wishart_moments_have_the_token_distribution() -> None:
    """Bartlett draws of S = Z^T Z / N against S computed from drawn tokens: the same mean and
    the same elementwise second moments, within Monte Carlo error."""
    lam, N, sigma, count = np.array([1.0, 0.3]), 6, 0.5, 200_000
    rng = np.random.default_rng(12)
    draws = torch.from_numpy(icl_theory.moment_draws(rng, N, count, 2))
    S_b, _ = icl_theory.wishart_moments(draws, torch.tensor(lam)[None], torch.tensor([[float(N)]]),
                                 sigma)
    tasks = icl_theory.draw_tasks(rng, lam, N, sigma, count)
    S_t = second_moment(tasks.context())
    for stat in (lambda S: S, lambda S: S * S):
        a, b = stat(S_b).numpy(), stat(S_t).numpy()
        gap = np.abs(a.mean(0) - b.mean(0))
        error = np.sqrt(a.var(0) / count + b.var(0) / count)
        assert np.all(gap <= 5 * error)
    # exact: E S = [[Lambda, 0], [0, tr Lambda + sigma^2]]
    expected = np.diag([*lam, lam.sum() + sigma**2])
    assert np.all(np.abs(S_b.numpy().mean(0) - expected) <= 5 * np.sqrt(S_b.numpy().var(0)
                                                                         / count))


# ---- training, the stage, its checks ---------------------------------------------------------

def test_short_training_reaches_gamma_star(tiny_run: dict[str, pd.DataFrame]) -> None:
    pre = tiny_run["icl_preconditioner"]
    assert set(zip(pre["lambda"], pre["N"], strict=True)) == {
        (name, N) for name in TINY["lambdas"] for N in TINY["context_sizes"]}
    assert pre["dist_to_gamma_star"].max() < 0.1
    assert (pre["dist_to_inverse"] > 2 * pre["dist_to_gamma_star"]).all()
    # the learned matrix in the table is Gamma* up to that distance, entry by entry
    row = pre.iloc[0]
    lam = icl_theory.eigenvalues(TINY["lambdas"][row["lambda"]], 3)
    star = icl_theory.gamma_star(lam, int(row["N"]), 0.5)
    learned = np.array([[row[f"learned_{i}_{j}"] for j in range(3)] for i in range(3)])
    assert np.linalg.norm(learned - star) / np.linalg.norm(star) == pytest.approx(
        row["dist_to_gamma_star"])
    risk = tiny_run["icl_risk"]
    one = risk[(risk["model"] == "lsa") & (risk["depth"] == 1)].set_index(["lambda", "N"])
    star_risk = risk[risk["model"] == "gamma_star"].set_index(["lambda", "N"])
    ratio = one["excess_risk"] / star_risk["excess_risk"]
    assert ratio.between(0.95, 1.1).all()
    # each trained stack stands next to its L-step PGD, and records the steps it used
    lsa = risk[risk["model"] == "lsa"].set_index(["lambda", "N", "depth"])
    pgd = risk[risk["model"] == "pgd"].set_index(["lambda", "N", "depth"])
    np.testing.assert_array_equal(lsa["pgd_excess_risk"], pgd.loc[lsa.index, "excess_risk"])
    assert lsa["steps_used"].between(TINY["eval_every"], TINY["steps"]).all()
    assert (lsa["best_step"] <= lsa["steps_used"]).all()


def test_stage_is_deterministic(tiny_run: dict[str, pd.DataFrame]) -> None:
    again = icl.run(tiny())
    for name, table in tiny_run.items():
        pd.testing.assert_frame_equal(again[name], table, check_exact=True)


def test_checks_of_the_tiny_run(tiny_run: dict[str, pd.DataFrame]) -> None:
    summary = summarize(tiny_run, {})
    judged = summary[summary["scope"] == checks.ALL].set_index("check")
    assert set(icl_checks.NAMES) <= set(judged.index)
    assert judged.loc["risk_above_ridge", "verdict"] == checks.PASS
    # re-judged across the sensitivity grid: the main run and each variant and seed
    assert "re-judged across the sensitivity grid" in judged.loc["risk_above_ridge", "detail"]
    # a table edited to break a criterion fails the check; an absent one is MISSING
    broken = dict(tiny_run)
    broken["icl_preconditioner"] = tiny_run["icl_preconditioner"].assign(gamma_gap_ratio=1.0)
    again = summarize(broken, {}).set_index("check")
    assert again.loc["gamma_matches_gamma_star", "verdict"] in (checks.FAIL, checks.CONDITIONAL)
    assert "main run" not in again.loc["gamma_matches_gamma_star", "holds_where"]
    missing = summarize({}, None)
    assert set(missing["verdict"]) == {checks.MISSING}
    assert set(missing["check"]) == set(icl_checks.NAMES)
    with pytest.raises(KeyError, match="nonsense"):
        summarize(tiny_run, {"nonsense": 1.0})


def test_shift_table(tiny_run: dict[str, pd.DataFrame]) -> None:
    shift = tiny_run["icl_shift"]
    # eq. 10 for the OLS-Transformer: zero without shift, (c - 1) sqrt(...) = c - 1 at scale c
    still = shift[shift["no_shift"].astype(bool)]
    assert np.allclose(still.loc[still["family"] != "task_scale", "eq10_predicted"], 0)
    scaled = shift[(shift["family"] == "isotropic_scale") & (shift["magnitude"] == 4.0)]
    assert np.allclose(scaled["eq10_predicted"], 3.0)
    # in-context OLS is unbiased under any covariate shift: it does not blow up like the LSA
    one = shift[(shift["model"] == "lsa") & (shift["depth"] == 1)].set_index(
        ["family", "magnitude"])["relerr"]
    ols = shift[shift["model"] == "context_ols"].set_index(["family", "magnitude"])["relerr"]
    assert one[("isotropic_scale", 4.0)] > 2 * one[("isotropic_scale", 1.0)]
    assert ols[("isotropic_scale", 4.0)] < ols[("isotropic_scale", 1.0)] * 1.5


def test_figures_draw_the_tables(tiny_run: dict[str, pd.DataFrame]) -> None:
    figures = plots.figures(tiny_run)
    assert set(figures) == {"risk", "preconditioner", "depth", "shift", "training", "designs"}
    # the designs figure: the softmax line of the first family is its error growth, written
    # out here: mean relative error per magnitude over the mean at the no-shift magnitude
    shift = tiny_run["icl_shift"]
    family = shift["family"].iloc[0]
    rows = shift[(shift["family"] == family) & (shift["model"] == "softmax")]
    magnitudes = sorted(set(rows["magnitude"]))
    still = rows.loc[rows["magnitude"] == icl_checks.NO_SHIFT[family], "relerr"].to_numpy()
    expected = np.array([rows.loc[rows["magnitude"] == t, "relerr"].to_numpy().mean()
                         for t in magnitudes]) / still.mean()
    assert len(magnitudes) > 1 and not np.allclose(expected, 1.0)  # a growth to draw
    assert set(tiny_run["icl_growth"]["model"]) >= {"lsa", "softmax"}
    lines = {line.get_label(): line for line in figures["designs"].axes[0].get_lines()}
    line = lines[plots.DESIGN_STYLE["softmax"][0]]
    np.testing.assert_allclose(line.get_xdata(), magnitudes)
    np.testing.assert_allclose(line.get_ydata(), expected, rtol=1e-12)
    # the training figure: one panel per model trained at the designs' setting (shift.lambda,
    # shift.context_size), each seed's train and validation curves exactly the table's rows
    training = tiny_run["icl_training"]
    at = training[(training["lambda"] == TINY["shift"]["lambda"])
                  & (training["N"] == TINY["shift"]["context_size"])]
    titles = {f"linear, L = {L}": ("lsa", L) for L in TINY["depths"]}
    titles.update({label: (design, 1) for design, (label, _, _) in plots.DESIGN_STYLE.items()})
    axes = figures["training"].axes
    assert sorted(titles[ax.get_title()] for ax in axes) == sorted(
        set(zip(at["model"], at["depth"], strict=True)))
    for ax in axes:
        model, depth = titles[ax.get_title()]
        drawn = {line.get_label(): (tuple(line.get_xdata()), tuple(line.get_ydata()))
                 for line in ax.get_lines()}
        expected = {}
        for seed, rows in at[(at["model"] == model) & (at["depth"] == depth)].groupby("seed"):
            rows = rows.sort_values("step")
            steps = tuple(rows["step"])
            expected[f"seed {seed} train"] = (steps, tuple(rows["train_loss"]))
            expected[f"seed {seed} validation"] = (steps, tuple(rows["valid_loss"]))
        assert drawn == expected, ax.get_title()


def early_stopping(valid: np.ndarray, patience: int) -> tuple[int, int | None]:
    """The rule of icl_training written out on one model's validation losses (one per
    evaluation): the index of the kept evaluation (the last that beat the best so far by the
    factor 1 - MIN_DELTA), and that of the evaluation where patience ran out (None: never)."""
    best, kept, waited = math.inf, -1, 0
    for i, loss in enumerate(valid):
        if loss < best * (1 - icl_training.MIN_DELTA):
            best, kept, waited = loss, i, 0
        else:
            waited += 1
            if waited >= patience:
                return kept, i
    return kept, None


def test_validation_loss_is_what_early_stopping_kept_the_model_on(
        tiny_run: dict[str, pd.DataFrame]) -> None:
    """icl_training's valid_loss is the loss early stopping judged: the early-stopping rule
    replayed on each model's column gives icl_risk's best_step and steps_used; and at the kept
    step, a one-layer model's validation loss is its excess risk, the closed form of the learned
    Gamma (icl_theory.gamma_excess_risk) within the Monte Carlo error of the validation tasks."""
    training, risk = tiny_run["icl_training"], tiny_run["icl_risk"]
    keys = ["lambda", "N", "model", "depth", "seed"]
    trained = risk[risk["steps_used"].notna()].set_index(keys)
    histories = dict(list(training.groupby(keys)))
    assert set(histories) == set(trained.index)
    for key, rows in histories.items():
        rows = rows.sort_values("step")
        steps = rows["step"].to_numpy()
        np.testing.assert_array_equal(np.diff(steps), TINY["eval_every"])
        kept, ran_out = early_stopping(rows["valid_loss"].to_numpy(), TINY["patience"])
        assert trained.loc[key, "best_step"] == steps[kept], key
        # stopped where patience ran out, else at its cap: the history ends where it stopped
        assert trained.loc[key, "steps_used"] == steps[-1], key
        assert ran_out is None or ran_out == len(steps) - 1, key
    rng = np.random.default_rng(0)
    pre = tiny_run["icl_preconditioner"]
    for _, row in pre.iterrows():
        name, N = row["lambda"], int(row["N"])
        lam = icl_theory.eigenvalues(TINY["lambdas"][name], 3)
        gamma = np.array([[row[f"learned_{i}_{j}"] for j in range(3)] for i in range(3)])
        expected = icl_theory.gamma_excess_risk(gamma, lam, N, TINY["noise_sigma"])
        key = (name, N, "lsa", 1, row["seed"])
        history = histories[key].set_index("step")
        valid = history.loc[trained.loc[key, "best_step"], "valid_loss"]
        # the spread of one task's excess risk (w - Gamma h)^T Lambda (w - Gamma h), sampled
        tasks = icl_theory.draw_tasks(rng, lam, N, TINY["noise_sigma"], 20_000)
        h = np.einsum("bnd,bn->bd", tasks.X, tasks.y) / N
        gap = tasks.w - h @ gamma.T
        spread = np.einsum("bd,d,bd->b", gap, lam, gap).std()
        tolerance = 5 * spread / math.sqrt(TINY["validation_tasks"])
        assert abs(valid - expected) <= tolerance, key
        assert tolerance < 0.5 * expected  # a loss off by a factor of 2 would be told apart


@pytest.mark.parametrize(("changes", "named"), [
    ({"context_sizes": [4, 16]}, "icl.context_sizes"),
    ({"d": 0}, "icl.d"),
    ({"depths": [0, 2]}, "icl.depths"),
    ({"depths": [2, 3]}, "include 1"),
    ({"noise_sigma": math.nan}, "icl.noise_sigma"),
    ({"steps": 0}, "icl.steps"),
    ({"learning_rate": -0.1}, "icl.learning_rate"),
    ({"batch_size": 2.5}, "icl.batch_size"),
    ({"device": "tpu"}, "icl.device"),
    ({"lambdas": {"bad": {"largest": 0.1, "smallest": 1.0}}}, "icl.lambdas.bad"),
    ({"shift": {**TINY["shift"], "context_size": 12}}, "icl.shift.context_size"),
    ({"shift": {**TINY["shift"], "families": {"rotation": [30.0]}}}, "no-shift value"),
    ({"criteria": {"gamma_tol": 0.1}}, "icl.criteria"),
    ({"designs": ["softmax", "transformer"]}, "icl.designs"),
    ({"designs": "softmax"}, "icl.designs"),
    ({"heads": 1}, "icl.heads"),
    ({"heads": 2.5}, "icl.heads"),
    ({"patience": 0}, "icl.patience"),
    ({"eval_every": 500}, "icl.eval_every"),
    ({"mlp_width": 0}, "icl.mlp_width"),
    ({"sensitivity": {**TINY["sensitivity"], "inits": ["xavier"]}}, "icl.sensitivity.inits"),
    ({"sensitivity": {**TINY["sensitivity"], "lambda": "nope"}}, "icl.sensitivity.lambda"),
    ({"sensitivity": {**TINY["sensitivity"], "grad_clips": [-1.0]}},
     "icl.sensitivity.grad_clips"),
])
def test_validation_names_the_value_and_the_fix(changes: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named.replace(".", r"\.")):
        icl.validate(tiny(**changes))
    with pytest.raises(ValueError):
        icl.run(tiny(**changes))  # before any training


def test_validation_accepts_the_tiny_config() -> None:
    assert icl_problems(tiny()) == []


def test_nan_loss_stops_naming_the_setting() -> None:
    with pytest.raises(FloatingPointError, match=r"lambda=isotropic, N=8, seed=0, depth=\d"):
        icl.train(tiny(learning_rate=1e100, grad_clip=0.0, steps=20))
    with pytest.raises(FloatingPointError, match=r"design=\w+, lambda=anisotropic, N=16, seed=0"):
        icl.train_designs(tiny(learning_rate=1e100, grad_clip=0.0, steps=20, init_scale=1e3))


# ---- the designs, token by token ---------------------------------------------------------------

def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def _design_inputs(rng: np.random.Generator, design: str, M: int = 2, B: int = 3, N: int = 6,
                   q: int = 2, d: int = 3) -> tuple[dict[str, torch.Tensor], torch.Tensor,
                                                    torch.Tensor]:
    """Random parameters (every entry nonzero) and tokens with a model axis."""
    p = d + 1
    shapes = {"softmax": {"K": (p, p), "V": (p, p), "log_beta": ()},
              "multi_head": {"K": (2, p, p), "V": (2, p, p)},
              "mlp": {"K": (p, p), "V": (p, p), "W1": (p, 5), "b1": (5,), "W2": (5, p),
                      "b2": (p,)}}[design]
    params = {k: torch.from_numpy(0.5 * rng.standard_normal((M, *shape)))
              for k, shape in shapes.items()}
    context = torch.from_numpy(rng.standard_normal((M, B, N, p)))
    queries = torch.from_numpy(np.concatenate([rng.standard_normal((M, B, q, d)),
                                               np.zeros((M, B, q, 1))], -1))
    return params, context, queries


def _by_hand(design: str, P: dict[str, np.ndarray], Zc: np.ndarray, z: np.ndarray) -> float:
    """One query token z (p,) against context tokens Zc (N, p), in loops."""
    N, p = Zc.shape
    if design == "softmax":
        beta = math.exp(float(P["log_beta"]))
        logits = np.array([beta * (z @ P["K"] @ zi) / math.sqrt(p) for zi in Zc])
        weights = np.exp(logits - logits.max())
        weights /= weights.sum()
        out = z + sum(a * (zi @ P["V"]) for a, zi in zip(weights, Zc, strict=True))
    elif design == "multi_head":
        out = z + sum(sum((z @ K @ zi) * (zi @ V) for zi in Zc) / N
                      for K, V in zip(P["K"], P["V"], strict=True))
    else:
        t = z + sum((z @ P["K"] @ zi) * (zi @ P["V"]) for zi in Zc) / N
        hidden = _gelu(np.array([t @ P["W1"][:, j] + P["b1"][j]
                                 for j in range(P["W1"].shape[1])]))
        out = t + hidden @ P["W2"] + P["b2"]
    return -out[-1]


@pytest.mark.parametrize("design", icl_checks.DESIGNS)
def test_design_forward_against_a_loop_over_tokens(design: str) -> None:
    rng = np.random.default_rng(21)
    params, context, queries = _design_inputs(rng, design)
    pred = icl_models.PREDICT[design](params, context, queries).detach().numpy()
    M, B, q = pred.shape
    for m in range(M):
        P = {k: v[m].numpy() for k, v in params.items()}
        for b in range(B):
            for j in range(q):
                assert pred[m, b, j] == pytest.approx(
                    _by_hand(design, P, context[m, b].numpy(), queries[m, b, j].numpy()),
                    rel=1e-10, abs=1e-12)


def test_multi_head_with_one_live_head_is_the_one_layer_model() -> None:
    """A second head of zeros adds nothing: two-head = LSA of depth 1 (construction's path)."""
    rng = np.random.default_rng(22)
    K, V = random_layers(rng, 1, 4)
    params = {"K": torch.stack([K[0], torch.zeros_like(K[0])])[None],
              "V": torch.stack([V[0], torch.zeros_like(V[0])])[None]}
    tasks = icl_theory.draw_tasks(rng, np.array([1.0, 0.5, 0.2]), 7, 0.3, 4)
    two = icl.design_test_predict("multi_head", params, tasks)[0]
    one = icl_models.lsa_predict(tasks.context(), tasks.queries(), K, V)[:, 0]
    np.testing.assert_allclose(two, one, rtol=1e-12, atol=1e-12)


def test_design_start_weights() -> None:
    rng = np.random.default_rng(2)
    mlp = icl_models.design_weights("mlp", rng, 3, 0.1, 2, 8)
    assert mlp["W1"].shape == (4, 8) and not mlp["W2"].any()  # the MLP starts as the identity
    heads = icl_models.design_weights("multi_head", rng, 3, 0.1, 3, 8)
    assert heads["K"].shape == (3, 4, 4) and not np.allclose(heads["K"][0], heads["K"][1])
    with pytest.raises(ValueError, match="unknown design"):
        icl_models.design_weights("rnn", rng, 3, 0.1, 2, 8)


# ---- the baselines a stack is held against ---------------------------------------------------

def test_tuned_one_step_pgd_is_the_gamma_star_step() -> None:
    """One PGD step of size eta with Gamma* is x_q^T eta Gamma* h, whose closed-form risk
    (gamma_excess_risk) is least at eta = 1: the tuned step finds it from sampled tasks."""
    lam, N, sigma = np.array([1.0, 0.4, 0.1]), 12, 0.5
    star = icl_theory.gamma_star(lam, N, sigma)
    tasks = icl_theory.draw_tasks(np.random.default_rng(5), lam, N, sigma, 60_000)
    steps = icl_theory.tune_pgd(tasks, lam, star, [1, 2])
    assert steps[1] == pytest.approx(1.0, abs=0.03)
    closed = [icl_theory.gamma_excess_risk(e * star, lam, N, sigma) for e in (0.9, 1.0, 1.1)]
    assert closed[1] < min(closed[0], closed[2])
    # two tuned steps beat one on the same tasks (a step of 0 would give one)
    risks = [np.mean(np.einsum("bd,d,bd->b", w - tasks.w, lam, w - tasks.w))
             for w in (icl_theory.pgd_weights(icl_theory.pgd_polynomial(
                 tasks.X, tasks.y, star, L), steps[L]) for L in (1, 2))]
    assert risks[1] < risks[0]


# ---- the training loop ---------------------------------------------------------------------

def test_schedule_by_hand() -> None:
    lr = icl_training.schedule(np.array([1.0, 2.0]), np.array([100, 40]), 2)
    # warm-up 5 steps (5 % of 100) and 2 steps: (step + 1) / warm, times the cosine
    np.testing.assert_allclose(lr, [3 / 5 * 0.5 * (1 + math.cos(math.pi * 2 / 100)),
                                    2.0 * 0.5 * (1 + math.cos(math.pi * 2 / 40))])
    assert icl_training.schedule(np.array([1.0]), np.array([10]), 10)[0] == 0.0


def test_fit_stops_early_and_keeps_the_best_weights() -> None:
    """Two models of a quadratic, noisy loss: one with learning rate 0 never moves and stops
    after ``patience`` evaluations; the other converges to the minimum and stops before its
    cap once it no longer improves."""
    gen = torch.Generator().manual_seed(0)
    x = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    target = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)

    def train_loss(step: int) -> torch.Tensor:
        noise = 0.01 * torch.randn(3, generator=gen, dtype=torch.float64)
        return ((x - target - noise) ** 2).sum(-1)[None]

    def valid_loss() -> torch.Tensor:
        return ((x - target) ** 2).sum(-1)[None]

    budget = icl_training.Budget(np.array([0.0, 0.05]), np.array([5000, 5000]),
                                 np.array([0.0, 1.0]), eval_every=10, patience=3)
    fit = icl_training.fit({"x": x}, {"x": 0}, train_loss, valid_loss, budget,
                           lambda g, m: f"model {m}")
    assert fit.steps_used[0, 0] == 40  # best at step 10, three evaluations without improvement
    np.testing.assert_array_equal(fit.params["x"][0].numpy(), 0.0)
    assert 40 < fit.steps_used[0, 1] < 5000
    np.testing.assert_allclose(fit.params["x"][1].numpy(), target.numpy(), atol=0.05)
    history = pd.DataFrame(fit.history, columns=["step", "group", "model", "train", "valid"])
    kept = history[(history["model"] == 1) & (history["step"] == fit.best_step[0, 1])]
    assert kept["valid"].iloc[0] == pytest.approx(history.loc[history["model"] == 1,
                                                              "valid"].min())


# ---- the checks on hand-built tables -------------------------------------------------------

def _judged(found: list[checks.Check], name: str) -> checks.Check:
    return next(c for c in found if c.check == name and c.scope == checks.ALL)


def _pre_rows(ratios: list[float]) -> pd.DataFrame:
    return pd.DataFrame([{"lambda": "a", "N": 20, "seed": i, "dist_to_gamma_star": 0.01,
                          "dist_to_inverse": 0.1, "star_dist_to_inverse": 0.1,
                          "gamma_gap_ratio": r, "nuisance_ratio": 0.01}
                         for i, r in enumerate(ratios)])


def test_gamma_row_cannot_be_passed_by_lambda_inverse() -> None:
    c = icl_checks.criteria_with_defaults({}, icl_checks.DEFAULTS)
    learned = _judged(icl_checks.preconditioner_checks(_pre_rows([0.05, 0.1]), c),
                      "gamma_matches_gamma_star")
    assert learned.verdict == checks.PASS
    # Lambda^-1 as the learned Gamma: the gap ratio is 1 by definition
    lam, N = np.array([1.0, 0.3]), 40
    star, inverse = icl_theory.gamma_star(lam, N, 0.5), np.diag(1 / lam)
    ratio = np.linalg.norm(inverse - star) / np.linalg.norm(star - inverse)
    inverse_row = _judged(icl_checks.preconditioner_checks(_pre_rows([0.05, ratio]), c),
                          "gamma_matches_gamma_star")
    assert inverse_row.verdict == checks.FAIL and inverse_row.value == pytest.approx(1.0)


def _risk_table(trained: dict[int, float], pgd: dict[int, float]) -> pd.DataFrame:
    """One (Lambda, N): the baselines, PGD_L and trained stacks (two seeds, the mean given)."""
    rows = [{"lambda": "a", "N": 20, "model": m, "depth": dep, "seed": -1, "excess_risk": v}
            for m, dep, v in (("gamma_star", 1, 0.10), ("ridge", 0, 0.02))]
    rows += [{"lambda": "a", "N": 20, "model": "pgd", "depth": L, "seed": -1, "excess_risk": v}
             for L, v in pgd.items()]
    rows += [{"lambda": "a", "N": 20, "model": "lsa", "depth": L, "seed": s,
              "excess_risk": v * (1 + 0.01 * (2 * s - 1))} for L, v in trained.items()
             for s in (0, 1)]
    return pd.DataFrame(rows)


def test_depth_row_is_judged_only_where_trained_to_pgd() -> None:
    c = icl_checks.criteria_with_defaults({}, icl_checks.DEFAULTS)
    pgd = {1: 0.10, 2: 0.05, 3: 0.03}
    falls = icl_checks.depth_check(_risk_table({1: 0.10, 2: 0.05, 3: 0.031}, pgd), c)
    assert falls.verdict == checks.PASS and falls.value == pytest.approx(0.62, rel=1e-6)
    # trained L = 2 at twice its PGD_2: never PASS, the row names where
    short = icl_checks.depth_check(_risk_table({1: 0.10, 2: 0.10, 3: 0.031}, pgd), c)
    assert short.verdict == checks.FAIL
    assert "under-trained at L=2, N=20" in short.detail and short.value == pytest.approx(2.0)
    # trained to PGD everywhere, but PGD itself does not fall: the depth ratio fails
    flat = {1: 0.10, 2: 0.12, 3: 0.12}
    rises = icl_checks.depth_check(_risk_table(flat, flat), c)
    assert rises.verdict == checks.FAIL and "under-trained" not in rises.detail
    assert rises.value == pytest.approx(1.2)


def _shift_table(growths: dict[tuple[str, int], dict[str, float]]) -> pd.DataFrame:
    """Relative errors of models, family -> growth at magnitude "far" (1 at no shift)."""
    rows = []
    for (model, depth), by_family in growths.items():
        for family, g in by_family.items():
            still = icl_checks.NO_SHIFT[family]
            for t, err in ((still, 0.1), (still + 2.0, 0.1 * g)):
                rows.append({"family": family, "magnitude": t, "no_shift": t == still,
                             "lambda": "a", "N": 20, "model": model, "depth": depth, "seed": 0,
                             "relerr": err, "eq10_predicted": 0.0, "eq10_learned": math.nan})
    return pd.DataFrame(rows)


def test_robustness_rows_per_family() -> None:
    c = icl_checks.criteria_with_defaults({}, icl_checks.DEFAULTS)
    linear = {"rotation": 3.0, "mean_shift": 10.0, "task_scale": 1.2}
    shift = _shift_table({("lsa", 1): linear,
                          ("softmax", 1): {"rotation": 2.0, "mean_shift": 2.0, "task_scale": 1.0},
                          ("mlp", 1): {"rotation": 2.0, "mean_shift": 20.0, "task_scale": 1.0},
                          ("multi_head", 1): {"rotation": 1.0, "mean_shift": 1.0,
                                              "task_scale": 1.0},
                          ("lsa", 2): {"rotation": 30.0, "mean_shift": 1e4, "task_scale": 5.0}})
    risk = pd.DataFrame([{"lambda": "a", "N": 20, "model": m, "depth": dep, "seed": 0,
                          "excess_risk": v}
                         for m, dep, v in (("lsa", 1, 0.10), ("softmax", 1, 0.10),
                                           ("mlp", 1, 0.09), ("multi_head", 1, 0.5),
                                           ("lsa", 2, 0.05))])
    found = icl_checks.robustness_checks(risk, shift, c)
    softmax = _judged(found, "softmax_enhances_robustness")
    assert softmax.verdict == checks.PASS and softmax.origin == checks.PAPER
    mlp = _judged(found, "mlp_enhances_robustness")
    assert mlp.verdict == checks.CONDITIONAL and mlp.share_holds == pytest.approx(2 / 3)
    assert mlp.holds_where == "rotation; task_scale"
    # lower growth everywhere, but at five times the no-shift risk: not "equal or better"
    assert _judged(found, "multi_head_enhances_robustness").verdict == checks.FAIL
    stack = _judged(found, "stacking_enhances_robustness")
    assert stack.verdict == checks.FAIL and stack.holds_where == "nowhere"
    assert stack.value == pytest.approx(1e3)


def test_covariate_row_against_eq10_with_the_learned_gamma() -> None:
    c = icl_checks.criteria_with_defaults({}, icl_checks.DEFAULTS)

    def table(measured_far: float) -> pd.DataFrame:
        # no shift: error 0.1 of which eq. 10 explains 0.06 (sampling part 0.08); far: eq. 10 1.0
        rows = [{"family": "rotation", "magnitude": t, "no_shift": t == 0.0, "lambda": "a",
                 "N": 20, "model": "lsa", "depth": 1, "seed": 0, "relerr": err,
                 "eq10_predicted": 0.0, "eq10_learned": e}
                for t, err, e in ((0.0, 0.1, 0.06), (90.0, measured_far, 1.0))]
        return pd.DataFrame(rows)

    predicted = math.sqrt(1.0 + 0.1**2 - 0.06**2)

    def judged(measured: float) -> checks.Check:
        return _judged(icl_checks.shift_checks(table(measured), c), "covariate_shift_follows_eq10")

    # the band 1.5 is re-judged at 1.25, 1.5 and 2 (its excess over 1 halved and doubled)
    follows = judged(1.2 * predicted)
    assert follows.verdict == checks.PASS and follows.value == pytest.approx(1.2)
    assert follows.share_holds == 1.0
    loose = judged(1.3 * predicted)  # holds at our band, not at 1.25
    assert loose.verdict == checks.CONDITIONAL and loose.holds_where == "eq10_band >= 1.5"
    off = judged(predicted / 2)
    assert off.verdict == checks.CONDITIONAL and off.value == pytest.approx(2.0)
    assert off.holds_where == "eq10_band >= 2"
    # an error that does not grow under shift (the rival of eq. 10) fails every band
    flat = judged(0.1)
    assert flat.verdict == checks.FAIL and flat.share_holds == 0.0


def test_rows_re_judged_across_the_sensitivity_grid() -> None:
    """A variant where the stacks are under-trained flips risk_falls_with_depth: CONDITIONAL,
    holding where the other variants do; without the grid the row is MISSING, never PASS."""
    pgd = {1: 0.10, 2: 0.05}
    good, short = _risk_table({1: 0.10, 2: 0.05}, pgd), _risk_table({1: 0.10, 2: 0.09}, pgd)
    sensitivity = pd.concat([good.assign(variant="default"), short.assign(variant="lr=0.003"),
                             _pre_rows([0.05, 0.05]).assign(variant="default",
                                                            table="icl_preconditioner")])
    sensitivity["table"] = sensitivity["table"].fillna("icl_risk")
    tables = {"icl_risk": good, "icl_sensitivity": sensitivity}
    found = icl_checks.checks(tables, {})
    depth = _judged(found, "risk_falls_with_depth")
    assert depth.verdict == checks.CONDITIONAL
    assert depth.holds_where == "main run; default, seed 0; default, seed 1"
    assert depth.share_holds == pytest.approx(3 / 5)
    # the main run under-trained: FAIL, with where the variants hold
    flipped = pd.concat([sensitivity, short.assign(variant="lr=0.03", table="icl_risk")])
    under = _judged(icl_checks.checks({"icl_risk": short, "icl_sensitivity": flipped}, {}),
                    "risk_falls_with_depth")
    assert under.verdict == checks.FAIL and under.detail.startswith("under-trained at L=2")
    assert under.holds_where == "default, seed 0; default, seed 1"
    alone = _judged(icl_checks.checks({"icl_risk": good}, {}), "risk_falls_with_depth")
    assert alone.verdict == checks.MISSING and "icl_sensitivity" in alone.detail


def test_parts_group_small_lambdas_and_split_large_ones() -> None:
    assert icl_parts(tiny()) == ["lsa_1", "designs", "sensitivity"]
    assert icl_part_tables(tiny(), "lsa_1") == ["icl_preconditioner", "icl_risk", "icl_shift",
                                                "icl_training"]
    big = tiny(steps=20_000, designs=[])
    assert icl_lsa_groups(big) == [["isotropic"], ["anisotropic"]]
    assert icl_parts(big) == ["lsa_1", "lsa_2", "sensitivity"]
    assert "icl_shift" not in icl_part_tables(big, "lsa_1")
    with pytest.raises(ValueError, match="unknown icl part 'lsa_3'"):
        icl.run_part(big, "lsa_3")
