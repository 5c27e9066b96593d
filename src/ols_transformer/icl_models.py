"""The models of the icl stage, all over the same tokens z_i = (x_i, y_i) (p = d + 1 entries),
the query token (x_q, 0), only the N context tokens as keys and values, and the prediction minus
the query's y slot at the end (von Oswald et al. 2023, Ahn et al. 2023):

- ``lsa``: L layers of linear self-attention, Z <- Z + linear_attention(Z, Z_context, W_KQ, None,
  W_PV) (construction.py), by the token path (``lsa_predict``) or the moment path
  (``lsa_coefficients``: the stack sees its context through S = Z_c^T Z_c / N alone);
- ``softmax``: one layer of softmax attention, z_q + sum_i softmax_i(beta z_q^T W_KQ z_i /
  sqrt(p)) z_i^T W_PV, beta a learned scale (construction.attention_scores for the dot products);
- ``multi_head``: one layer of H heads of linear attention, z_q + sum_h linear_attention(z_q,
  Z_c, W_KQ^h, None, W_PV^h);
- ``mlp``: one linear attention layer, then a residual two-layer MLP with GELU on the query
  token, t <- t + GELU(t W_1 + b_1) W_2 + b_2;
- ``lsa_norm``: L layers of linear self-attention with pre-norm LayerNorm and residual
  connections, as standard Transformers: Z <- Z + linear_attention(LN_l(Z), LN_l(Z_context),
  W_KQ, None, W_PV), LN_l(z) = g_l * (z - mean z) / sqrt(var z + LN_EPS) + b_l over a token's p
  entries (the plain stack ``lsa`` is a polynomial of degree 3^L in the tokens; this one is not).

Parameters of the token-path designs are dicts of tensors with one leading model axis M (seeds
trained side by side); tokens carry the same axis. ``PREDICT`` names them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from .construction import attention_scores, linear_attention, shared_attention_map

Params = dict[str, torch.Tensor]


# ---- linear self-attention stacks ------------------------------------------------------------

def lsa_coefficients(S: torch.Tensor, K: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """u with y_hat = x_q^T u for L LSA layers, from the context's second moment (the moment path:
    ``construction.shared_attention_map`` = ``moment_attention_map`` for weights shared by a
    stack of contexts).

    Shape: S (..., B, p, p), K = W_KQ and V = W_PV (..., L, p, p) -> (..., B, d).
    """
    p = S.shape[-1]
    maps = []
    for layer in range(K.shape[-3]):
        W_KQ, W_PV = K[..., layer, :, :], V[..., layer, :, :]
        if layer == K.shape[-3] - 1:
            # The query needs the last layer's y column only: T_{L-1} e_y = e_y + A e_y.
            column = shared_attention_map(S, W_KQ, W_PV[..., -1:])[..., 0]
            break
        A = shared_attention_map(S, W_KQ, W_PV)
        maps.append(A)
        ST = S + S @ A  # S T, T = I + A
        S = ST + A.transpose(-1, -2) @ ST  # T^T S T: the context after the layer
    e_y = torch.zeros(p, dtype=S.dtype, device=S.device)
    e_y[-1] = 1.0
    c = column + e_y
    for A in reversed(maps):  # T_0 ... T_{L-2} c
        c = c + (A * c.unsqueeze(-2)).sum(-1)
    return -c[..., :-1]


def lsa_predict(context: torch.Tensor, queries: torch.Tensor, K: torch.Tensor,
                V: torch.Tensor) -> torch.Tensor:
    """The LSA stack on tokens (the token path): every layer Z <- Z + linear_attention(Z,
    Z_context, W_KQ, None, W_PV), prediction = -(query's y slot).

    Shape: context (..., N, p), queries (..., q, p) with y slot 0, K, V (L, p, p) -> (..., q).
    """
    n = context.shape[-2]
    Z = torch.cat([context, queries], -2)
    for W_KQ, W_PV in zip(K, V, strict=True):
        Z = Z + linear_attention(Z, Z[..., :n, :], W_KQ, None, W_PV)
    return -Z[..., n:, -1]


def read_gamma(K: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """One layer's preconditioner: -(W_PV[d, d] W_KQ[:d, :d] + W_KQ[:d, d] W_PV[:d, d]^T), the
    matrix of its bilinear term x_q^T Gamma h. Shape: K, V (..., p, p) -> (..., d, d)."""
    Kx, ky = K[..., :-1, :-1], K[..., :-1, -1]
    vx, vy = V[..., :-1, -1], V[..., -1, -1]
    return -(vy[..., None, None] * Kx + ky.unsqueeze(-1) * vx.unsqueeze(-2))


def gamma_weights(gamma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One layer (W_KQ, W_PV) whose predictor is exactly x_q^T Gamma h: W_KQ = [[Gamma, 0],
    [0, 0]], W_PV = -e_y e_y^T. Shape: (d, d) -> (1, p, p) each."""
    d = gamma.shape[-1]
    K = torch.zeros(1, d + 1, d + 1, dtype=gamma.dtype, device=gamma.device)
    V = torch.zeros_like(K)
    K[0, :d, :d] = gamma
    V[0, d, d] = -1.0
    return K, V


def initial_weights(rng: np.random.Generator, depth: int, d: int,
                    scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Zhang-Frei-Bartlett start per layer: W_KQ[:d, :d] = s Theta Theta^T / d, W_PV[d, d] = -s.
    Shape: -> (depth, p, p) each."""
    theta = rng.standard_normal((depth, d, d))
    K = np.zeros((depth, d + 1, d + 1))
    V = np.zeros_like(K)
    K[:, :d, :d] = scale * theta @ theta.transpose(0, 2, 1) / d
    V[:, d, d] = -scale
    return K, V


def random_weights(rng: np.random.Generator, depth: int, d: int,
                   scale: float) -> tuple[np.ndarray, np.ndarray]:
    """A fully random start: every entry of W_KQ and W_PV ~ N(0, scale^2 / p) (the alternative
    to ``initial_weights`` in the sensitivity grid). Shape: -> (depth, p, p) each."""
    p = d + 1
    K = scale * rng.standard_normal((depth, p, p)) / math.sqrt(p)
    V = scale * rng.standard_normal((depth, p, p)) / math.sqrt(p)
    return K, V


# ---- token-path designs ----------------------------------------------------------------------

def _read(query: torch.Tensor) -> torch.Tensor:
    """Prediction: minus the y slot. Shape: (..., q, p) -> (..., q)."""
    return -query[..., -1]


def _per_model(weight: torch.Tensor, extra: int) -> torch.Tensor:
    """A (M, ...) weight with ``extra`` unit axes after M, to broadcast over tokens (M, B, ...)."""
    return weight.reshape(weight.shape[:1] + (1,) * extra + weight.shape[1:])


def softmax_predict(params: Params, context: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """One softmax-attention layer. params K, V (M, p, p), log_beta (M,); context (M, B, N, p),
    queries (M, B, q, p) -> (M, B, q)."""
    p = context.shape[-1]
    K, V = _per_model(params["K"], 1), _per_model(params["V"], 1)
    beta = params["log_beta"].exp().reshape(-1, 1, 1, 1)
    # attention_scores divides by N; the softmax takes the raw dot products
    logits = attention_scores(queries, context, K, None) * context.shape[-2] * beta / math.sqrt(p)
    return _read(queries + torch.softmax(logits, -1) @ (context @ V))


def multi_head_predict(params: Params, context: torch.Tensor,
                       queries: torch.Tensor) -> torch.Tensor:
    """H heads of linear attention, summed. params K, V (M, H, p, p); context (M, B, N, p),
    queries (M, B, q, p) -> (M, B, q)."""
    out = queries
    for h in range(params["K"].shape[1]):
        K, V = _per_model(params["K"][:, h], 1), _per_model(params["V"][:, h], 1)
        out = out + linear_attention(queries, context, K, None, V)
    return _read(out)


def mlp_predict(params: Params, context: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """Linear attention, then t + GELU(t W1 + b1) W2 + b2 on the query token. params K, V
    (M, p, p), W1 (M, p, m), b1 (M, m), W2 (M, m, p), b2 (M, p) -> (M, B, q)."""
    K, V = _per_model(params["K"], 1), _per_model(params["V"], 1)
    t = queries + linear_attention(queries, context, K, None, V)
    hidden = torch.nn.functional.gelu(t @ _per_model(params["W1"], 1)
                                      + _per_model(params["b1"], 2))
    return _read(t + hidden @ _per_model(params["W2"], 1) + _per_model(params["b2"], 2))


LN_EPS = 1e-5  # torch.nn.LayerNorm's default


def layer_norm(z: torch.Tensor, gain: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """LayerNorm over the last axis (biased variance, as torch.nn.LayerNorm), then gain and
    bias. Shape: z (..., p), gain and bias broadcast to it."""
    mean = z.mean(-1, keepdim=True)
    var = ((z - mean) ** 2).mean(-1, keepdim=True)
    return (z - mean) / torch.sqrt(var + LN_EPS) * gain + bias


def norm_stack_predict(params: Params, context: torch.Tensor,
                       queries: torch.Tensor) -> torch.Tensor:
    """L pre-norm LSA layers with residuals. params K, V (M, L, p, p), g, b (M, L, p); context
    (M, B, N, p), queries (M, B, q, p) -> (M, B, q)."""
    n = context.shape[-2]
    Z = torch.cat([context, queries], -2)
    for layer in range(params["K"].shape[1]):
        K, V = _per_model(params["K"][:, layer], 1), _per_model(params["V"][:, layer], 1)
        g, b = _per_model(params["g"][:, layer], 2), _per_model(params["b"][:, layer], 2)
        H = layer_norm(Z, g, b)
        Z = Z + linear_attention(H, H[..., :n, :], K, None, V)
    return _read(Z[..., n:, :])


PREDICT: dict[str, Callable[[Params, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "softmax": softmax_predict, "multi_head": multi_head_predict, "mlp": mlp_predict,
    "lsa_norm": norm_stack_predict}


def design_weights(design: str, rng: np.random.Generator, d: int, scale: float, heads: int,
                   width: int, depth: int = 1) -> dict[str, np.ndarray]:
    """One model's start: the attention as ``initial_weights`` (a head or layer each its own
    draw), an MLP with W1 ~ N(0, 1/p) and W2, biases 0 (the residual starts as the identity),
    the softmax scale beta = 1, LayerNorm gains 1 and biases 0."""
    p = d + 1
    if design == "lsa_norm":
        K, V = initial_weights(rng, depth, d, scale)
        return {"K": K, "V": V, "g": np.ones((depth, p)), "b": np.zeros((depth, p))}
    if design == "multi_head":
        K, V = initial_weights(rng, heads, d, scale)
        return {"K": K, "V": V}
    K, V = initial_weights(rng, 1, d, scale)
    out = {"K": K[0], "V": V[0]}
    if design == "softmax":
        out["log_beta"] = np.zeros(())
    elif design == "mlp":
        out.update(W1=rng.standard_normal((p, width)) / math.sqrt(p), b1=np.zeros(width),
                   W2=np.zeros((width, p)), b2=np.zeros(p))
    else:
        raise ValueError(f"unknown design {design!r}; known: {', '.join(PREDICT)}")
    return out
