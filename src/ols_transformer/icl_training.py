"""One training loop for every model of the icl stage: Adam, elementwise and written out so that
each model of a batch (a leading model axis M) has its own learning rate, step cap and gradient
clip; a linear warm-up over the first WARMUP share of a model's cap and a cosine decay to 0 at
it; and early stopping on a held-out validation loss.

Early stopping: every ``eval_every`` steps each model's validation loss (fixed held-out tasks)
is computed; a model whose loss has not fallen below (1 - MIN_DELTA) times its best for
``patience`` evaluations in a row, or that reached its step cap, stops (its learning rate is 0
from then on) and keeps the weights of its best evaluation. ``steps_used`` is the step at which
it stopped, ``best_step`` the step of the weights kept. The loop ends when every model stopped.

Models come in groups (the depths of a stack, the designs): a group owns some parameter tensors
(``group_of``) and the loss functions return one row per group, (G, M). A loss that is NaN or
infinite stops the run with FloatingPointError naming the model (``describe``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

WARMUP = 0.05  # share of a model's step cap with a linear warm-up of the learning rate
MIN_DELTA = 1e-3  # a validation loss counts as better below (1 - MIN_DELTA) times the best
BETAS, EPS = (0.9, 0.999), 1e-8  # Adam's defaults (torch.optim.Adam)


@dataclass(frozen=True)
class Budget:
    """Per model m of the batch: peak learning rate, step cap, gradient-norm clip (0 = off).
    Shape: each (M,)."""

    learning_rate: np.ndarray
    cap: np.ndarray
    clip: np.ndarray
    eval_every: int
    patience: int


@dataclass(frozen=True)
class Fit:
    """The weights kept (best validation loss), and per (group, model) the steps used, the step
    of the weights kept and the loss history (rows: step, group, model, train, validation)."""

    params: dict[str, torch.Tensor]
    steps_used: np.ndarray  # (G, M)
    best_step: np.ndarray  # (G, M)
    history: list[tuple[int, int, int, float, float]]


def schedule(peak: np.ndarray, cap: np.ndarray, step: int) -> np.ndarray:
    """Learning rate at ``step`` for models of peak ``peak`` and cap ``cap``: linear warm-up,
    cosine decay to 0 at the cap, 0 after it. Shape: (M,) -> (M,)."""
    warm = np.maximum(1, np.round(WARMUP * cap))
    scale = np.minimum(1.0, (step + 1) / warm) * 0.5 * (1 + np.cos(np.pi * np.minimum(step, cap)
                                                                    / cap))
    return np.where(step < cap, peak * scale, 0.0)


def _expand(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return values.reshape(values.shape + (1,) * (like.dim() - 1))


def fit(params: dict[str, torch.Tensor], group_of: Mapping[str, int],
        train_loss: Callable[[int], torch.Tensor], valid_loss: Callable[[], torch.Tensor],
        budget: Budget, describe: Callable[[int, int], str]) -> Fit:
    """Train ``params`` (each (M, ...), leaf tensors with requires_grad) on ``train_loss(step)``
    -> (G, M) (a fresh batch each step; the sum is minimised), with early stopping on
    ``valid_loss()`` -> (G, M)."""
    groups = max(group_of.values()) + 1
    M = len(budget.cap)
    device = next(iter(params.values())).device
    moments = {k: (torch.zeros_like(p), torch.zeros_like(p)) for k, p in params.items()}
    best = {k: p.detach().clone() for k, p in params.items()}
    best_loss = np.full((groups, M), np.inf)
    best_step = np.zeros((groups, M), dtype=int)
    waited = np.zeros((groups, M), dtype=int)
    stopped = np.zeros((groups, M), dtype=bool)
    steps_used = np.zeros((groups, M), dtype=int)
    history: list[tuple[int, int, int, float, float]] = []
    running = np.zeros((groups, M))
    count = 0
    cap = budget.cap.astype(int)
    for step in range(int(cap.max())):
        loss = train_loss(step)
        bad = ~torch.isfinite(loss.detach())
        if bad.any():
            g, m = (int(k) for k in torch.nonzero(bad)[0])
            raise FloatingPointError(
                f"icl training diverged (loss {loss[g, m].item()}) at step {step} for "
                f"{describe(g, m)} (learning_rate={budget.learning_rate[m]:g}, "
                f"grad_clip={budget.clip[m]:g}): lower icl.learning_rate or icl.init_scale, "
                "or clip (icl.grad_clip > 0)")
        running += loss.detach().cpu().numpy()
        count += 1
        for p in params.values():
            p.grad = None
        loss.sum().backward()
        grads = {k: p.grad for k, p in params.items()}
        clip = torch.as_tensor(budget.clip, dtype=loss.dtype, device=device)
        for g in range(groups):  # per model: the gradient norm over its group's tensors
            keys = [k for k, gg in group_of.items() if gg == g]
            norm = sum((grads[k] ** 2).reshape(M, -1).sum(-1) for k in keys).sqrt()
            factor = torch.where(clip > 0, (clip / norm).clamp(max=1.0), torch.ones_like(norm))
            for k in keys:
                grads[k] = grads[k] * _expand(factor, grads[k])
        lr = schedule(budget.learning_rate, cap, step)
        t = step + 1
        with torch.no_grad():
            for k, p in params.items():
                live = torch.as_tensor(lr * ~stopped[group_of[k]], dtype=p.dtype, device=device)
                m1, m2 = moments[k]
                m1.mul_(BETAS[0]).add_(grads[k], alpha=1 - BETAS[0])
                m2.mul_(BETAS[1]).addcmul_(grads[k], grads[k], value=1 - BETAS[1])
                update = (m1 / (1 - BETAS[0] ** t)) / ((m2 / (1 - BETAS[1] ** t)).sqrt() + EPS)
                p.sub_(_expand(live, p) * update)
        last = step + 1 == int(cap.max())
        if t % budget.eval_every and not last:
            continue
        with torch.no_grad():
            valid = valid_loss().cpu().numpy()
        for g in range(groups):
            for m in range(M):
                if not stopped[g, m]:
                    history.append((t, g, m, running[g, m] / count, float(valid[g, m])))
        running[:] = 0.0
        count = 0
        better = (valid < best_loss * (1 - MIN_DELTA)) & ~stopped
        best_loss = np.where(better, valid, best_loss)
        best_step = np.where(better, t, best_step)
        waited = np.where(better, 0, waited + 1)
        for k, p in params.items():
            mask = torch.as_tensor(better[group_of[k]], device=device)
            best[k] = torch.where(_expand(mask, p), p.detach(), best[k])
        done = ((waited >= budget.patience) | (t >= cap[None, :])) & ~stopped
        steps_used = np.where(done, t, steps_used)
        stopped |= done
        if stopped.all():
            break
    steps_used = np.where(stopped, steps_used, int(cap.max()))
    return Fit({k: v.cpu() for k, v in best.items()}, steps_used, best_step, history)


def peak_budget(M: int, learning_rate: float, cap: int, clip: float, eval_every: int,
                patience: int) -> Budget:
    """The same budget for M models."""
    return Budget(np.full(M, float(learning_rate)), np.full(M, int(cap)), np.full(M, float(clip)),
                  int(eval_every), int(patience))
