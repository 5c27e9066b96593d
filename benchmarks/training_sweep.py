"""Time the Figure-1 sensitivity sweep (rule training_sweep) on one CPU thread.

    python benchmarks/training_sweep.py                      # the default config's grid
    python benchmarks/training_sweep.py --config config/quick.yaml

Trains every point of ``training.sweep`` (parameterisations x learning rates x w0 x input scales
x n x seeds,
``sweep.epochs`` epochs each) the way the rule does, at once in one batched loop, and prints the
wall time, the cost per epoch and per point-epoch, and per parameterisation the share of
trainings aligned within 1000 epochs with no MSE rise and its region in (lr/w*, w0/w*).
Nothing is written.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import yaml

from ols_transformer.checks.training import sweep_checks
from ols_transformer.experiments import training

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None,
                        help="a config file merged over config/config.yaml")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["training"]
    if args.config:
        override = yaml.safe_load(args.config.read_text()).get("training", {})
        cfg = {**cfg, **override, "sweep": {**cfg["sweep"], **override.get("sweep", {})},
               "criteria": {**cfg["criteria"], **override.get("criteria", {})}}
    torch.set_num_threads(1)
    grid = cfg["sweep"]
    points = (len(grid["parameterisations"]) * len(grid["learning_rates"]) * len(grid["w0"])
              * len(grid["x_scales"]) * len(grid["n"]) * len(grid["seeds"]))
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        table = training.sweep(cfg)
        times.append(time.perf_counter() - start)
    best, epochs = min(times), int(grid["epochs"])
    print(f"torch {torch.__version__}, 1 thread; {points} grid points x {epochs} epochs")
    print("wall time (s), each run: " + ", ".join(f"{t:.2f}" for t in times))
    print(f"best: {best:.2f} s = {1e3 * best / epochs:.2f} ms per epoch = "
          f"{1e9 * best / (epochs * points):.0f} ns per point-epoch")
    for check in sweep_checks(table, cfg["criteria"]):
        print(f"{check.check}: {check.value:.3f} ({check.holds_where}; {check.detail})")


if __name__ == "__main__":
    main()
