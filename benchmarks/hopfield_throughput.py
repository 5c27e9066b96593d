"""Retrieval throughput of the Hopfield models, against this machine's matmul rate and numpy.

    python benchmarks/hopfield_throughput.py              # N = 2000, M = 1000, 100 cues, 1 thread
    python benchmarks/hopfield_throughput.py --N 1000 --M 1000 --cues 200 --threads 2

For each model, one synchronous update of ``cues`` states against M stored patterns of N
neurons (``model.step``, the patterns prepared once, as the capacity search does), timed as the
median of ``--repeats`` runs. Reported:
- the fraction of this machine's matmul rate reached: the time this machine's matmul takes for
  the step's matmuls (overlaps h = S Xi^T and the field, each B x N x M multiply-adds; the
  projection rule: S P, B x N x N), measured in the same run at the same shapes and in the same
  dtypes as the model uses them (float32 wherever its integers stay exact, float64 else),
  divided by the step's measured time: 100% means the step costs no more than its matmuls;
- numpy: the same update written the way a careful researcher would in numpy, with the same
  matmuls (overlaps, then the field), in float64, the patterns prepared once too; its time and
  the model's speed-up over it.
Both give the same states (checked before timing). Prints a table; nothing is written.
At M >= N the patterns span R^N and the projection rule's attention map is the identity (its
zero-diagonal field is 0 exactly): use M < N for those models (the default).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable


def _threads() -> int:
    """--threads, read before numpy and torch are imported (their BLAS reads it at import)."""
    for i, arg in enumerate(sys.argv):
        if arg == "--threads" and i + 1 < len(sys.argv):
            return int(sys.argv[i + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return 1


for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(_threads())

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ols_transformer import hopfield as hp  # noqa: E402
from ols_transformer.hopfield_theory import MODEL_NAMES, PROJECTION_MODELS, spec  # noqa: E402


def numpy_prepare(name: str, patterns: np.ndarray) -> np.ndarray:
    """What the numpy update needs of the patterns: the projector for the projection rule."""
    if name not in PROJECTION_MODELS:
        return patterns
    P = np.linalg.pinv(patterns) @ patterns
    return P - np.diag(np.diag(P)) if name.endswith("zero_diag") else P


def numpy_step(name: str, state: np.ndarray, patterns: np.ndarray,
               softmax_beta: float = 1.0) -> np.ndarray:
    """One synchronous update in numpy: overlaps h = S Xi^T, then the field as one matmul
    (``patterns`` from ``numpy_prepare``)."""
    if name in PROJECTION_MODELS:
        field = state @ patterns
        return np.where(field > 1e-9, 1.0, np.where(field < -1e-9, -1.0, state))
    h = state @ patterns.T
    if name == "softmax":
        z = softmax_beta * h
        w = np.exp(z - z.max(axis=1, keepdims=True))
        return (w / w.sum(axis=1, keepdims=True)) @ patterns
    if name == "linear_attention":
        field = h @ patterns
    else:
        degree = spec(name).degree
        if degree is None:  # exp energy: g(a) ~ e^a, shifted by the row maximum
            E = np.exp(h - h.max(axis=1, keepdims=True))
            field = E @ patterns - np.tanh(1.0) * state * E.sum(axis=1, keepdims=True)
        else:  # g(h-1) + g(h+1) and g(h-1) - g(h+1), from g(a) = ((a+1)^n - (a-1)^n) / 2
            plus = ((h + 2) ** degree - (h - 2) ** degree) / 2
            minus = h**degree - ((h + 2) ** degree + (h - 2) ** degree) / 2
            field = plus @ patterns + state * minus.sum(axis=1, keepdims=True)
    return np.where(field > 0, 1.0, np.where(field < 0, -1.0, state))


def median_seconds(call: Callable[[], object], repeats: int, sync: Callable[[], None]) -> float:
    call()  # warm-up: first-call allocations, CUDA context
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_seconds(B: int, N: int, M: int, dtype: torch.dtype, device: str,
                   repeats: int) -> float:
    """This machine's time for (B x N) @ (N x M) in ``dtype``."""
    a = torch.randn(B, N, dtype=dtype, device=device)
    b = torch.randn(N, M, dtype=dtype, device=device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    return median_seconds(lambda: a @ b, repeats, sync)


def step_matmuls(name: str, prepared: object) -> list[tuple[str, str]]:
    """The matmuls of one step, as (shape, dtype): "BNM" for (B x N) @ (N x M), "BNN" for
    (B x N) @ (N x N)."""
    if name in PROJECTION_MODELS:
        return [("BNN", "float64")]
    if isinstance(prepared, hp.Prepared):  # energy models: overlaps in float32, then the field
        return [("BNM", "float32"), ("BNM", str(prepared.field.dtype).removeprefix("torch."))]
    dtype = str(prepared.dtype).removeprefix("torch.")  # linear attention, softmax
    return [("BNM", dtype), ("BNM", dtype)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--N", type=int, default=2000, help="neurons")
    parser.add_argument("--M", type=int, default=1000, help="stored patterns")
    parser.add_argument("--cues", type=int, default=100, help="states updated at once")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="torch and numpy BLAS threads")
    parser.add_argument("--models", nargs="+", default=list(MODEL_NAMES), choices=MODEL_NAMES)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rng = np.random.default_rng(0)
    patterns = 2.0 * rng.integers(0, 2, size=(args.M, args.N)) - 1.0
    states = 2.0 * rng.integers(0, 2, size=(args.cues, args.N)) - 1.0
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    B, N, M = args.cues, args.N, args.M
    print(f"N={N} M={M} cues={B} repeats={args.repeats} threads={args.threads}; torch "
          f"{torch.__version__}, numpy {np.__version__}; devices {', '.join(devices)}")
    shapes = {"BNM": (B, N, M), "BNN": (B, N, N)}
    machine = {(d, shape, dt): matmul_seconds(*shapes[shape], getattr(torch, dt), d,
                                              args.repeats)
               for d in devices for shape in shapes for dt in ("float32", "float64")}
    for (d, shape, dt), seconds in machine.items():
        b, n, m = shapes[shape]
        print(f"machine matmul, {d} {dt}, ({b} x {n}) @ ({n} x {m}): {1e3 * seconds:.2f} ms "
              f"= {2 * b * n * m / seconds / 1e9:.1f} GFLOP/s")
    print(f"{'model':<25}{'device':>7}{'dtypes':>18}{'step (ms)':>11}{'matmuls (ms)':>14}"
          f"{'of matmul':>11}{'numpy (ms)':>12}{'speed-up':>10}")
    for name in args.models:
        model = hp.make_model(name)
        reference_patterns = numpy_prepare(name, patterns)
        reference = numpy_step(name, states, reference_patterns)
        numpy_s = median_seconds(lambda n=name, r=reference_patterns: numpy_step(n, states, r),
                                 args.repeats, lambda: None)
        for device in devices:
            P = torch.tensor(patterns, dtype=hp.DTYPE, device=device)
            S = torch.tensor(states, dtype=hp.DTYPE, device=device)
            prepared = model.prepare(P)
            got = model.step(S, prepared).cpu().numpy()
            if not np.allclose(got, reference, rtol=1e-9, atol=1e-9):
                raise SystemExit(f"{name} on {device}: torch and numpy updates differ")
            sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
            seconds = median_seconds(lambda m=model, p=prepared, s=S: m.step(s, p),
                                     args.repeats, sync)
            matmuls = step_matmuls(name, prepared)
            ideal = sum(machine[(device, shape, dt)] for shape, dt in matmuls)
            dtypes = "+".join(dt for _, dt in matmuls)
            print(f"{name:<25}{device:>7}{dtypes:>18}{1e3 * seconds:>11.2f}{1e3 * ideal:>14.2f}"
                  f"{100 * ideal / seconds:>10.0f}%{1e3 * numpy_s:>12.2f}"
                  f"{numpy_s / seconds:>9.1f}x")


if __name__ == "__main__":
    main()
