"""CPU seconds of each part of the attention_regression stage on one core, and the stage's tables.

Usage: python benchmarks/attention_regression_parts.py [OVERRIDE.yaml] [PART,PART,...]
OVERRIDE: a YAML file whose attention_regression section is merged over config/config.yaml's.
"""

from __future__ import annotations

import sys
import time

import pandas as pd
import torch

from ols_transformer.config import attention_regression_parts, merged_config_files
from ols_transformer.experiments import attention_regression as experiment


def section(override: str | None) -> dict:
    """config/config.yaml's attention_regression section, with ``override``'s merged on top."""
    files = ["config/config.yaml", *([override] if override else [])]
    return merged_config_files(files)["attention_regression"]


def main(argv: list[str]) -> None:
    torch.set_num_threads(1)  # as every job runs
    cfg = section(argv[0] if argv and argv[0] else None)
    parts = attention_regression_parts(cfg)
    if len(argv) > 1:
        parts = [part for part in parts if part in argv[1].split(",")]
    pieces, start = [], time.process_time()
    for part in parts:
        began = time.process_time()
        pieces.append(experiment.run_part(cfg, part))
        print(f"{part}: {time.process_time() - began:.1f} s", flush=True)
    print(f"total: {time.process_time() - start:.1f} s CPU")
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    for name, table in experiment.gather(cfg, pieces).items():
        print(name)
        print(table.to_string()[:3000])


if __name__ == "__main__":
    main(sys.argv[1:])
