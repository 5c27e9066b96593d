"""The attention_regression stage's gather: the parts' tables (attention_regression_part.py) in
part order, the comparison with the transcribed table, the checks and the figures."""

import logging
from pathlib import Path

import pandas as pd

from ols_transformer import checks
from ols_transformer.checks import attention_regression as ar_checks
from ols_transformer.experiments import attention_regression as experiment
from ols_transformer.io import write_table
from ols_transformer.plots import attention_regression as plots
from ols_transformer.plots.common import save_figure
from ols_transformer.stage import StageRun

smk = snakemake  # noqa: F821  (injected by Snakemake)
with StageRun(smk, "attention_regression") as run:
    pieces = [{path.stem: pd.read_csv(path) for path in sorted(Path(part).glob("*.csv"))}
              for part in smk.input.parts]
    tables = experiment.gather(run.cfg, pieces)
    criteria = checks.criteria_with_defaults(run.cfg.get("criteria"), ar_checks.DEFAULTS)
    summary = checks.frame(ar_checks.checks(tables, criteria))
    logging.getLogger("ols_transformer").info("attention_regression: %s",
                                              checks.headline(summary))
    for name in ("r2", "comparison", "identity", "optimisation", "kernel"):
        write_table(tables[f"ar_{name}"], smk.output[name])
    write_table(summary, smk.output.summary)
    cells = ar_checks.cell_verdicts(tables["ar_comparison"], criteria)
    for name, figure in plots.figures(tables, cells).items():
        save_figure(figure, smk.output[f"{name}_pdf"], smk.output[f"{name}_png"])
