"""Associative memories of Section 4 behind one interface, and batched retrieval. Pure torch.

M stored patterns xi_mu in {-1, +1}^N are the rows of ``patterns`` (M x N); states are rows of a
batch (B x N), one row per cue. A model first ``prepare``s what it needs of the patterns (once
per pattern set), then maps a batch of states to the next batch (``step``). The updates are
synchronous (every bit at once), so a state may end in a 2-cycle instead of lowering the energy
step by step; ``retrieve`` detects that.

Dense associative memories (Krotov & Hopfield 2016; Demircigil et al. 2017), energy
E(s) = -sum_mu F(xi_mu . s), synchronous update of every bit by the energy difference

    s_i <- sign( sum_mu F(xi_mu . s with s_i = +1) - F(xi_mu . s with s_i = -1) ),

a zero difference keeping s_i. With a_mu = xi_mu . s - xi_mu,i s_i (the overlap without bit i)
and xi_mu,i = +-1 the difference is  sum_mu xi_mu,i (F(a_mu + 1) - F(a_mu - 1)),  and a_mu is
h_mu - 1 where xi_mu,i = s_i and h_mu + 1 where not (h_mu = xi_mu . s). With
g(a) = (F(a+1) - F(a-1)) / 2 the field of every bit is therefore two matmuls:

    field_i = 1/2 [ (g(h-1) + g(h+1)) Xi ]_i + 1/2 s_i sum_mu (g(h-1) - g(h+1))_mu,

O(B M N) time and O(B M) memory, no B x M x N tensor. For F = x^n, g(h-1) + g(h+1) = P(h) and
g(h-1) - g(h+1) = -Q(h) with integer polynomials (``hopfield_theory.field_polynomials``; n = 2
gives the classical Hebbian rule with zero self-coupling). For F = exp, g(a) = sinh(1) e^a,
so the field is, up to the positive factor 2 cosh(1) e^(top),
E Xi - tanh(1) s sum_mu E_mu with E = e^(h - top), top = max_mu h_mu: nothing overflows.

Exact arithmetic: the overlaps of +-1 vectors are integers, and so are the fields of the
polynomial energies and of Hebbian linear attention. Each such model computes in float32 while
every number stays below 2^24 (exact there, and twice as fast), else in float64 below 2^53
(``hopfield_theory.exact_dtype``); the others (exponential, softmax, the projection rule) in
float64.

Attention forms:
- linear attention (Hebbian): s <- sign(Xi^T Xi s), construction.py's linear attention with
  identity weights (keys = values = the patterns), self-coupling kept;
- the OLS-Transformer's own memory (projection rule): slow memory W W^T = Sigma^+ with
  Sigma = Xi^T Xi / M (construction.spectral_whitener), attention map A = W W^T Sigma = P, the
  projector onto the patterns' span (construction.attention_map); s <- sign(s P), optionally
  with the diagonal of P removed;
- softmax attention, the continuous modern Hopfield update (Ramsauer et al. 2021):
  x <- Xi^T softmax(beta Xi x), a real state read out as sign(x).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from .construction import attention_map, linear_attention, spectral_whitener
from .hopfield_theory import exact_dtype, field_polynomials, spec

DTYPE = torch.float64  # patterns are stored in float64; models cast to what they need
DTYPES = {"float32": torch.float32, "float64": torch.float64}


class Memory(Protocol):
    """What the capacity estimator needs from a model."""

    name: str
    continuous: bool  # a real-valued state, read out by sign

    def prepare(self, patterns: torch.Tensor) -> Any:
        """What ``step`` needs of the patterns (M x N), computed once per pattern set."""
        ...

    def step(self, state: torch.Tensor, prepared: Any) -> torch.Tensor:
        """Next states (B x N) from states (B x N)."""
        ...


def keep_ties(field: torch.Tensor, state: torch.Tensor, tol: float = 0.0) -> torch.Tensor:
    """sign(field), with a zero field (|field| <= tol) keeping the current bit (no arbitrary
    tie-break)."""
    return torch.where(field > tol, 1.0, torch.where(field < -tol, -1.0, state)).to(state.dtype)


# The projection rule's field is a real number with rounding error ~ N eps (P's entries are
# O(1)); where it is exactly 0 in exact arithmetic, its float sign would be a coin flip, so
# |field| <= this counts as a tie.
PROJECTION_TIE = 1e-9


def overlaps(state: torch.Tensor, patterns: torch.Tensor) -> torch.Tensor:
    """h_mu = xi_mu . s for every state and pattern (B x M)."""
    return state @ patterns.T


def horner(coefficients: tuple[int, ...], a: torch.Tensor,
           squared: torch.Tensor | None = None) -> torch.Tensor:
    """sum_k c_k a^(len-1-k) by Horner's rule, exact on integers, in place on one new tensor
    (temporaries of B x M floats cost page faults, not just arithmetic). A polynomial with
    every other coefficient zero is evaluated in a^2 (``squared``, if given, is a * a)."""
    L = len(coefficients)
    if L > 2 and all(c == 0 for c in coefficients[1::2]):
        kept = coefficients[0::2]  # a polynomial q in a^2, times a when the degree is odd
        sq = a * a if squared is None else squared
        out = sq * float(kept[0])
        out.add_(kept[1])
        for c in kept[2:]:
            out.mul_(sq).add_(c)
        return out.mul_(a) if (L - 1) - 2 * (len(kept) - 1) == 1 else out
    if L == 1:
        return torch.full_like(a, float(coefficients[0]))
    out = a * float(coefficients[0])
    for i, c in enumerate(coefficients[1:], start=1):
        out.add_(c)
        if i < L - 1:
            out.mul_(a)
    return out


def power_sums(h: torch.Tensor, coefficients: tuple[int, ...],
               squared: torch.Tensor | None = None) -> torch.Tensor:
    """sum_mu Q(h_mu) per row for Q with these coefficients (highest power first), from the
    row sums of h^j, without a B x M tensor for Q (exact on integers). Shape: (B, M) -> (B, 1)."""
    degree = len(coefficients) - 1
    total = torch.zeros(h.shape[0], 1, dtype=h.dtype, device=h.device)
    power: torch.Tensor | None = None
    for j in range(degree + 1):
        c = coefficients[degree - j]
        if j == 1:
            power = h
        elif j == 2 and squared is not None:
            power = squared
        elif j >= 2:
            assert power is not None
            power = power * h
        if c:
            total += c * (power.sum(dim=1, keepdim=True) if j else float(h.shape[1]))
    return total


def _exact(name: str, patterns: torch.Tensor) -> torch.Tensor:
    """The patterns in the cheapest dtype that keeps the model's arithmetic exact."""
    M, N = patterns.shape
    dtype = exact_dtype(name, N, M)
    if dtype is None:
        raise ValueError(f"{name} at N={N} with M={M} patterns exceeds float64's exact "
                         "integers (2^53): lower hopfield.max_patterns or N")
    return patterns.to(DTYPES[dtype])


