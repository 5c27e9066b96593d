"""Attention Regression's speed on one core: the machine's one-thread float32 matmul rate, the
training kernel (loss and gradient, ``attention_regression.TrainingLoss``) per evaluation
and its rate against that matmul rate, and whole fits: fits per core-minute at N = 500 and 1000
and the share of a fit's time spent in the kernel (the rest: LBFGS's own work, the line search
and the predictions).

Usage: python benchmarks/attention_regression_speed.py [SEEDS]   (SEEDS: fits per N, default 2)
Time is process time of this one thread throughout (min over repeats for the matmul and the
kernel, so other processes on a shared machine inflate it less; cache contention still does);
the numbers change with the machine, so quote them beside
the matmul rate printed first.
"""

from __future__ import annotations

import sys
import time

import torch

from ols_transformer import attention_regression as ar


def matmul_gflops(n: int = 1000, repeats: int = 20) -> float:
    """One thread's float32 (n x n) @ (n x n) rate, best of ``repeats``."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        a @ b
        best = min(best, time.process_time() - start)
    return 2 * n**3 / best / 1e9


def kernel_flops(n: int, heads: int, p: int = ar.P) -> float:
    """Multiply-adds x 2 of one evaluation: the scores (n x n x p), W [y, y B, B] (n x n x
    (1 + 2p)), W^T [c A, c h A] (n x n x 2p), per head (the n x p embeddings are negligible)."""
    return 2.0 * heads * n * n * (p + 1 + 2 * p + 2 * p)


def kernel_seconds(n: int, heads: int, repeats: int = 30) -> float:
    """Best time of one loss-and-gradient evaluation at the warm start of a friedman1 draw."""
    draw = ar.simulate("friedman1", n, 2.0, 42)
    X = torch.tensor(draw.X, dtype=torch.float32)
    y = torch.tensor((draw.y - draw.y.mean()) / draw.y.std(), dtype=torch.float32)
    theta = ar.initial_L(X, heads, 0.05, 42)
    alpha = torch.full((heads,), 1.0 / heads)
    loss = ar.TrainingLoss(X, y, heads, 1e-3)
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        loss(theta, alpha)
        best = min(best, time.process_time() - start)
    return best


def count_evaluations() -> tuple[list[int], object]:
    """Wrap the kernel to count its calls (restore with the returned original)."""
    calls = [0]
    original = ar.TrainingLoss.__call__

    def counted(*args: object, **kwargs: object) -> object:
        calls[0] += 1
        return original(*args, **kwargs)  # type: ignore[arg-type]

    ar.TrainingLoss.__call__ = counted  # type: ignore[method-assign]
    return calls, original


def main(argv: list[str]) -> None:
    torch.set_num_threads(1)  # as every job runs
    seeds = int(argv[0]) if argv else 2
    rate = matmul_gflops()
    print(f"one-thread float32 matmul (1000 x 1000): {rate:.1f} GFLOPS")
    settings = ar.AttentionSettings()
    for n in (500, 1000):
        per_eval = kernel_seconds(n, settings.heads)
        flops = kernel_flops(n, settings.heads)
        print(f"N = {n}: kernel {per_eval * 1e3:.2f} ms per evaluation, {flops / 1e6:.0f} MFLOP, "
              f"{flops / per_eval / 1e9:.1f} GFLOPS = {flops / per_eval / 1e9 / rate:.0%} of the "
              "matmul rate (the rest: the n^2 exponentials of the softmax)")
        calls, original = count_evaluations()
        fit_time, evaluations, steps = 0.0, 0, 0
        try:
            for seed in range(seeds):
                draw = ar.simulate("friedman1", n, 2.0, 42 + 1000 * seed)
                start = time.process_time()
                fit = ar.fit_attention(draw.X, draw.y, settings, 42 + 1000 * seed)
                fit_time += time.process_time() - start
                steps += fit.steps
            evaluations = calls[0]
        finally:
            ar.TrainingLoss.__call__ = original  # type: ignore[method-assign]
        print(f"N = {n}: {seeds} friedman1 fits (SNR 2), {fit_time / seeds:.2f} s per fit, "
              f"{60 * seeds / fit_time:.1f} fits per core-minute; {evaluations / seeds:.0f} "
              f"evaluations and {steps / seeds:.0f} LBFGS steps per fit; "
              f"{evaluations * per_eval / fit_time:.0%} of a fit's time in the kernel (at its "
              "best time: the rest is LBFGS's own work and the loss's slower calls)")


if __name__ == "__main__":
    main(sys.argv[1:])
