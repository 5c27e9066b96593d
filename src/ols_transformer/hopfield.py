"""Associative memories of Section 4 behind one interface, and batched retrieval. Pure torch.

M stored patterns xi_mu in {-1, +1}^N are the rows of ``patterns`` (M x N); states are rows of a
batch (B x N), one row per cue. Every model maps a batch of states to the next batch (``step``),
an update derived from the model's energy (below). The updates are synchronous (every bit at
once, one matmul), so a state may end in a 2-cycle instead of lowering the energy step by step;
``retrieve`` detects that.

Dense associative memories (Krotov & Hopfield 2016; Demircigil et al. 2017), energy
E(s) = -sum_mu F(xi_mu . s), synchronous update of every bit by the energy difference

    s_i <- sign( sum_mu F(xi_mu . s with s_i = +1) - F(xi_mu . s with s_i = -1) ),

a zero difference keeping s_i. With a_mu = xi_mu . s - xi_mu,i s_i (the overlap without bit i)
and xi_mu,i = +-1 the difference is  sum_mu xi_mu,i (F(a_mu + 1) - F(a_mu - 1)),  and a_mu is
h_mu - 1 where xi_mu,i = s_i and h_mu + 1 where not (h_mu = xi_mu . s). With
g(a) = (F(a+1) - F(a-1)) / 2 the field of every bit is therefore one matmul:

    field_i = 1/2 [ (g(h-1) + g(h+1)) Xi ]_i + 1/2 s_i sum_mu (g(h-1) - g(h+1))_mu,

O(B M N) time and O(B M) memory, no B x M x N tensor. F = x^2 gives the classical Hebbian rule
with zero self-coupling; F = x^n gives g(a) = ((a+1)^n - (a-1)^n) / 2, an integer, exact in
float64 while |values| < 2^53; F = exp gives g(a) = sinh(1) e^a, computed as e^(h -+ 1 - max h)
(one positive factor per cue does not change a sign; nothing overflows, tiny terms underflow
to 0 harmlessly).

Attention forms (the OLS-Transformer's retrieval and its softmax counterpart):
- linear attention: s <- sign(Xi^T (Xi s) / N), the continuous form of the classical (F = x^2)
  memory with the self-coupling kept, sign-thresholded (zero keeps the bit);
- softmax attention, the continuous modern Hopfield update (Ramsauer et al. 2021):
  x <- Xi^T softmax(beta Xi x), a real state read out as sign(x).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch

from .construction import linear_attention
from .hopfield_theory import spec

DTYPE = torch.float64  # integer fields of the power models stay exact below 2^53


class Memory(Protocol):
    """What the capacity estimator needs from a model."""

    name: str
    continuous: bool  # a real-valued state, read out by sign

    def step(self, state: torch.Tensor, patterns: torch.Tensor) -> torch.Tensor:
        """Next states (B x N) from states (B x N) and patterns (M x N)."""
        ...


def keep_ties(field: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    """sign(field), with a zero field keeping the current bit (no arbitrary tie-break)."""
    return torch.where(field > 0, 1.0, torch.where(field < 0, -1.0, state)).to(state.dtype)


def overlaps(state: torch.Tensor, patterns: torch.Tensor) -> torch.Tensor:
    """h_mu = xi_mu . s for every state and pattern (B x M)."""
    return state @ patterns.T


def separation_coefficients(n: int) -> tuple[int, ...]:
    """Integer coefficients, highest power first, of g(a) = ((a+1)^n - (a-1)^n) / 2: the odd
    binomial terms, sum over odd j of C(n, j) a^(n-j). Entry k holds the power a^(n-1-k), which
    comes from j = k + 1 (n = 2: (2, 0) = 2a; n = 3: (3, 0, 1) = 3a^2 + 1)."""
    return tuple(math.comb(n, k + 1) if (k + 1) % 2 == 1 else 0 for k in range(n))


def horner(coefficients: tuple[int, ...], a: torch.Tensor) -> torch.Tensor:
    """sum_k c_k a^(len-1-k) by Horner's rule: exact on integers, cheaper than powers."""
    out = torch.full_like(a, float(coefficients[0]))
    for c in coefficients[1:]:
        out = out * a + c
    return out