@dataclass(frozen=True)
class Prepared:
    """The patterns as a model computes with them: ``overlaps`` for h = s . xi (float32 where
    exact: |h| <= N < 2^24), ``field`` for the second matmul (the model's exact dtype)."""

    overlaps: torch.Tensor
    field: torch.Tensor


@dataclass(frozen=True)
class DenseAssociativeMemory:
    """E(s) = -sum_mu F(xi_mu . s) with F(x) = x^degree, or F = exp when degree is None."""

    name: str
    degree: int | None
    continuous: bool = False

    def prepare(self, patterns: torch.Tensor) -> Prepared:
        """The patterns (M, N) of +-1 in the dtypes ``field`` needs (``Prepared``)."""
        field = patterns.to(DTYPE) if self.degree is None else _exact(self.name, patterns)
        return Prepared(patterns.to(torch.float32), field)

    def field(self, state: torch.Tensor, prepared: Prepared) -> torch.Tensor:
        """Energy difference E(s_i = -1) - E(s_i = +1) per bit, up to a positive factor:
        states (B, N) -> field (B, N)."""
        patterns = prepared.field
        s = state.to(patterns.dtype)
        # The +-1 overlaps are exact in float32; the field needs the model's dtype.
        h = overlaps(state.to(torch.float32), prepared.overlaps).to(patterns.dtype)
        if self.degree is None:
            E = h.sub_(h.amax(dim=1, keepdim=True)).exp_()
            return E @ patterns - math.tanh(1.0) * s * E.sum(dim=1, keepdim=True)
        P, Q = field_polynomials(self.degree)
        squared = h * h if self.degree >= 3 else None
        return horner(P, h, squared) @ patterns - s * power_sums(h, Q, squared)

    def step(self, state: torch.Tensor, prepared: Prepared) -> torch.Tensor:
        """One synchronous update of every bit: states (B, N) -> (B, N), ties kept."""
        return keep_ties(self.field(state, prepared), state)


@dataclass(frozen=True)
class LinearAttention:
    """s <- sign(Xi^T Xi s): construction.py's linear attention with identity weights (keys =
    values = the patterns), the quadratic energy -|Xi s|^2 / 2 with the self-coupling kept."""

    name: str = "linear_attention"
    continuous: bool = False

    def prepare(self, patterns: torch.Tensor) -> torch.Tensor:
        """The patterns Xi (M, N) in the smallest dtype whose field is exact."""
        return _exact(self.name, patterns)

    def step(self, state: torch.Tensor, prepared: torch.Tensor) -> torch.Tensor:
        """s <- sign(Xi^T Xi s): states (B, N), patterns (M, N) -> states (B, N)."""
        # The attention's 1/M scale does not change a sign.
        field = linear_attention(state.to(prepared.dtype), prepared, None, None, None)
        return keep_ties(field, state)


