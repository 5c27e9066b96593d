"""The Hopfield updates in plain numpy, straight from their definitions: an independent
reference for the torch models of ``ols_transformer.hopfield`` (tests only)."""

from __future__ import annotations

import numpy as np

from ols_transformer.hopfield_theory import spec


def numpy_field(name: str, state: np.ndarray, patterns: np.ndarray,
                softmax_beta: float = 1.0) -> np.ndarray:
    """The models' fields by brute force (B x M x N): set each bit to +1 and to -1 and compare
    the energies. Independent of the matmul identity used by the torch models."""
    state, patterns = np.asarray(state, dtype=float), np.asarray(patterns, dtype=float)
    h = state @ patterns.T  # B x M
    if name == "linear_attention":
        return h @ patterns
    if name.startswith("ols_attention"):
        # The projection rule: P = Xi^+ Xi projects onto the patterns' span (Personnaz et al.).
        P = np.linalg.pinv(patterns) @ patterns
        if name.endswith("zero_diag"):
            P = P - np.diag(np.diag(P))
        return state @ P
    if name == "softmax":
        z = softmax_beta * h
        w = np.exp(z - z.max(axis=1, keepdims=True))
        return (w / w.sum(axis=1, keepdims=True)) @ patterns
    # Overlaps with bit i forced to +1 and to -1: B x M x N.
    without = h[:, :, None] - patterns[None, :, :] * state[:, None, :]
    plus, minus = without + patterns[None], without - patterns[None]
    if name == "exponential":
        # log sum e^(plus) - log sum e^(minus), each stabilised by its own maximum.
        return _logsumexp(plus, axis=1) - _logsumexp(minus, axis=1)
    degree = spec(name).degree
    return (plus ** degree).sum(axis=1) - (minus ** degree).sum(axis=1)


def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    top = x.max(axis=axis, keepdims=True)
    return np.squeeze(top, axis) + np.log(np.exp(x - top).sum(axis=axis))


def numpy_step(name: str, state: np.ndarray, patterns: np.ndarray,
               softmax_beta: float = 1.0) -> np.ndarray:
    """One update of ``name`` in plain numpy (softmax: the real-valued next state)."""
    field = numpy_field(name, state, patterns, softmax_beta)
    if name == "softmax":
        return field
    # The projection rule's field is real: within 1e-9 of 0 it is a tie (hopfield.py says why).
    tie = 1e-9 if name.startswith("ols_attention") else 0.0
    return np.where(field > tie, 1.0, np.where(field < -tie, -1.0, state))
