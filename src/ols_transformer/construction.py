"""The OLS-Transformer: a single-layer linear transformer whose forward pass is OLS.

This module is the one implementation of the model: its attention, its spectral whitening and
its weight settings. Every stage runs it (numpy callers convert at the boundary).

    Attn(Zq, Zc) = (1/n) (Zq W_Q)(Zc W_K)^T (Zc W_V);  out = Attn W_F W_O   (paper eq. 2)

With Sigma = X^T X / n = U Lambda U^T and W = U Lambda^{-1/2} (so W W^T = Sigma^{-1}):
- homogeneous form (eq. 8): W_Q = W_K = W_V = W, W_F = I, W_O = c = (1/n) W^T X^T y, input Z = X
  -> (1/n) XW (XW)^T XW c = H X W c = X beta_hat  (paper eqs. 3-8);
- in-context form (eq. 5): tokens (x_i, y_i), W_Q = W_K = [W; 0], W_V = e_y, W_F = W_O = 1
  -> y_q = (1/n) x_q^T W W^T sum_i x_i y_i = x_q^T beta_hat.

Every function broadcasts over leading batch dimensions (``...``), so one call evaluates many
independent models (seeds, grid points) at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from .ols import IllConditionedError, RankDeficientError

Form = Literal["eq8", "eq5"]
FORMS: tuple[Form, ...] = ("eq8", "eq5")
# How the slow memory W is computed: the eigen-decomposition of Sigma = X^T X / n (the paper's
# W = U Lambda^-1/2, "eigh") or the SVD of X itself (W = V diag(sqrt(n) / S), "svd"): the same W
# up to the signs of its columns, but the SVD never forms Sigma, whose spectrum carries cond(X)^2.
Whitening = Literal["eigh", "svd"]
WHITENINGS: tuple[Whitening, ...] = ("eigh", "svd")
# Which product of eq. 2 comes first: the weights and the context's second moment (``head``,
# no q x n score matrix), or the scores (1/n)(Zq W_Q)(Zc W_K)^T, as written (never forms the
# second moment Zc^T Zc: the order in which the SVD whitener keeps its digits).
Order = Literal["moment", "scores"]
ORDERS: tuple[Order, ...] = ("moment", "scores")


# ---- attention -------------------------------------------------------------------------------

def matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b with broadcasting; ``None`` stands for the identity.

    A contraction over one entry is an outer product: computed as a broadcast multiply, which
    gives the same floats (one product per entry, no sum) and avoids torch's batched-matmul
    kernel, slow for many tiny matrices (the 1-D models of Figure 1 and their sweeps).
    """
    if a.shape[-1] == 1:
        return a * b
    return a @ b