@dataclass(frozen=True)
class DenseAssociativeMemory:
    """E(s) = -sum_mu F(xi_mu . s) with F(x) = x^degree, or F = exp when degree is None."""

    name: str
    degree: int | None
    continuous: bool = False

    def separation(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """g(h - 1), g(h + 1), up to one positive factor per cue (row)."""
        if self.degree is None:
            top = h.amax(dim=1, keepdim=True)  # e^(h - top) <= 1: no overflow at any N
            return torch.exp(h - 1.0 - top), torch.exp(h + 1.0 - top)
        coefficients = separation_coefficients(self.degree)
        return horner(coefficients, h - 1.0), horner(coefficients, h + 1.0)

    def field(self, state: torch.Tensor, patterns: torch.Tensor) -> torch.Tensor:
        """Energy difference E(s_i = -1) - E(s_i = +1) per bit, up to a positive factor."""
        below, above = self.separation(overlaps(state, patterns))
        return 0.5 * ((below + above) @ patterns
                      + state * (below - above).sum(dim=1, keepdim=True))

    def step(self, state: torch.Tensor, patterns: torch.Tensor) -> torch.Tensor:
        return keep_ties(self.field(state, patterns), state)


@dataclass(frozen=True)
class LinearAttention:
    """s <- sign(Xi^T Xi s): construction.py's linear attention with identity weights (keys =
    values = the patterns), the quadratic energy -|Xi s|^2 / 2 with the self-coupling kept."""

    name: str = "linear_attention"
    continuous: bool = False

    def step(self, state: torch.Tensor, patterns: torch.Tensor) -> torch.Tensor:
        # The attention's 1/M scale does not change a sign.
        return keep_ties(linear_attention(state, patterns, None, None, None), state)


@dataclass(frozen=True)
class SoftmaxAttention:
    """x <- Xi^T softmax(beta Xi x); energy -lse(beta, Xi x) + |x|^2 / 2 (Ramsauer et al.)."""

    beta: float
    name: str = "softmax"
    continuous: bool = True

    def step(self, state: torch.Tensor, patterns: torch.Tensor) -> torch.Tensor:
        # torch.softmax subtracts the row maximum: finite for any beta * N.
        return torch.softmax(self.beta * overlaps(state, patterns), dim=1) @ patterns


def make_model(name: str, softmax_beta: float = 1.0) -> Memory:
    """The model behind ``name`` (a key of hopfield_theory.MODELS)."""
    model = spec(name)
    if name == "softmax":
        return SoftmaxAttention(float(softmax_beta))
    if name == "linear_attention":
        return LinearAttention()
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
    states: torch.Tensor  # read-out +-1 states (B x N)
    fixed: torch.Tensor  # reached a fixed point (bool, B)
    steps: torch.Tensor  # updates made (B)


def retrieve(model: Memory, patterns: torch.Tensor, cues: torch.Tensor, max_iter: int,
             tol: float = 1e-9) -> Retrieval:
    """Iterate ``step`` from the cues until each cue stops: at a fixed point, in a 2-cycle
    (binary states: the state of two steps back returns; synchronous updates of a symmetric
    energy end in one of the two), or after ``max_iter`` steps.

    Stopped cues leave the batch, so late steps cost only what is still moving.
    """
    state = cues.to(patterns.dtype).clone()
    fixed = torch.zeros(len(state), dtype=torch.bool, device=state.device)
    steps = torch.zeros(len(state), dtype=torch.long, device=state.device)
    active = torch.arange(len(state), device=state.device)
    back: torch.Tensor | None = None  # active states two steps back
    for _ in range(max_iter):
        if len(active) == 0:
            break
        old = state[active]
        new = model.step(old, patterns)
        state[active] = new
        steps[active] += 1
        done = converged(model, old, new, tol)
        fixed[active] = done
        if back is not None and not model.continuous:
            done = done | (new == back).all(dim=1)
        back, active = old[~done], active[~done]
    return Retrieval(readout(model, state), fixed, steps)


def resolve_device(choice: str) -> torch.device:
    """``auto``: cuda when available, else cpu; ``cuda`` when none is present is an error."""
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config 'hopfield.device' = cuda, but torch sees no CUDA device; "
                           "use auto or cpu")
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(choice)
