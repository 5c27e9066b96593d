"""One training loop for every model of the icl stage: Adam, elementwise and written out so that
each model of a batch (a leading model axis M) has its own learning rate, step cap and gradient
clip, trained until its validation loss plateaus.

Schedule: a linear warm-up over the first ``eval_every`` steps to the peak learning rate, then
constant; every ``eval_every`` steps each model's validation loss (fixed held-out tasks) is
computed. A plateau is ``patience`` evaluations in a row without a validation loss below
(1 - ``tolerance``) times the best. On a plateau the model's learning rate is cut by ``DECAY``
(``reductions`` times); the next plateau stops it: it has *converged*. A model that reaches its
step cap first stops too, with the cap recorded as binding (status ``cap``). A model whose loss
turns NaN or infinite, or whose validation loss stays above its value at the start for ``patience``
evaluations in a row, has *diverged* (status ``diverged``): it stops at once, and nothing of it
enters the others (every model has its own parameters, moments and clip). A rise above the start
that falls back sooner is an evaluation without improvement, as any other: a stack of L LSA layers
is a polynomial of degree 3^L in its tokens, its per-task loss heavy-tailed, and a few held-out
tasks of a thousand can lift the mean above the start for an evaluation or two while the median
falls (measured at L = 3, isotropic, N = 20, seed 0, init scale 0.3, lr 0.02 / 9: mean 3.12, 7.63,
5.10, 2.98, 0.88, 0.35 at steps 0-400 by 50, median 1.72 to 0.20 from step 50, the worst task 4.9e3
at step 50). Every model keeps the weights of its best evaluation; ``steps_used`` is the step at
which it stopped, ``best_step`` the step of the weights kept.

Models come in groups (the depths of a stack, the designs): a group owns some parameter tensors
(``group_of``) and the loss functions return one row per group, (G, M); a model's status is per
(group, model). The loss functions are told which (group, model) pairs still train (``live``,
(G, M) bool) and compute those alone (the others' entries are ignored, 0 is fine): a batch of
models trained side by side stops paying for a model once it stopped (the models of a batch stop
from ~900 to ~3000 steps), and a model's own computation is the same whoever else is in the
batch. Restarts and retries of a diverged model are the callers' (experiments/icl.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

DECAY = 0.3  # learning-rate cut on a plateau
BETAS, EPS = (0.9, 0.999), 1e-8  # Adam's defaults (torch.optim.Adam)
CONVERGED, CAP, DIVERGED = "converged", "cap", "diverged"  # how a model stopped


@dataclass(frozen=True)
class Budget:
    """Per model m of the batch: peak learning rate, step cap, gradient-norm clip (0 = off),
    each (M,); the evaluation period, the patience (evaluations), the relative tolerance of an
    improvement and the learning-rate cuts before a plateau stops a model."""

    learning_rate: np.ndarray
    cap: np.ndarray
    clip: np.ndarray
    eval_every: int
    patience: int
    tolerance: float = 1e-3
    reductions: int = 0
    group_scale: tuple[float, ...] = ()  # per group, a factor on the learning rate (() : 1)


@dataclass(frozen=True)
class Fit:
    """The weights kept (best validation loss), and per (group, model) the steps used, the step
    of the weights kept, how it stopped (``status``: CONVERGED, CAP, DIVERGED), the validation
    loss at the start and the best, and the loss history (rows: step, group, model, train,
    validation)."""

    params: dict[str, torch.Tensor]
    steps_used: np.ndarray  # (G, M)
    best_step: np.ndarray  # (G, M)
    status: np.ndarray  # (G, M), str
    start_loss: np.ndarray  # (G, M)
    best_loss: np.ndarray  # (G, M)
    history: list[tuple[int, int, int, float, float]]


def schedule(peak: np.ndarray, warmup: int, step: int, cut: np.ndarray) -> np.ndarray:
    """Learning rate at ``step`` (0-based) of models of peak ``peak`` that were cut ``cut``
    times: peak min(1, (step + 1) / warmup) DECAY^cut. Shape: (M,) or (G, M) -> the same."""
    return peak * min(1.0, (step + 1) / max(1, warmup)) * DECAY ** cut


def _expand(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return values.reshape(values.shape + (1,) * (like.dim() - 1))


LossFn = Callable[[np.ndarray], torch.Tensor]  # live (G, M) bool -> losses (G, M)


def fit(params: dict[str, torch.Tensor], group_of: Mapping[str, int],
        train_loss: Callable[[int, np.ndarray], torch.Tensor], valid_loss: LossFn,
        budget: Budget) -> Fit:
    """Train ``params`` (each (M, ...), leaf tensors with requires_grad) on ``train_loss(step,
    live)`` -> (G, M) (a fresh batch each step; the sum is minimised) until each model
    converged, hit its cap or diverged, judged on ``valid_loss(live)`` -> (G, M); ``live``
    (G, M) bool: the pairs still training, the only entries read."""
    groups = max(group_of.values()) + 1
    M = len(budget.cap)
    device = next(iter(params.values())).device
    moments = {k: (torch.zeros_like(p), torch.zeros_like(p)) for k, p in params.items()}
    best = {k: p.detach().clone() for k, p in params.items()}
    with torch.no_grad():
        start = valid_loss(np.ones((groups, M), dtype=bool)).cpu().numpy()
    start = np.where(np.isfinite(start), start, np.inf)
    best_loss = start.copy()
    best_step = np.zeros((groups, M), dtype=int)
    waited = np.zeros((groups, M), dtype=int)
    above = np.zeros((groups, M), dtype=int)  # evaluations in a row above the start
    cut = np.zeros((groups, M), dtype=int)
    status = np.full((groups, M), "", dtype=object)
    steps_used = np.zeros((groups, M), dtype=int)
    history: list[tuple[int, int, int, float, float]] = []
    running = np.zeros((groups, M))
    count = 0
    cap = budget.cap.astype(int)
    clip = None
    for step in range(int(cap.max())):
        live_models = status == ""
        loss = train_loss(step, live_models)
        finite = torch.isfinite(loss.detach())
        bad = ~finite.cpu().numpy() & live_models
        if bad.any():  # diverged: stop it now, with the weights of its best evaluation
            status[bad] = DIVERGED
            steps_used[bad] = step + 1
        loss = torch.where(finite, loss, torch.zeros_like(loss))
        running += loss.detach().cpu().numpy()
        count += 1
        for p in params.values():
            p.grad = None
        if loss.requires_grad:
            loss.sum().backward()
        # a tensor of a group with no live model is not in the graph: no gradient
        grads = {k: torch.zeros_like(p) if p.grad is None else
                 torch.nan_to_num(p.grad, nan=0.0, posinf=0.0, neginf=0.0)
                 for k, p in params.items()}
        if clip is None:
            clip = torch.as_tensor(budget.clip, dtype=loss.dtype, device=device)
        for g in range(groups):  # per model: the gradient norm over its group's tensors
            keys = [k for k, gg in group_of.items() if gg == g]
            norm = sum((grads[k] ** 2).reshape(M, -1).sum(-1) for k in keys).sqrt()
            factor = torch.where(clip > 0, (clip / norm).clamp(max=1.0), torch.ones_like(norm))
            for k in keys:
                grads[k] = grads[k] * _expand(factor, grads[k])
        scale = np.asarray(budget.group_scale or (1.0,) * groups)[:, None]
        lr = schedule(budget.learning_rate[None, :] * scale, budget.eval_every, step, cut)
        lr = np.where(status == "", lr, 0.0)
        t = step + 1
        with torch.no_grad():
            for k, p in params.items():
                live = torch.as_tensor(lr[group_of[k]], dtype=p.dtype, device=device)
                m1, m2 = moments[k]
                m1.mul_(BETAS[0]).add_(grads[k], alpha=1 - BETAS[0])
                m2.mul_(BETAS[1]).addcmul_(grads[k], grads[k], value=1 - BETAS[1])
                update = (m1 / (1 - BETAS[0] ** t)) / ((m2 / (1 - BETAS[1] ** t)).sqrt() + EPS)
                p.sub_(_expand(live, p) * update)
        last = step + 1 == int(cap.max())
        if t % budget.eval_every and not last:
            continue
        live_models = status == ""
        with torch.no_grad():
            valid = valid_loss(live_models).cpu().numpy()
        for g in range(groups):
            for m in range(M):
                if live_models[g, m]:
                    history.append((t, g, m, running[g, m] / count, float(valid[g, m])))
        running[:] = 0.0
        count = 0
        above = np.where(valid > start, above + 1, 0)
        diverged = live_models & (~np.isfinite(valid) | (above >= budget.patience))
        status[diverged] = DIVERGED
        steps_used[diverged] = t
        live_models &= ~diverged
        better = (valid < best_loss * (1 - budget.tolerance)) & live_models
        best_loss = np.where(better, valid, best_loss)
        best_step = np.where(better, t, best_step)
        waited = np.where(better, 0, waited + 1)
        for k, p in params.items():
            mask = torch.as_tensor(better[group_of[k]], device=device)
            best[k] = torch.where(_expand(mask, p), p.detach(), best[k])
        plateau = live_models & (waited >= budget.patience)
        stop = plateau & (cut >= budget.reductions)
        cut = np.where(plateau & ~stop, cut + 1, cut)
        waited = np.where(plateau & ~stop, 0, waited)
        status[stop] = CONVERGED
        capped = live_models & ~stop & (t >= cap[None, :])
        status[capped] = CAP
        steps_used = np.where(stop | capped, t, steps_used)
        if (status != "").all():
            break
    status[status == ""] = CAP
    steps_used = np.where(steps_used == 0, int(cap.max()), steps_used)
    return Fit({k: v.cpu() for k, v in best.items()}, steps_used, best_step,
               status.astype(str), start, best_loss, history)


def peak_budget(M: int, learning_rate: float, cap: int, clip: float, eval_every: int,
                patience: int, tolerance: float = 1e-3, reductions: int = 0) -> Budget:
    """The same budget for M models."""
    return Budget(np.full(M, float(learning_rate)), np.full(M, int(cap)), np.full(M, float(clip)),
                  int(eval_every), int(patience), float(tolerance), int(reductions))