@dataclass(frozen=True)
class OLSAttention:
    """The OLS-Transformer as an associative memory: keys = values = the patterns, slow memory
    W W^T = Sigma^+ (Sigma = Xi^T Xi / M), so the attention map is P = Xi^+ Xi, the projector
    onto the patterns' span: s <- sign(s P) (the projection rule), or with P's diagonal removed.
    Both W and P come from construction.py."""

    name: str = "ols_attention"
    zero_diagonal: bool = False
    continuous: bool = False

    def prepare(self, patterns: torch.Tensor) -> torch.Tensor:
        """The attention map P = Xi^+ Xi (N, N) of the patterns Xi (M, N), float64 (its
        diagonal removed with ``zero_diagonal``)."""
        Xi = patterns.to(DTYPE)
        W = spectral_whitener(Xi, pseudo_inverse=True)
        P = attention_map(Xi, W, W, None)
        if self.zero_diagonal:
            P = P - torch.diag(torch.diagonal(P))
        return P

    def step(self, state: torch.Tensor, prepared: torch.Tensor) -> torch.Tensor:
        """s <- sign(s P): states (B, N), P (N, N) -> states (B, N), near-zero fields kept."""
        return keep_ties(state.to(prepared.dtype) @ prepared, state, PROJECTION_TIE)


@dataclass(frozen=True)
class SoftmaxAttention:
    """x <- Xi^T softmax(beta Xi x); energy -lse(beta, Xi x) + |x|^2 / 2 (Ramsauer et al.)."""

    beta: float
    name: str = "softmax"
    continuous: bool = True

    def prepare(self, patterns: torch.Tensor) -> torch.Tensor:
        """The patterns Xi (M, N) in float64."""
        return patterns.to(DTYPE)

    def step(self, state: torch.Tensor, prepared: torch.Tensor) -> torch.Tensor:
        """x <- Xi^T softmax(beta Xi x): states (B, N), patterns (M, N) -> states (B, N)."""
        # torch.softmax subtracts the row maximum: finite for any beta * N.
        return torch.softmax(self.beta * overlaps(state.to(prepared.dtype), prepared),
                             dim=1) @ prepared


def make_model(name: str, softmax_beta: float = 1.0) -> Memory:
    """The model behind ``name`` (a key of hopfield_theory.MODELS)."""
    model = spec(name)
    if name == "softmax":
        return SoftmaxAttention(float(softmax_beta))
    if name == "linear_attention":
        return LinearAttention()
    if name in ("ols_attention", "ols_attention_zero_diag"):
        return OLSAttention(name, zero_diagonal=name.endswith("zero_diag"))
    return DenseAssociativeMemory(name, model.degree)


def readout(model: Memory, state: torch.Tensor) -> torch.Tensor:
    """The +-1 pattern a state stands for (sign of a continuous state; 0 stays 0, a failure)."""
    return torch.sign(state) if model.continuous else state


def converged(model: Memory, old: torch.Tensor, new: torch.Tensor, tol: float) -> torch.Tensor:
    """Per cue: a fixed point (binary states), or a step below ``tol`` in max norm (continuous)."""
    if model.continuous:
        return (new - old).abs().amax(dim=1) <= tol
    return (new == old).all(dim=1)


@dataclass(frozen=True)
class Retrieval:
    """Where ``retrieve`` stopped, per cue (B cues of N bits)."""

    states: torch.Tensor  # read-out +-1 states (B x N)
    fixed: torch.Tensor  # reached a fixed point (bool, B)
    steps: torch.Tensor  # updates made (B)


def retrieve(model: Memory, prepared: Any, cues: torch.Tensor, max_iter: int,
             tol: float = 1e-9) -> Retrieval:
    """Iterate ``step`` from the cues (B x N, float64) until each cue stops: at a fixed point,
    in a 2-cycle (binary states: the state of two steps back returns; synchronous updates of a
    symmetric energy end in one of the two), or after ``max_iter`` steps. ``prepared``: the
    model's ``prepare(patterns)``.

    Stopped cues leave the batch, so late steps cost only what is still moving.
    """
    state = cues.to(DTYPE).clone()
    fixed = torch.zeros(len(state), dtype=torch.bool, device=state.device)
    steps = torch.zeros(len(state), dtype=torch.long, device=state.device)
    active = torch.arange(len(state), device=state.device)
    back: torch.Tensor | None = None  # active states two steps back
    for _ in range(max_iter):
        if len(active) == 0:
            break
        old = state[active]
        new = model.step(old, prepared).to(DTYPE)
        state[active] = new
        steps[active] += 1
        done = converged(model, old, new, tol)
        fixed[active] = done
        if back is not None and not model.continuous:
            done = done | (new == back).all(dim=1)
        back, active = old[~done], active[~done]
    return Retrieval(readout(model, state), fixed, steps)


def resolve_device(choice: str, field: str = "hopfield.device") -> torch.device:
    """``auto``: cuda when available, else cpu; ``cuda`` when none is present is an error naming
    the config ``field`` (every stage with a ``device`` option resolves it here)."""
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"config '{field}' = cuda, but torch sees no CUDA device; "
                           "use auto or cpu")
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(choice)
