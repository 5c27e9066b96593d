"""The OLS-Transformer construction against independent computations (numpy lstsq, pinv)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ols_transformer.construction import (
    LinearTransformer,
    Weights,
    coordinates,
    in_context_predict,
    ols_transformer,
    spectral_whitener,
    whitener,
)
from ols_transformer.data import design_matrix
from ols_transformer.experiments import shift as shift_experiment
from ols_transformer.ols import (
    RankDeficientError,
    check_design,
    hat_matrix,
    ols_normal_equations,
    ols_qr,
    reference_ols,
)


@pytest.fixture(params=[(200, 5, 1.0), (50, 8, 100.0), (1000, 3, 1e3)])
def problem(request: pytest.FixtureRequest, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray]:
    n, p, cond = request.param
    X = design_matrix(n, p, cond, rng)
    y = X @ rng.standard_normal(p) + 0.3 * rng.standard_normal(n)
    return X, y


def lstsq_prediction(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    return X @ np.linalg.lstsq(X, y, rcond=None)[0]


def assert_rounding_close(actual: np.ndarray, desired: np.ndarray, amplification: float) -> None:
    """|actual - desired| <= 1e3 eps * amplification * max|desired|: rounding amplified by the
    condition number of the route (cond(X)^2 through Sigma), for any random problem."""
    bound = 1e3 * np.finfo(float).eps * amplification * np.abs(desired).max()
    assert np.abs(np.asarray(actual) - desired).max() <= bound


def test_design_matrix_has_requested_condition_number(rng: np.random.Generator) -> None:
    X = design_matrix(300, 6, 1e4, rng)
    assert np.linalg.cond(X) == pytest.approx(1e4, rel=1e-8)


def test_forward_pass_equals_ols_prediction(problem: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = problem
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    with torch.no_grad():
        prediction = ols_transformer(Xt, yt)(Xt).reshape(-1).numpy()
    assert_rounding_close(prediction, lstsq_prediction(X, y), np.linalg.cond(X) ** 2)


def test_whitener_inverts_covariance(problem: tuple[np.ndarray, np.ndarray]) -> None:
    X, _ = problem
    W = spectral_whitener(torch.from_numpy(X)).numpy()
    sigma = X.T @ X / X.shape[0]
    assert_rounding_close(W @ W.T @ sigma, np.eye(X.shape[1]), np.linalg.cond(X) ** 2)


def test_scores_are_hat_matrix_and_beta_is_w_c(problem: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = problem
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    model = ols_transformer(Xt, yt)
    with torch.no_grad():
        scores = model.attention_scores(Xt, Xt).numpy()
    cond2 = np.linalg.cond(X) ** 2
    assert_rounding_close(scores, X @ np.linalg.pinv(X), cond2)
    W = spectral_whitener(Xt)
    beta = (W @ coordinates(W, Xt, yt)).numpy()
    assert_rounding_close(beta, np.linalg.lstsq(X, y, rcond=None)[0], cond2)


def test_in_context_form_predicts_new_queries(problem: tuple[np.ndarray, np.ndarray],
                                              rng: np.random.Generator) -> None:
    X, y = problem
    queries = rng.standard_normal((7, X.shape[1]))
    W = spectral_whitener(torch.from_numpy(X))
    got = in_context_predict(W, torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(queries))
    expected = queries @ np.linalg.lstsq(X, y, rcond=None)[0]
    assert_rounding_close(got.numpy(), expected, np.linalg.cond(X) ** 2)


def test_three_ols_routes_and_reference_agree(problem: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = problem
    expected = lstsq_prediction(X, y)
    cond = np.linalg.cond(X)
    assert_rounding_close(ols_qr(X, y)[1], expected, cond)
    assert_rounding_close(ols_normal_equations(X, y)[1], expected, cond**2)
    beta, fitted, sigma_inv = reference_ols(X, y, digits=40)
    assert_rounding_close(fitted, expected, cond)  # lstsq's own error: cond eps
    assert_rounding_close(sigma_inv, np.linalg.inv(X.T @ X / X.shape[0]), cond**2)
    assert_rounding_close(hat_matrix(X), X @ np.linalg.pinv(X), cond)


def test_rank_deficient_design_is_refused_with_a_clear_message(rng: np.random.Generator) -> None:
    X = rng.standard_normal((50, 3))
    X = np.column_stack([X, X[:, 0] + X[:, 1]])  # a collinear fourth column
    with pytest.raises(RankDeficientError, match="numerical rank 3 < p"):
        check_design(X, rng.standard_normal(50))
    with pytest.raises(RankDeficientError, match="numerically singular"):
        spectral_whitener(torch.from_numpy(X))


def test_more_columns_than_rows_and_nan_are_refused(rng: np.random.Generator) -> None:
    with pytest.raises(RankDeficientError, match="p=5 columns but only n=4 rows"):
        check_design(rng.standard_normal((4, 5)))
    X = rng.standard_normal((10, 2))
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        check_design(X)


def test_float32_refuses_when_sigma_is_singular_in_float32(rng: np.random.Generator) -> None:
    X = design_matrix(100, 4, 1e5, rng).astype(np.float32)
    with pytest.raises(RankDeficientError, match="float32"):
        spectral_whitener(torch.from_numpy(X))


# ---- one model: its two association orders, numpy boundaries, pseudo-inverse ------------------

def test_attention_equals_eq2_written_out(rng: np.random.Generator) -> None:
    """linear_attention (the weights multiplied out first) against eq. 2 in numpy, scores first:
    (1/n) (Zq W_Q)(Zc W_K)^T (Zc W_V) W_F W_O."""
    q, n, d, k, v = 7, int(rng.integers(5, 80)), 4, 3, 2
    Zq, Zc = rng.standard_normal((q, d)), rng.standard_normal((n, d))
    W = {name: rng.standard_normal(shape) for name, shape in
         (("W_Q", (d, k)), ("W_K", (d, k)), ("W_V", (d, v)), ("W_F", (v, v)), ("W_O", (v, 1)))}
    expected = ((Zq @ W["W_Q"]) @ (Zc @ W["W_K"]).T / n) @ (Zc @ W["W_V"]) @ W["W_F"] @ W["W_O"]
    model = LinearTransformer.from_weights(Weights(**{k: torch.from_numpy(v)
                                                      for k, v in W.items()}))
    with torch.no_grad():
        got = model(torch.from_numpy(Zq), torch.from_numpy(Zc)).numpy()
        scores = model.attention_scores(torch.from_numpy(Zq), torch.from_numpy(Zc)).numpy()
    # Random weights have no bad conditioning: rounding of a few products and sums.
    assert_rounding_close(got, expected, 1.0)
    assert_rounding_close(scores, (Zq @ W["W_Q"]) @ (Zc @ W["W_K"]).T / n, 1.0)


def test_numpy_boundary_of_the_shift_study_is_the_torch_model(
        problem: tuple[np.ndarray, np.ndarray], rng: np.random.Generator) -> None:
    """experiments/shift.py converts numpy to construction.py's model and back: the same numbers
    as the torch in-context form, and as x_q^T beta_hat from lstsq."""
    X, y = problem
    queries = rng.standard_normal((5, X.shape[1]))
    W = shift_experiment.slow_memory(X.T @ X / len(X))
    via_numpy = shift_experiment.transformer_predict(queries, X, y, W)
    via_torch = in_context_predict(spectral_whitener(torch.from_numpy(X)), torch.from_numpy(X),
                                   torch.from_numpy(y), torch.from_numpy(queries)).numpy()
    scale = np.abs(via_torch).max() * np.linalg.cond(X) ** 2
    assert np.abs(via_numpy - via_torch).max() <= 1e3 * np.finfo(float).eps * scale
    expected = queries @ np.linalg.lstsq(X, y, rcond=None)[0]
    assert np.abs(via_numpy - expected).max() <= 1e3 * np.finfo(float).eps * scale


def test_pseudo_inverse_whitener_of_a_singular_covariance(rng: np.random.Generator) -> None:
    """M < N patterns: Sigma = Xi^T Xi / M has rank M; W W^T is its pseudo-inverse and
    W W^T Sigma the projector onto the patterns' span (np.linalg.pinv)."""
    M, N = 6, 15
    Xi = rng.choice([-1.0, 1.0], size=(M, N))
    sigma = Xi.T @ Xi / M
    W = whitener(torch.from_numpy(sigma), pseudo_inverse=True).numpy()
    assert W.shape == (N, np.linalg.matrix_rank(Xi))
    np.testing.assert_allclose(W @ W.T, np.linalg.pinv(sigma), atol=1e-10)
    np.testing.assert_allclose(W @ W.T @ sigma, np.linalg.pinv(Xi) @ Xi, atol=1e-10)
