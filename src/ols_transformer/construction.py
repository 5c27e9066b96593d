"""The OLS-Transformer: a single-layer linear transformer whose forward pass is OLS.

Attn(Zq, Zc) = (1/n) (Zq W_Q)(Zc W_K)^T (Zc W_V);  out = Attn W_F W_O   (paper eq. 2)

With Sigma = X^T X / n = U Lambda U^T and W = U Lambda^{-1/2} (so W W^T = Sigma^{-1}):
- homogeneous form: W_Q = W_K = W_V = W, W_F = I, W_O = c = (1/n) W^T X^T y, input Z = X
  -> (1/n) XW (XW)^T XW c = H X W c = X beta_hat  (paper eqs. 3-8);
- in-context form: tokens (x_i, y_i), W_Q = W_K = [W; 0], W_V = e_y, W_F = W_O = 1
  -> y_q = (1/n) x_q^T W W^T sum_i x_i y_i = x_q^T beta_hat.
"""

from __future__ import annotations

import torch
from torch import nn

from .ols import RankDeficientError


class LinearTransformer(nn.Module):
    """Single-layer linear transformer: linear attention (1/n scaling), linear FFN, output head."""

    def __init__(self, d_in: int, d_qk: int, d_v: int, d_ff: int, d_out: int,
                 dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.W_Q = nn.Parameter(torch.zeros(d_in, d_qk, dtype=dtype))
        self.W_K = nn.Parameter(torch.zeros(d_in, d_qk, dtype=dtype))
        self.W_V = nn.Parameter(torch.zeros(d_in, d_v, dtype=dtype))
        self.W_F = nn.Parameter(torch.zeros(d_v, d_ff, dtype=dtype))
        self.W_O = nn.Parameter(torch.zeros(d_ff, d_out, dtype=dtype))

    def attention_scores(self, queries: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """(1/n) (Zq W_Q)(Zc W_K)^T, n = number of context tokens."""
        return (queries @ self.W_Q) @ (context @ self.W_K).T / context.shape[0]

    def forward(self, queries: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        context = queries if context is None else context
        attended = self.attention_scores(queries, context) @ (context @ self.W_V)
        return attended @ self.W_F @ self.W_O


def spectral_whitener(X: torch.Tensor) -> torch.Tensor:
    """W = U Lambda^{-1/2} from Sigma = X^T X / n = U Lambda U^T, so that W W^T = Sigma^{-1}.

    Raises RankDeficientError when Sigma is singular in the working dtype: forming Sigma squares
    cond(X), so in float32 this happens already near cond(X) ~ 1e3-1e4.
    """
    n, p = X.shape
    eigenvalues, U = torch.linalg.eigh(X.T @ X / n)
    tol = p * torch.finfo(X.dtype).eps * eigenvalues.abs().max()
    if eigenvalues.min() <= tol:
        raise RankDeficientError(
            f"Sigma = X^T X / n (n={n}, p={p}, {X.dtype}) is numerically singular: smallest "
            f"eigenvalue {eigenvalues.min().item():.3g} <= tolerance {tol.item():.3g}. "
            "X is rank-deficient or too ill-conditioned for this dtype (use float64, or drop "
            "collinear columns)."
        )
    return U * eigenvalues.rsqrt()


def coordinates(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """c = (1/n) W^T X^T y: beta_hat in the basis W (paper eq. 6), beta_hat = W c."""
    return W.T @ (X.T @ y) / X.shape[0]


@torch.no_grad()
def ols_transformer(X: torch.Tensor, y: torch.Tensor) -> LinearTransformer:
    """The homogeneous-input OLS-Transformer for (X, y): forward(X) = X beta_hat."""
    p = X.shape[1]
    W = spectral_whitener(X)
    model = LinearTransformer(p, p, p, p, 1, dtype=X.dtype)
    model.W_Q.copy_(W)
    model.W_K.copy_(W)
    model.W_V.copy_(W)
    model.W_F.copy_(torch.eye(p, dtype=X.dtype))
    model.W_O.copy_(coordinates(W, X, y).reshape(p, 1))
    return model


@torch.no_grad()
def in_context_transformer(W: torch.Tensor) -> LinearTransformer:
    """Transformer over tokens (x_i, y_i): the task lives in the context, W in the weights."""
    p = W.shape[0]
    model = LinearTransformer(p + 1, p, 1, 1, 1, dtype=W.dtype)
    model.W_Q[:p].copy_(W)
    model.W_K[:p].copy_(W)
    model.W_V[p, 0] = 1.0  # the value is the y coordinate of each token
    model.W_F.fill_(1.0)
    model.W_O.fill_(1.0)
    return model


def tokens(X: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """Rows (x_i, y_i); query tokens carry y = 0, which W_Q ignores."""
    last = torch.zeros(X.shape[0], 1, dtype=X.dtype) if y is None else y.reshape(-1, 1)
    return torch.cat([X, last], dim=1)


@torch.no_grad()
def in_context_predict(
    W: torch.Tensor, X_context: torch.Tensor, y_context: torch.Tensor, X_query: torch.Tensor
) -> torch.Tensor:
    """y_q = (1/m) x_q^T W W^T sum_i x_i y_i over the m context tokens."""
    model = in_context_transformer(W)
    return model(tokens(X_query), tokens(X_context, y_context)).reshape(-1)
