"""The OLS-Transformer construction against independent computations (numpy lstsq, pinv)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ols_transformer.construction import (
    coordinates,
    in_context_predict,
    ols_transformer,
    spectral_whitener,
)
from ols_transformer.data import design_matrix
from ols_transformer.ols import (
    RankDeficientError,
    check_design,
    hat_matrix,
    ols_normal_equations,
    ols_qr,
    reference_ols,
)


@pytest.fixture(params=[(200, 5, 1.0), (50, 8, 100.0), (1000, 3, 1e3)])
def problem(request: pytest.FixtureRequest) -> tuple[np.ndarray, np.ndarray]:
    n, p, cond = request.param
    rng = np.random.default_rng(7)
    X = design_matrix(n, p, cond, rng)
    y = X @ rng.standard_normal(p) + 0.3 * rng.standard_normal(n)
    return X, y


def lstsq_prediction(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    return X @ np.linalg.lstsq(X, y, rcond=None)[0]


def test_design_matrix_has_requested_condition_number() -> None:
    X = design_matrix(300, 6, 1e4, np.random.default_rng(0))
    assert np.linalg.cond(X) == pytest.approx(1e4, rel=1e-8)


def test_forward_pass_equals_ols_prediction(problem: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = problem
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    with torch.no_grad():
        prediction = ols_transformer(Xt, yt)(Xt).reshape(-1).numpy()
    expected = lstsq_prediction(X, y)
    cond2 = np.linalg.cond(X) ** 2
    assert np.max(np.abs(prediction - expected)) <= 100 * cond2 * 1e-16 * np.abs(expected).max()


def test_whitener_inverts_covariance(problem: tuple[np.ndarray, np.ndarray]) -> None:
    X, _ = problem
    W = spectral_whitener(torch.from_numpy(X)).numpy()
    sigma = X.T @ X / X.shape[0]
    np.testing.assert_allclose(W @ W.T @ sigma, np.eye(X.shape[1]), atol=1e-9)


def test_scores_are_hat_matrix_and_beta_is_w_c(problem: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = problem
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    model = ols_transformer(Xt, yt)
    with torch.no_grad():
        scores = model.attention_scores(Xt, Xt).numpy()
    np.testing.assert_allclose(scores, X @ np.linalg.pinv(X), atol=1e-9)
    W = spectral_whitener(Xt)
    beta = (W @ coordinates(W, Xt, yt)).numpy()
    np.testing.assert_allclose(beta, np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-8, atol=1e-10)


def test_in_context_form_predicts_new_queries(problem: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = problem
    queries = np.random.default_rng(3).standard_normal((7, X.shape[1]))
    W = spectral_whitener(torch.from_numpy(X))
    got = in_context_predict(W, torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(queries))
    expected = queries @ np.linalg.lstsq(X, y, rcond=None)[0]
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-8, atol=1e-10)


def test_three_ols_routes_and_reference_agree(problem: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = problem
    expected = lstsq_prediction(X, y)
    for route in (ols_qr, ols_normal_equations):
        np.testing.assert_allclose(route(X, y)[1], expected, rtol=1e-7, atol=1e-9)
    beta, fitted, sigma_inv = reference_ols(X, y, digits=40)
    np.testing.assert_allclose(fitted, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sigma_inv, np.linalg.inv(X.T @ X / X.shape[0]), rtol=1e-6,
                               atol=1e-10)
    np.testing.assert_allclose(hat_matrix(X), X @ np.linalg.pinv(X), atol=1e-10)


def test_rank_deficient_design_is_refused_with_a_clear_message() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3))
    X = np.column_stack([X, X[:, 0] + X[:, 1]])  # a collinear fourth column
    with pytest.raises(RankDeficientError, match="numerical rank 3 < p"):
        check_design(X, rng.standard_normal(50))
    with pytest.raises(RankDeficientError, match="numerically singular"):
        spectral_whitener(torch.from_numpy(X))


def test_more_columns_than_rows_and_nan_are_refused() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(RankDeficientError, match="p=5 columns but only n=4 rows"):
        check_design(rng.standard_normal((4, 5)))
    X = rng.standard_normal((10, 2))
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        check_design(X)


def test_float32_refuses_when_sigma_is_singular_in_float32() -> None:
    X = design_matrix(100, 4, 1e5, np.random.default_rng(1)).astype(np.float32)
    with pytest.raises(RankDeficientError, match="float32"):
        spectral_whitener(torch.from_numpy(X))