def _apply(tokens: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    return tokens if weight is None else matmul(tokens, weight)


def _t(x: torch.Tensor) -> torch.Tensor:
    return x.transpose(-1, -2)


def attention_scores(queries: torch.Tensor, context: torch.Tensor, W_Q: torch.Tensor | None,
                     W_K: torch.Tensor | None) -> torch.Tensor:
    """The fast memory: (1/n) (Zq W_Q)(Zc W_K)^T, one score per (query, context token).

    Shape: queries (..., q, d), context (..., n, d), W_Q and W_K (..., d, k) -> (..., q, n).
    A weight of ``None`` is the identity.
    """
    return matmul(_apply(queries, W_Q), _t(_apply(context, W_K))) / context.shape[-2]


def _weighted_moment(moment: torch.Tensor, W_Q: torch.Tensor | None, W_K: torch.Tensor | None,
                     W_V: torch.Tensor | None) -> torch.Tensor:
    """W_Q W_K^T (moment) W_V."""
    if W_K is not None:
        moment = matmul(_t(W_K), moment)
    if W_Q is not None:
        moment = matmul(W_Q, moment)
    return moment if W_V is None else matmul(moment, W_V)


def attention_map(context: torch.Tensor, W_Q: torch.Tensor | None, W_K: torch.Tensor | None,
                  W_V: torch.Tensor | None) -> torch.Tensor:
    """The d x v matrix A with linear attention = Zq A: A = W_Q W_K^T (Zc^T Zc / n) W_V.

    Linear attention (1/n) (Zq W_Q)(Zc W_K)^T (Zc W_V) is a product of matrices, so it may be
    associated in any order. Here the context enters once, through its second moment
    Zc^T Zc / n (the fast memory; for tokens x_i the paper's Sigma), and the tokens only at the
    end: no q x n score matrix is formed. ``attention_scores`` gives the scores.

    Shape: context (..., n, d), W_Q and W_K (..., d, k), W_V (..., d, v) -> (..., d, v).
    """
    n, d = context.shape[-2:]
    if W_K is not None and n * W_K.shape[-1] < d * d:
        # Few tokens of many features (an associative memory): (Zc W_K)^T Zc / n, k x d, is
        # cheaper than the d x d second moment; the same product, associated otherwise.
        summary = matmul(_t(matmul(context, W_K)), context) / n
        if W_Q is not None:
            summary = matmul(W_Q, summary)
        return summary if W_V is None else matmul(summary, W_V)
    return moment_attention_map(second_moment(context), W_Q, W_K, W_V)


def moment_attention_map(moment: torch.Tensor, W_Q: torch.Tensor | None,
                         W_K: torch.Tensor | None, W_V: torch.Tensor | None) -> torch.Tensor:
    """``attention_map`` from the context's second moment Zc^T Zc / n (..., d, d): linear
    attention depends on its context through this matrix alone."""
    return _weighted_moment(moment, W_Q, W_K, W_V)


def linear_attention(queries: torch.Tensor, context: torch.Tensor, W_Q: torch.Tensor | None,
                     W_K: torch.Tensor | None, W_V: torch.Tensor | None) -> torch.Tensor:
    """(1/n) (Zq W_Q)(Zc W_K)^T (Zc W_V): the scores times the values.

    Associated in the cheaper order for the shapes: scores first, (Zq W_Q)(Zc W_K)^T then the
    values, when there are few queries against many features (an associative memory); else the
    weights and the context's second moment first (``attention_map``). The 1/n comes last, so
    integer tokens give exact integer sums (the Hopfield models rely on it).

    Shape: queries (..., q, d), context (..., n, d), W_Q and W_K (..., d, k), W_V (..., d, v)
    -> (..., q, v). A weight of ``None`` is the identity.
    """
    q, (n, d) = queries.shape[-2], context.shape[-2:]
    k = d if W_K is None else W_K.shape[-1]
    v = d if W_V is None else W_V.shape[-1]
    if q * n * (k + v) < n * d * d + q * d * v:
        scores = matmul(_apply(queries, W_Q), _t(_apply(context, W_K)))
        return matmul(scores, _apply(context, W_V)) / n
    return matmul(queries, _weighted_moment(matmul(_t(context), context), W_Q, W_K, W_V)) / n


@dataclass(frozen=True)
class Weights:
    """The five weight matrices of eq. 2 (each may carry leading batch dimensions)."""

    W_Q: torch.Tensor
    W_K: torch.Tensor
    W_V: torch.Tensor
    W_F: torch.Tensor
    W_O: torch.Tensor


def head(context: torch.Tensor, weights: Weights) -> torch.Tensor:
    """The d x o matrix H with out = Zq H: attention_map(...) W_F W_O (weights before tokens).

    Shape: context (..., n, d) -> (..., d, o).
    """
    return moment_head(second_moment(context), weights)


def moment_head(moment: torch.Tensor, weights: Weights) -> torch.Tensor:
    """``head`` from the context's second moment Zc^T Zc / n (..., d, d)."""
    attended = moment_attention_map(moment, weights.W_Q, weights.W_K, weights.W_V)
    return matmul(matmul(attended, weights.W_F), weights.W_O)


def forward(queries: torch.Tensor, context: torch.Tensor, weights: Weights,
            order: Order = "moment") -> torch.Tensor:
    """out = Attn(Zq, Zc) W_F W_O (paper eq. 2). Shape: (..., q, d), (..., n, d) -> (..., q, o).

    ``order`` "moment" (the default) applies the head, weights before tokens; "scores" takes the
    scores first, then the values Zc W_V: the same product, other roundings.
    """
    if order == "moment":
        return matmul(queries, head(context, weights))
    if order == "scores":
        scores = attention_scores(queries, context, weights.W_Q, weights.W_K)
        return matmul(matmul(matmul(scores, _apply(context, weights.W_V)), weights.W_F),
                      weights.W_O)
    raise ValueError(f"unknown order {order!r}; choose one of {', '.join(ORDERS)}")


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

    @classmethod
    def from_weights(cls, weights: Weights) -> LinearTransformer:
        """A module holding ``weights`` (without batch dimensions) as its parameters."""
        d_in, d_qk = weights.W_Q.shape
        model = cls(d_in, d_qk, weights.W_V.shape[1], weights.W_F.shape[1],
                    weights.W_O.shape[1], dtype=weights.W_Q.dtype)
        with torch.no_grad():
            for name in ("W_Q", "W_K", "W_V", "W_F", "W_O"):
                getattr(model, name).copy_(getattr(weights, name))
        return model

    @property
    def weights(self) -> Weights:
        """The parameters as one ``Weights`` (W_Q, W_K (d_in, d_qk), W_V (d_in, d_v), W_F
        (d_v, d_ff), W_O (d_ff, d_out)), sharing their storage."""
        return Weights(self.W_Q, self.W_K, self.W_V, self.W_F, self.W_O)

    def attention_scores(self, queries: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """``attention_scores`` with this module's W_Q, W_K: queries (..., m, d_in), context
        (..., n, d_in) -> scores (..., m, n)."""
        return attention_scores(queries, context, self.W_Q, self.W_K)

    def forward(self, queries: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """``forward`` with this module's weights: queries (..., m, d_in) attending to context
        (..., n, d_in; default: the queries themselves) -> outputs (..., m, d_out)."""
        return forward(queries, queries if context is None else context, self.weights)


# ---- the slow memory: spectral whitening -----------------------------------------------------

def whitener(sigma: torch.Tensor, pseudo_inverse: bool = False) -> torch.Tensor:
    """W = U Lambda^{-1/2} from sigma = U Lambda U^T, so that W W^T = sigma^{-1}.

    With ``pseudo_inverse`` only the eigenvalues above the rounding tolerance are kept: W is
    p x r (r the numerical rank) and W W^T = sigma^+. Otherwise a numerically singular sigma
    raises RankDeficientError: forming sigma = X^T X / n squares cond(X), so in float32 this
    happens already near cond(X) ~ 1e3-1e4.

    Shape: sigma (p, p) symmetric positive semi-definite -> W (p, p), or (p, r).
    """
    p = sigma.shape[-1]
    eigenvalues, U = torch.linalg.eigh(sigma)
    tol = p * torch.finfo(sigma.dtype).eps * eigenvalues.abs().max()
    if pseudo_inverse:
        keep = eigenvalues > tol
        return U[:, keep] * eigenvalues[keep].rsqrt()
    if eigenvalues.min() <= tol:
        raise RankDeficientError(
            f"Sigma (p={p}, {sigma.dtype}) is numerically singular: smallest eigenvalue "
            f"{eigenvalues.min().item():.3g} <= tolerance {tol.item():.3g}. X is rank-deficient "
            "or too ill-conditioned for this dtype (use float64, more rows than columns, or "
            "drop collinear columns)."
        )
    return U * eigenvalues.rsqrt()


def second_moment(X: torch.Tensor) -> torch.Tensor:
    """Sigma = X^T X / n, uncentred, as in the paper. Shape: (..., n, p) -> (..., p, p)."""
    return matmul(_t(X), X) / X.shape[-2]


def rank_tolerance(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(singular values of X, descending; the rank tolerance max(n, p) eps s_max), in X's dtype:
    X has numerical rank r = #{s > tolerance} (numpy's matrix_rank and lstsq use the same)."""
    n, p = X.shape[-2:]
    singular_values = torch.linalg.svdvals(X)
    return singular_values, max(n, p) * torch.finfo(X.dtype).eps * singular_values[..., 0]


def _values(values: torch.Tensor) -> str:
    return "[" + ", ".join(f"{v:.3g}" for v in values.tolist()) + "]"


def _rank_deficient(X: torch.Tensor, singular_values: torch.Tensor,
                    tol: torch.Tensor) -> RankDeficientError:
    n, p = X.shape
    rank = int((singular_values > tol).sum())
    return RankDeficientError(
        f"X (n={n}, p={p}, {X.dtype}) is numerically singular: numerical rank {rank} < p "
        f"(singular values {_values(singular_values)}, rank tolerance max(n, p) eps s_max = "
        f"{tol.item():.3g}). Drop collinear columns, scale them, or use more precision.")


def _why_refused(X: torch.Tensor) -> RankDeficientError:
    """The covariance route refused X (an eigenvalue of Sigma at or below its rounding level
    p eps lambda_max): say whether X itself is rank deficient (its singular values against the
    rank tolerance), or of full rank but beyond what the covariance route resolves."""
    n, p = X.shape
    singular_values, tol = rank_tolerance(X)
    if singular_values.numel() < p or singular_values[-1] <= tol:
        return _rank_deficient(X, singular_values, tol)
    cond = (singular_values[0] / singular_values[-1]).item()
    eigenvalues = torch.linalg.eigvalsh(second_moment(X))
    eigen_tol = p * torch.finfo(X.dtype).eps * eigenvalues.abs().max()
    return IllConditionedError(
        f"X (n={n}, p={p}, {X.dtype}) has full numerical rank {p} (singular values "
        f"{_values(singular_values)}, rank tolerance max(n, p) eps s_max = {tol.item():.3g}), "
        f"but the covariance route cannot resolve it: Sigma = X^T X / n is numerically singular "
        f"in {X.dtype} (smallest eigenvalue {eigenvalues.min().item():.3g} <= its rounding level "
        f"p eps lambda_max = {eigen_tol.item():.3g}; cond(X)^2 = {cond**2:.3g} exceeds "
        f"~1 / (p eps) = {1 / (p * torch.finfo(X.dtype).eps):.3g}). Use the SVD whitener "
        "(whitening='svd'), which works on X's singular values, or scale the columns.")


def svd_whitener(X: torch.Tensor, pseudo_inverse: bool = False) -> torch.Tensor:
    """W = V diag(sqrt(n) / S) from X = U S V^T: W W^T = n (X^T X)^-1 = Sigma^{-1} (Sigma's
    eigenvalues are S^2 / n), without forming Sigma. X is refused (RankDeficientError, with its
    singular values) only when its numerical rank is below p at the rank tolerance
    max(n, p) eps s_max; with ``pseudo_inverse`` the singular values above it are kept.

    Shape: X (n, p) -> W (p, p), or (p, r) with the pseudo-inverse.
    """
    n, p = X.shape
    _, singular_values, Vh = torch.linalg.svd(X, full_matrices=False)
    tol = max(n, p) * torch.finfo(X.dtype).eps * singular_values[0]
    keep = singular_values > tol
    if pseudo_inverse:
        return _t(Vh[keep]) * (n**0.5 / singular_values[keep])
    if singular_values.numel() < p or not bool(keep.all()):
        raise _rank_deficient(X, singular_values, tol)
    return _t(Vh) * (n**0.5 / singular_values)


def spectral_whitener(X: torch.Tensor, pseudo_inverse: bool = False,
                      whitening: Whitening = "eigh") -> torch.Tensor:
    """W with W W^T = Sigma^{-1} (or Sigma^+), Sigma = X^T X / n.

    ``whitening`` "eigh" (the default, the paper's literal form): from the eigen-decomposition of
    Sigma. Sigma's eigenvalues at or below p eps lambda_max are rounding noise there, and X is
    refused; the error then says, from X's singular values, whether X is rank deficient
    (RankDeficientError) or of full rank but beyond this route (IllConditionedError, a
    subclass). "svd": ``svd_whitener``, refused only when X is numerically rank deficient.

    With ``pseudo_inverse`` and fewer rows than columns (n < p: Sigma has rank <= n), the
    spectral decomposition comes from the n x n Gram matrix G = X X^T / n = V Lambda V^T
    instead of the p x p Sigma: Sigma's eigenvectors with a nonzero eigenvalue lambda are
    X^T v / sqrt(n lambda), so W = X^T V Lambda^{-1} / sqrt(n). Same W W^T, O(n^2 p) not O(p^3).

    Shape: X (n, p) -> W (p, p), or (p, r) with the pseudo-inverse (r the numerical rank).
    """
    n, p = X.shape
    if whitening == "svd":
        return svd_whitener(X, pseudo_inverse)
    if whitening != "eigh":
        raise ValueError(f"unknown whitening {whitening!r}; choose one of {', '.join(WHITENINGS)}")
    if pseudo_inverse and n < p:
        eigenvalues, V = torch.linalg.eigh(matmul(X, _t(X)) / n)
        keep = eigenvalues > p * torch.finfo(X.dtype).eps * eigenvalues.abs().max()
        return _t(X) @ (V[:, keep] / eigenvalues[keep]) / n**0.5
    try:
        return whitener(second_moment(X), pseudo_inverse)
    except RankDeficientError:
        raise _why_refused(X) from None


def cross_moment(X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(1/n) X^T y. Shape: X (..., n, p), y (..., n) -> (..., p, 1)."""
    return matmul(_t(X), y.unsqueeze(-1)) / X.shape[-2]


def coordinates(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """c = (1/n) W^T X^T y: beta_hat in the basis W (paper eq. 6), beta_hat = W c.

    Shape: W (..., p, k), X (..., n, p), y (..., n) -> c (..., k).
    """
    return matmul(_t(W), cross_moment(X, y)).squeeze(-1)


# ---- weight settings -------------------------------------------------------------------------

def homogeneous_weights(W: torch.Tensor, xty: torch.Tensor) -> Weights:
    """Eq. 8: W_Q = W_K = W_V = W, W_F = I, W_O = c(W) = W^T xty with xty = (1/n) X^T y
    (``cross_moment``); input tokens are the rows of X. W_O is *defined* from W, so a W that is
    a function of trainable parameters makes c one too. Shape: W (..., p, p), xty (..., p, 1)."""
    k = W.shape[-1]
    eye = torch.eye(k, dtype=W.dtype, device=W.device)
    return Weights(W, W, W, eye, matmul(_t(W), xty))


def in_context_weights(W: torch.Tensor, outputs: int = 1) -> Weights:
    """Eq. 5: tokens (x_i, y_i) with y_i of ``outputs`` entries; W_Q = W_K = [W; 0] read x,
    W_V = [0; I] reads y, W_F = W_O = I. Shape: W (..., p, k)."""
    p, k = W.shape[-2:]
    pad = torch.zeros(*W.shape[:-2], outputs, k, dtype=W.dtype, device=W.device)
    W_QK = torch.cat([W, pad], dim=-2)
    eye = torch.eye(outputs, dtype=W.dtype, device=W.device)
    W_V = torch.cat([torch.zeros(p, outputs, dtype=W.dtype, device=W.device), eye])
    return Weights(W_QK, W_QK, W_V, eye, eye)


def tokens(X: torch.Tensor, y: torch.Tensor | None = None, outputs: int = 1) -> torch.Tensor:
    """Rows (x_i, y_i); query tokens carry y = 0, which W_Q ignores.

    Shape: X (..., n, p), y (..., n) or (..., n, outputs) -> (..., n, p + outputs).
    """
    if y is None:
        y = torch.zeros(*X.shape[:-1], outputs, dtype=X.dtype, device=X.device)
    elif y.dim() == X.dim() - 1:
        y = y.unsqueeze(-1)
    return torch.cat([X, y], dim=-1)


@torch.no_grad()
def ols_transformer(X: torch.Tensor, y: torch.Tensor,
                    whitening: Whitening = "eigh") -> LinearTransformer:
    """The homogeneous-input OLS-Transformer for (X, y): forward(X) = X beta_hat."""
    return LinearTransformer.from_weights(homogeneous_weights(
        spectral_whitener(X, whitening=whitening), cross_moment(X, y)))


@torch.no_grad()
def in_context_transformer(W: torch.Tensor, outputs: int = 1) -> LinearTransformer:
    """Transformer over tokens (x_i, y_i): the task lives in the context, W in the weights."""
    return LinearTransformer.from_weights(in_context_weights(W, outputs))


@torch.no_grad()
def in_context_predict(
    W: torch.Tensor, X_context: torch.Tensor, y_context: torch.Tensor, X_query: torch.Tensor
) -> torch.Tensor:
    """y_q = (1/m) x_q^T W W^T sum_i x_i y_i over the m context tokens.

    Shape: W (p, k), X_context (m, p), y_context (m) or (m, o), X_query (q, p) -> (q) or (q, o).
    """
    outputs = 1 if y_context.dim() == 1 else y_context.shape[-1]
    out = forward(tokens(X_query, outputs=outputs), tokens(X_context, y_context),
                  in_context_weights(W, outputs))
    return out.squeeze(-1) if y_context.dim() == 1 else out


def tied_scalar_head(w: torch.Tensor, moment: torch.Tensor, form: Form) -> torch.Tensor:
    """The 1-D OLS-Transformer whose weights are all tied to one scalar w (paper Sec. 2.3), as
    its head H (y_hat = Zq H, queries from ``tied_scalar_queries``), differentiable in w.

    eq8: W_Q = W_K = W_V = w, W_F = 1, W_O = c(w) = (1/n) w sum_j x_j y_j, tokens x_j, so
         y_hat_i = (1/n^2) x_i w^4 (sum_j x_j^2)(sum_j x_j y_j) = y_hat_OLS,i (w / w*)^4;
    eq5: W_Q = W_K = w on tokens (x_j, y_j), value y, queries (x_i, 0), so
         y_hat_i = (1/n) x_i w^2 sum_j x_j y_j = y_hat_OLS,i (w / w*)^2;
    with w* = Sigma^{-1/2} = sqrt(n / sum_j x_j^2). The data enter through ``moment``, the
    second moment of the tokens (x_j, y_j): [[sum x^2, sum x y], [sum x y, sum y^2]] / n.

    Shape: w (...), moment (..., 2, 2), broadcasting -> H (..., d, 1), d = 1 (eq8), 2 (eq5).
    """
    W = w.reshape(*w.shape, 1, 1)
    if form == "eq8":
        return moment_head(moment[..., :1, :1], homogeneous_weights(W, moment[..., :1, 1:]))
    if form == "eq5":
        return moment_head(moment, in_context_weights(W))
    raise ValueError(f"unknown parameterisation {form!r}; choose one of {', '.join(FORMS)}")


def tied_scalar_queries(x: torch.Tensor, form: Form) -> torch.Tensor:
    """Query tokens of the tied 1-D model: x_i (eq8) or (x_i, 0) (eq5). (..., n) -> (..., n, d)."""
    X = x.unsqueeze(-1)
    return X if form == "eq8" else tokens(X)


def tied_scalar_predict(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                        form: Form) -> torch.Tensor:
    """Predictions of the tied 1-D model on its training data, token by token.

    Shape: w (...), x and y (..., n), broadcasting -> (..., n).
    """
    H = tied_scalar_head(w, second_moment(tokens(x.unsqueeze(-1), y)), form)
    return matmul(tied_scalar_queries(x, form), H).squeeze(-1)


def shared_attention_map(moments: torch.Tensor, W_Q: torch.Tensor,
                         W_V: torch.Tensor) -> torch.Tensor:
    """``moment_attention_map(moments, W_Q, None, W_V)`` for a stack of contexts that share one
    set of weights: W_Q S_b W_V for every context b, as two large matrix products over the whole
    stack instead of one small product per context (the same map, associated as W_Q (S_b W_V);
    used to train many in-context models at once, ``experiments/icl.py``).

    Shape: moments (..., B, d, d), W_Q (..., d, d), W_V (..., d, v) with the same leading
    dimensions ``...`` -> (..., B, d, v).
    """
    *lead, B, d, _ = moments.shape
    v = W_V.shape[-1]
    SV = matmul(moments.reshape(*lead, B * d, d), W_V).reshape(*lead, B, d, v)
    rows = SV.transpose(-1, -2).reshape(*lead, B * v, d)  # the rows of (S_b W_V)^T
    return matmul(rows, _t(W_Q)).reshape(*lead, B, v, d).transpose(-1, -2)
