"""Retrieval throughput of the Hopfield models: the batched torch update against plain numpy.

    python benchmarks/hopfield_throughput.py                 # defaults below, CPU (and CUDA)
    python benchmarks/hopfield_throughput.py --N 200 --M 400 --cues 256 --threads 1

For each model, one synchronous update of ``cues`` states against M stored patterns of N
neurons, timed as the median of ``--repeats`` runs, reported as pattern-neuron updates per
second (cues x M x N per step / seconds). Compared in the same run:
- torch: ``hopfield.make_model(name).step`` (one matmul identity, O(B M) memory), on the CPU and,
  when torch sees one, on CUDA;
- numpy: the same update as a careful researcher would write it in numpy: the overlaps and the
  field as two matmuls per step (``numpy_step`` below).
Both give the same states (checked before timing). Prints a table; nothing is written.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from ols_transformer import hopfield as hp
from ols_transformer.hopfield_theory import MODEL_NAMES, spec


def numpy_step(name: str, state: np.ndarray, patterns: np.ndarray,
               softmax_beta: float = 1.0) -> np.ndarray:
    """One synchronous update in numpy: overlaps h = S Xi^T, then the field as one matmul."""
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
            top = h.max(axis=1, keepdims=True)
            below, above = np.exp(h - 1 - top), np.exp(h + 1 - top)
        else:  # g(a) = ((a+1)^n - (a-1)^n) / 2
            below, above = ((h ** degree - (h - 2) ** degree) / 2,
                            ((h + 2) ** degree - h ** degree) / 2)
        field = 0.5 * ((below + above) @ patterns + state * (below - above).sum(1, keepdims=True))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--N", type=int, default=100, help="neurons")
    parser.add_argument("--M", type=int, default=200, help="stored patterns")
    parser.add_argument("--cues", type=int, default=200, help="states updated at once")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="torch CPU threads (numpy uses its BLAS default)")
    parser.add_argument("--models", nargs="+", default=list(MODEL_NAMES), choices=MODEL_NAMES)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rng = np.random.default_rng(0)
    patterns = 2.0 * rng.integers(0, 2, size=(args.M, args.N)) - 1.0
    states = 2.0 * rng.integers(0, 2, size=(args.cues, args.N)) - 1.0
    work = args.cues * args.M * args.N  # pattern-neuron updates per step
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"N={args.N} M={args.M} cues={args.cues} repeats={args.repeats} "
          f"torch {torch.__version__} threads={args.threads} numpy {np.__version__}; "
          f"devices {', '.join(devices)}")
    header = f"{'model':<17}{'numpy (upd/s)':>15}"
    header += "".join(f"{'torch ' + d + ' (upd/s)':>22}{'speed-up':>10}" for d in devices)
    print(header)
    for name in args.models:
        model = hp.make_model(name)
        reference = numpy_step(name, states, patterns)
        numpy_s = median_seconds(lambda n=name: numpy_step(n, states, patterns),
                                 args.repeats, lambda: None)
        line = f"{name:<17}{work / numpy_s:>15.3g}"
        for device in devices:
            P = torch.tensor(patterns, dtype=hp.DTYPE, device=device)
            S = torch.tensor(states, dtype=hp.DTYPE, device=device)
            got = model.step(S, P).cpu().numpy()
            if not np.allclose(got, reference, rtol=1e-9, atol=1e-9):
                raise SystemExit(f"{name} on {device}: torch and numpy updates differ")
            sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
            torch_s = median_seconds(lambda m=model, P=P, S=S: m.step(S, P), args.repeats, sync)
            line += f"{work / torch_s:>22.3g}{numpy_s / torch_s:>9.1f}x"
        print(line)


if __name__ == "__main__":
    main()
