"""CPU seconds of each part of the icl stage on one core (as every job runs), and its models'
convergence.

Usage: python benchmarks/icl_parts.py [CONFIG.yaml] [PART,PART,...]
CONFIG: a YAML file whose icl section is merged over config/config.yaml's (default: none).
Process time of ``experiments.icl.run_part`` per part (``config.icl_parts``), then the total.
"""

from __future__ import annotations

import sys
import time

import torch

from ols_transformer.config import icl_parts, merged_config_files
from ols_transformer.experiments import icl as experiment


def section(override: str | None) -> dict:
    """config/config.yaml's icl section, with ``override``'s merged on top."""
    files = ["config/config.yaml", *([override] if override else [])]
    return merged_config_files(files)["icl"]


def main(argv: list[str]) -> None:
    torch.set_num_threads(1)  # as every job runs
    cfg = section(argv[0] if argv and argv[0] else None)
    parts = icl_parts(cfg)
    if len(argv) > 1:
        parts = [part for part in parts if part in argv[1].split(",")]
    start = time.process_time()
    for part in parts:
        began = time.process_time()
        tables = experiment.run_part(cfg, part)
        conv = tables["icl_convergence"]
        kept = conv[conv["kept"]]
        print(f"{part}: {time.process_time() - began:.1f} s; kept {len(kept)}, of them "
              f"converged {int((kept['status'] == 'converged').sum())}; starts tried "
              f"{len(conv)}", flush=True)
    print(f"total: {time.process_time() - start:.1f} s CPU")


if __name__ == "__main__":
    main(sys.argv[1:])
